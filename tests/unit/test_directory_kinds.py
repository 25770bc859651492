"""Open agency kinds: a directory declares its own kinds (a commune's hamlets, a ward's residential groups) with
Vietnamese display names; the seven default kinds need no declaration, so existing directories keep working; a
kind nobody declared is refused, naming the agency; routing keys and plans take the new kinds."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from services.intake.documents.parser import parse_text
from services.intake.documents.to_submission import to_submission
from services.intake.domain import register_plan
from shared.contracts.events import DEFAULT_AGENCY_KINDS, Agency, AgencyRef, AssignmentCreated
from shared.domain.directory import Directory, DirectoryError
from shared.platform.directory_store import changes_between
from tests.unit.test_directory import vietnamese
from tests.unit.test_intake_domain import WARD

COMMUNE = """
kinds:
  thon: Thôn
  party_cell: Chi bộ Đảng
agencies:
  - {code: ubnd-xa, kind: ubnd, name: Ủy ban nhân dân xã Thử Nghiệm, aliases: [UBND xã], emails: [ubnd@xa.example]}
  - {code: thon-dong, kind: thon, name: Thôn Đông, parent: ubnd-xa, emails: [dong@xa.example]}
  - {code: thon-tay, kind: thon, name: Thôn Tây, parent: ubnd-xa, emails: [tay@xa.example]}
  - {code: chi-bo-dong, kind: party_cell, name: Chi bộ thôn Đông, parent: ubnd-xa}
groups:
  - {code: cac-thon, name: Các thôn, member_kinds: [thon]}
"""

PLAN = """ỦY BAN NHÂN DÂN XÃ THỬ NGHIỆM
Số 05/KH-UBND
Xã Thử Nghiệm, ngày 02 tháng 3 năm 2026

KẾ HOẠCH
làm đường giao thông nông thôn năm 2026

I. MỤC ĐÍCH, YÊU CẦU
- Cứng hóa đường thôn.

II. TỔ CHỨC THỰC HIỆN
1. Thôn Đông: Huy động Nhân dân làm đường, báo cáo kết quả trước ngày 30/6/2026.
2. Các thôn: Vận động các hộ gia đình hiến đất mở đường.

Nơi nhận:
- Lưu VT.

TM. ỦY BAN NHÂN DÂN
CHỦ TỊCH
"""


def commune(tmp_path: Path, text: str = COMMUNE) -> Directory:
    path = tmp_path / "directory.yaml"
    path.write_text(text, encoding="utf-8")
    return Directory.load(path)


def test_a_directory_declares_its_own_kinds_with_vietnamese_names(tmp_path: Path) -> None:
    directory = commune(tmp_path)
    assert directory.declared_kinds == {"party_cell": "Chi bộ Đảng", "thon": "Thôn"}
    assert directory.kind_name("thon") == "Thôn" and directory.kind_name("party_cell") == "Chi bộ Đảng"
    assert directory.kind_name("ubnd") == DEFAULT_AGENCY_KINDS["ubnd"] == "Ủy ban nhân dân"
    assert [a.code for a in directory.resolve("Các thôn")] == ["thon-dong", "thon-tay"]
    again = tmp_path / "again.yaml"
    again.write_text(yaml.safe_dump(directory.to_file().model_dump(mode="json"), allow_unicode=True), "utf-8")
    assert Directory.load(again).to_file() == directory.to_file()


def test_the_seven_default_kinds_need_no_declaration() -> None:
    assert WARD.declared_kinds == {} and set(WARD.kinds) == set(DEFAULT_AGENCY_KINDS)
    assert "kinds" not in WARD.to_file().model_dump(exclude_defaults=True)


def test_a_kind_nobody_declared_is_refused_naming_the_agency_and_the_group(tmp_path: Path) -> None:
    undeclared = COMMUNE.replace("  thon: Thôn\n", "")
    with pytest.raises(DirectoryError) as refused:
        commune(tmp_path, undeclared)
    message = vietnamese(refused.value)
    assert "Cơ quan thon-dong: loại “thon” chưa được khai báo" in message
    assert "Nhóm cac-thon: member_kinds có loại “thon”" in message
    stored = Directory(list(commune(tmp_path).agencies.values()), [], strict=False)  # read back without its kinds
    assert any("thon-tay" in problem.vi and "thon-tay" in problem.en for problem in stored.problems)


def test_an_edit_keeps_the_declared_kinds_and_a_new_kind_is_a_change(tmp_path: Path) -> None:
    directory = commune(tmp_path)
    edited = directory.with_agency(Agency(code="thon-nam", kind="thon", name="Thôn Nam", parent="ubnd-xa"))
    assert edited.declared_kinds == directory.declared_kinds
    wider = Directory(
        list(edited.agencies.values()), list(edited.groups.values()), kinds={**edited.declared_kinds, "xom": "Xóm"}
    )
    assert changes_between(edited, wider)["kinds"] == {"xom": "Xóm"}
    assert changes_between(directory, edited)["kinds"] == {}


def test_a_plan_assigns_work_to_a_declared_kind_and_routes_by_it(tmp_path: Path) -> None:
    directory = commune(tmp_path)
    plan = parse_text(PLAN, directory, date(2026, 3, 2))
    assert [(a.agency, a.kind) for a in plan.assignments] == [
        ("thon-dong", "thon"),
        ("thon-dong", "thon"),
        ("thon-tay", "thon"),
    ]
    _, events = register_plan(to_submission(plan), directory, date(2026, 3, 2), 100)
    created = [e for e in events if isinstance(e, AssignmentCreated)]
    assert sorted(e.routing_key() for e in created) == [
        "assignment.created.thon.thon-dong",
        "assignment.created.thon.thon-tay",
    ]
    assert AgencyRef.model_validate({"code": "x", "kind": "to_dan_pho", "name": "Tổ dân phố 3"}).kind == "to_dan_pho"
