"""The agency directory: name normalisation, resolving codes, names and groups, supervisors, and a clear
DirectoryError for every way a directory file can be wrong."""

from __future__ import annotations

import re
import unicodedata
import uuid
from pathlib import Path

import pytest
import yaml

from shared.domain.directory import (
    Agency,
    Directory,
    DirectoryError,
    Group,
    StillReferenced,
    UnknownAgency,
    normalise_name,
)
from shared.domain.wording import Wording, wording_of
from shared.platform.directory_store import changes_between

WARD = Directory.load(Path(__file__).resolve().parents[2] / "deploy" / "local" / "directory.yaml")


def code() -> str:
    return f"cq-{uuid.uuid4().hex[:8]}"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / f"{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --- normalisation ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("Uỷ ban nhân dân", "ủy ban nhân dân"),
        ("ỦY BAN NHÂN DÂN", "ủy ban nhân dân"),
        (unicodedata.normalize("NFD", "Uỷ ban nhân dân"), "ủy ban nhân dân"),
        ("Bộ phận Văn hoá", "bộ phận văn hóa"),
        ("Khu phố Hoà Bình", "khu phố hòa bình"),
        ("  Đảng   ủy\tphường. ", "đảng ủy phường"),
        ("“Chi bộ số 1”: ", "chi bộ số 1"),
        ("Ban Tuyên giáo, Dân vận; 'A'", "ban tuyên giáo dân vận a"),
        ("Hội Nông dân - phường", "hội nông dân - phường"),
    ],
)
def test_normalise_name(written: str, normalised: str) -> None:
    assert normalise_name(written) == normalised
    assert unicodedata.is_normalized("NFC", normalise_name(written))


def test_the_old_and_new_spellings_normalise_alike() -> None:
    old, new = "Ủy ban Kiểm tra Đảng uỷ, Văn phòng hoá đơn", "Ủy ban Kiểm tra Đảng ủy, Văn phòng hóa đơn"
    assert normalise_name(old) == normalise_name(new) == normalise_name(unicodedata.normalize("NFD", old))


# --- resolving --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ubnd", "ubnd"),
        ("UBND", "ubnd"),
        ("Uỷ ban nhân dân phường", "ubnd"),
        ("Ủy ban nhân dân phường Hòa An", "ubnd"),
        ("ủy ban nhân dân phường hoà an", "ubnd"),
        ("Văn phòng Đảng ủy", "van-phong"),
        ("VPĐU", "van-phong"),
        ("Ban Tuyên giáo Quận ủy", "quan-uy-tuyen-giao"),
        ("Ban Tuyên giáo", "tuyen-giao"),
        ("hoi-phu-nu", "hoi-phu-nu"),
        ("Bộ phận Văn hoá - Thông tin", "van-hoa-thong-tin"),
    ],
)
def test_one_agency_by_code_name_or_alias(name: str, expected: str) -> None:
    assert [a.code for a in WARD.resolve(name)] == [expected]


def test_a_group_resolves_to_every_member() -> None:
    cells = WARD.resolve("Các chi bộ trực thuộc")
    assert {a.kind for a in cells} == {"party_cell"}
    assert len(cells) == 12 and len({a.code for a in cells}) == 12
    assert [a.code for a in WARD.resolve("chi bộ trực thuộc")] == [a.code for a in cells]
    front = [a.code for a in WARD.resolve("Ủy ban Mặt trận Tổ quốc và các tổ chức chính trị - xã hội phường")]
    assert front[0] == "mttq"  # named members first, then by kind
    assert sorted(front[1:]) == ["cong-doan", "doan-thanh-nien", "hoi-cuu-chien-binh", "hoi-nong-dan", "hoi-phu-nu"]


def test_a_member_named_and_matching_a_kind_is_listed_once() -> None:
    cell, other = code(), code()
    directory = Directory(
        [Agency(code=cell, kind="party_cell", name="Chi bộ A"), Agency(code=other, kind="party_cell", name="Chi bộ B")],
        [Group(code="nhom", name="Nhóm chi bộ", members=(other,), member_kinds=("party_cell",))],
    )
    assert [a.code for a in directory.resolve("nhóm chi bộ")] == [other, cell]
    assert [a.code for a in directory.members("nhom")] == [other, cell]
    assert [a.code for a in directory.members(cell)] == [cell]


def test_an_unknown_name_raises_unknown_agency_naming_it() -> None:
    name = f"Hội Những người {uuid.uuid4().hex[:5]}"
    with pytest.raises(UnknownAgency, match=name):
        WARD.resolve(name)
    with pytest.raises(UnknownAgency, match="no agency with code 'khong-co'"):
        WARD.get("khong-co")


def test_supervisors_follow_the_parent_chain() -> None:
    assert WARD.supervisor("chi-bo-khu-1").code == "thuong-truc"
    assert WARD.supervisor("thuong-truc").code == "quan-uy-tuyen-giao"
    assert WARD.supervisor("hoi-nong-dan").code == "mttq"
    assert WARD.supervisor("quan-uy-tuyen-giao") is None
    with pytest.raises(UnknownAgency):
        WARD.supervisor("khong-co")


def test_an_agency_ref_is_what_events_carry() -> None:
    assert WARD.get("mttq").ref().model_dump() == {
        "code": "mttq",
        "kind": "fatherland_front",
        "name": "Ủy ban Mặt trận Tổ quốc Việt Nam phường",
    }


# --- loading ----------------------------------------------------------------------------------------------


def test_a_directory_loads_from_a_file(tmp_path: Path) -> None:
    top, cell = code(), code()
    path = write(
        tmp_path,
        f"""
agencies:
  - {{code: {top}, kind: office, name: Đảng ủy xã Thử, aliases: [ĐU xã]}}
  - code: {cell}
    kind: party_cell
    name: Chi bộ thôn Đông
    aliases: [Chi bộ Đông]
    emails: [dong@xa-thu.example]
    parent: {top}
groups:
  - {{code: chi-bo, name: Các chi bộ, member_kinds: [party_cell]}}
""",
    )
    directory = Directory.load(path)
    assert [a.code for a in directory.resolve("chi bộ đông")] == [cell]
    assert [a.code for a in directory.resolve("Các chi bộ")] == [cell]
    assert directory.supervisor(cell).code == top
    assert directory.get(cell).emails == ("dong@xa-thu.example",)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "agencies:\n  - {code: a, kind: office, name: A, parent: khong-co}\n",
            "agency a: parent 'khong-co' is not in the directory",
        ),
        (
            "agencies:\n  - {code: a, kind: office, name: A}\n  - {code: a, kind: ubnd, name: B}\n",
            "agency codes must be unique",
        ),
        (
            "agencies:\n  - {code: a, kind: office, name: A}\ngroups:\n  - {code: g, name: G, members: [b]}\n",
            "group g: member 'b' is not in the directory",
        ),
        ("agencies: [\n  - code: a\n", "is not valid YAML"),
        ("agencies:\n  - {code: a, kind: office, name: A, emial: [x@y]}\n", "is invalid"),
        ("agencies:\n  - {code: a, kind: chua_co, name: A}\n", "Cơ quan a: loại “chua_co” chưa được khai báo"),
        ("agencies:\n  - {code: a, kind: Thôn, name: A}\n", "is invalid"),  # not a routing-key word
        ("agencies:\n  - {code: 'Có dấu', kind: office, name: A}\n", "is invalid"),
        ("", "is invalid"),
        ("- just\n- a list\n", "is invalid"),
    ],
    ids=[
        "unknown-parent",
        "duplicate-codes",
        "unknown-member",
        "bad-yaml",
        "unknown-field",
        "undeclared-kind",
        "kind-not-a-word",
        "bad-code",
        "empty",
        "not-a-mapping",
    ],
)
def test_every_broken_file_is_a_directory_error(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(DirectoryError) as caught:
        Directory.load(write(tmp_path, text))
    assert fragment in str(caught.value) or fragment in vietnamese(caught.value)


def vietnamese(exc: BaseException) -> str:
    """What a clerk reads of a refusal: the Vietnamese of its `Wording` (`str(exc)` is the English)."""
    said = wording_of(exc)
    assert isinstance(said, Wording), exc
    return said.vi


def test_a_missing_file_is_a_directory_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "khong-co.yaml"
    with pytest.raises(DirectoryError, match="cannot read the agency directory .*khong-co.yaml"):
        Directory.load(missing)


def test_an_unknown_parent_is_refused_when_built_in_code_too() -> None:
    with pytest.raises(DirectoryError, match="parent 'nobody'"):
        Directory([Agency(code="a", kind="office", name="A", parent="nobody")], [])


def test_duplicate_group_codes_are_refused(tmp_path: Path) -> None:
    text = """
agencies:
  - {code: a, kind: party_cell, name: Chi bộ A}
  - {code: b, kind: socio_political_org, name: Hội B}
groups:
  - {code: g, name: Các chi bộ, member_kinds: [party_cell]}
  - {code: g, name: Các đoàn thể, member_kinds: [socio_political_org]}
"""
    with pytest.raises(DirectoryError, match="unique"):
        Directory.load(write(tmp_path, text))


def test_a_file_not_in_utf8_is_a_directory_error(tmp_path: Path) -> None:
    path = tmp_path / "legacy.yaml"
    # "Đảng" in Windows-1258: Đ is 0xD0, then a, then the combining hook 0xD2 - not a valid UTF-8 sequence
    path.write_bytes(b"agencies:\n  - {code: a, kind: office, name: \xd0a\xd2ng}\n")
    with pytest.raises(DirectoryError, match="legacy.yaml"):
        Directory.load(path)


# --- editing (the HTTP routes build on these) ---------------------------------------------------------------


def test_an_edit_returns_a_new_checked_directory_and_leaves_the_old_one_alone() -> None:
    changed = WARD.with_agency(WARD.get("ubnd").model_copy(update={"emails": ("moi@hoa-an.example",)}))
    assert changed.get("ubnd").emails == ("moi@hoa-an.example",)
    assert WARD.get("ubnd").emails == ("ubnd@hoa-an.example",)
    assert changed.resolve("UBND phường")[0].emails == ("moi@hoa-an.example",)


def test_a_supervision_loop_is_refused_naming_the_loop() -> None:
    top = WARD.get("quan-uy-tuyen-giao").model_copy(update={"parent": "ubkt"})
    with pytest.raises(DirectoryError, match="loops: quan-uy-tuyen-giao → ubkt → thuong-truc → quan-uy-tuyen-giao"):
        WARD.with_agency(top)
    with pytest.raises(DirectoryError, match="loops"):
        WARD.with_agency(WARD.get("ubnd").model_copy(update={"parent": "ubnd"}))


def test_an_agency_others_name_cannot_be_removed() -> None:
    with pytest.raises(StillReferenced, match="supervises"):
        WARD.without_agency("thuong-truc")
    with pytest.raises(StillReferenced, match="ubnd is still a member of the group\\(s\\) cac-don-vi"):
        WARD.without_agency("van-hoa-thong-tin").without_agency("ubnd")  # no longer a supervisor, still named
    assert "chi-bo-khu-8" not in WARD.without_agency("chi-bo-khu-8").agencies
    with pytest.raises(UnknownAgency):
        WARD.without_agency("khong-co")


def test_an_agency_and_a_group_cannot_share_a_code() -> None:
    with pytest.raises(DirectoryError, match="group"):
        WARD.with_agency(Agency(code="chi-bo-truc-thuoc", kind="office", name="Trùng mã"))
    with pytest.raises(DirectoryError, match="agency"):
        WARD.with_group(Group(code="ubnd", name="Trùng mã"))


def test_the_difference_between_two_directories_names_only_what_changed() -> None:
    after = WARD.with_agency(WARD.get("ubnd").model_copy(update={"name": "UBND phường Hòa An"}))
    after = after.without_agency("chi-bo-khu-8").without_group("cac-don-vi")
    after = after.with_agency(Agency(code="chi-bo-moi", kind="party_cell", name="Chi bộ mới", parent="thuong-truc"))
    changes = changes_between(WARD, after)
    assert [a.code for a in changes["agencies"]] == ["chi-bo-moi", "ubnd"]
    assert changes == {**changes, "groups": [], "removed_agencies": ["chi-bo-khu-8"], "removed_groups": ["cac-don-vi"]}
    assert changes_between(WARD, WARD) == {
        "agencies": [],
        "groups": [],
        "removed_agencies": [],
        "removed_groups": [],
        "kinds": {},
    }


def test_an_exported_file_with_its_version_loads(tmp_path: Path) -> None:
    exported = {"version": 4, **WARD.to_file().model_dump(mode="json")}
    loaded = Directory.load(write(tmp_path, yaml.safe_dump(exported, allow_unicode=True)))
    assert loaded.to_file() == WARD.to_file()


# --- e-mail addresses and shared names (issue #20) ------------------------------------------------------------


def with_emails(*emails: str) -> Agency:
    return WARD.get("ubnd").model_copy(update={"emails": ("ubnd@hoa-an.example", *emails)})


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("a@x.example, b@y.example", "mỗi mục chỉ ghi một địa chỉ"),
        ("a@x.example;b@y.example", "mỗi mục chỉ ghi một địa chỉ"),
        ("", "địa chỉ trống"),
        ("   ", "địa chỉ trống"),
        ("nguyễn-văn-a@hoa-an.example", "phần trước @ có chữ có dấu"),
        ("van-phong@hoa-an", "không đúng cú pháp"),
        ("van-phong@may-chu.local", "tên dành riêng"),
        ("van-phong@localhost", "không đúng cú pháp"),
        ("van-phong@hoa-an.test", "tên dành riêng"),
        ("Văn phòng <van-phong@hoa-an.example>", "chỉ ghi địa chỉ"),
        ("van phong@hoa-an.example", "ký tự không được phép"),
        ("van-phong@hoa-an.example\n", "ký tự không được phép"),
        ("van-phong@hòa-an.example", "dạng ASCII, van-phong@xn--ha-an-"),
    ],
)
def test_an_email_field_that_is_not_one_valid_address_is_refused_naming_agency_and_field(
    address: str, reason: str
) -> None:
    with pytest.raises(DirectoryError) as caught:
        WARD.with_agency(with_emails(address))
    message = vietnamese(caught.value)
    assert "Cơ quan ubnd, trường emails[1]" in message and reason in message, message
    assert "Agency ubnd, emails[1]" in str(caught.value)


@pytest.mark.parametrize(
    "address", ["van-phong@hoa-an.gov.vn", "ubnd.phuong+baocao@hoa-an.example", "UBND@Hoa-An.Example", "a@b.example"]
)
def test_valid_addresses_are_kept_as_written(address: str) -> None:
    assert WARD.with_agency(with_emails(address)).get("ubnd").emails[1] == address


def test_a_huge_or_unencodable_address_is_quoted_back_short_and_encodable() -> None:
    with pytest.raises(DirectoryError) as caught:
        WARD.with_agency(with_emails("x" * 100_000 + "\ud800@hoa-an.example"))
    for message in (str(caught.value), vietnamese(caught.value)):
        assert len(message) < 1000 and "…" in message
        message.encode("utf-8")  # a lone surrogate would make the HTTP answer fail to render


def test_an_invalid_address_in_the_file_or_a_whole_directory_is_refused(tmp_path: Path) -> None:
    text = "agencies:\n  - {code: a, kind: office, name: A, emails: ['a@x.example, b@y.example']}\n"
    with pytest.raises(DirectoryError) as in_file:
        Directory.load(write(tmp_path, text))
    assert "Cơ quan a, trường emails[0]" in vietnamese(in_file.value)
    with pytest.raises(DirectoryError, match=r"Agency b, emails\[0\]") as whole:
        Directory([Agency(code="b", kind="office", name="B", emails=("b@y",))], [])
    assert "Cơ quan b, trường emails[0]" in vietnamese(whole.value)


@pytest.mark.parametrize(
    ("newcomer", "both"),
    [
        # an alias that is another agency's name, written the old way: it would take the name over
        (
            Agency(code="moi", kind="office", name="Cơ quan mới", aliases=("Uỷ ban nhân dân phường Hòa An",)),
            ("cơ quan moi (“Uỷ ban nhân dân phường Hòa An”)", "cơ quan ubnd (“Ủy ban nhân dân phường Hòa An”)"),
        ),
        # a name that is another agency's alias, in other case and spacing
        (
            Agency(code="moi", kind="office", name="  vpđu. "),
            ("cơ quan moi (“  vpđu. ”)", "cơ quan van-phong (“VPĐU”)"),
        ),
        # an alias that is another agency's code
        (
            Agency(code="moi", kind="office", name="Cơ quan mới", aliases=("UBKT",)),
            ("cơ quan moi (“UBKT”)", "cơ quan ubkt (“ubkt”)"),
        ),
        # an agency named like a group
        (
            Agency(code="moi", kind="office", name="Các chi bộ trực thuộc"),
            ("cơ quan moi (“Các chi bộ trực thuộc”)", "nhóm chi-bo-truc-thuoc (“Các chi bộ trực thuộc”)"),
        ),
    ],
    ids=["alias-is-a-name", "name-is-an-alias", "alias-is-a-code", "agency-named-like-a-group"],
)
def test_a_name_another_entry_uses_is_refused_naming_both(newcomer: Agency, both: tuple[str, str]) -> None:
    with pytest.raises(DirectoryError) as caught:
        WARD.with_agency(newcomer)
    message = vietnamese(caught.value)
    assert all(entry in message for entry in both), message
    assert "is used by more than one entry" in str(caught.value)
    assert WARD.resolve("Ủy ban nhân dân phường Hòa An")[0].code == "ubnd"


def test_a_group_named_like_an_agency_and_codes_shared_by_a_whole_directory_are_refused() -> None:
    with pytest.raises(DirectoryError, match="group moi .*agency ubnd|agency ubnd.*group moi") as caught:
        WARD.with_group(Group(code="moi", name="Nhóm mới", aliases=("UBND phường",)))
    assert re.search("nhóm moi .*cơ quan ubnd|cơ quan ubnd.*nhóm moi", vietnamese(caught.value))
    # PUT /directory builds the whole directory at once: an agency and a group with one code are refused there too
    same_code = [Agency(code="x", kind="office", name="X")], [Group(code="x", name="Nhóm X", members=("x",))]
    with pytest.raises(DirectoryError, match="agency x .* and group x") as caught:
        Directory(*same_code)
    assert re.search("cơ quan x .* và nhóm x", vietnamese(caught.value))


def test_an_entry_may_repeat_its_own_names_and_the_sample_ward_is_valid() -> None:
    own = Agency(code="moi", kind="office", name="Cơ quan mới", aliases=("Cơ quan mới", "CƠ QUAN MỚI", "moi"))
    assert WARD.with_agency(own).resolve("cơ quan mới")[0].code == "moi"
    assert WARD.problems == []


def test_the_benchmark_and_end_to_end_directories_are_valid(tmp_path: Path) -> None:
    from benchmarks.stack import write_directory

    assert len(Directory.load(write_directory(tmp_path / "directory.yaml", 50)).agencies) == 51


def test_a_stored_directory_with_old_problems_loads_and_is_mended_one_entry_at_a_time() -> None:
    """Entries stored before these checks existed: the service still starts with them (strict=False), an edit
    that leaves an old problem as it was is accepted, one that adds a problem is refused."""
    bad = Agency(code="cu", kind="office", name="Cơ quan cũ", aliases=("UBND",), emails=("a@x, b@y",))
    other = Agency(code="cu-2", kind="office", name="Cơ quan cũ 2", emails=("c@x",))
    agencies = [*WARD.agencies.values(), bad, other]
    with pytest.raises(DirectoryError):
        Directory(agencies, list(WARD.groups.values()))
    stored = Directory(agencies, list(WARD.groups.values()), strict=False)
    assert len(stored.problems) == 3
    renamed = stored.with_agency(bad.model_copy(update={"name": "Cơ quan cũ (đổi tên)"}))  # old problems unchanged
    mended = renamed.with_agency(other.model_copy(update={"emails": ("c@x.example",)}))
    assert len(mended.problems) == 2
    with pytest.raises(DirectoryError, match="agency moi"):
        mended.with_agency(Agency(code="moi", kind="office", name="Cơ quan cũ 2"))
    assert "cu" not in stored.without_agency("cu").agencies  # a removal never adds a problem


def test_the_checks_stay_fast_for_a_national_directory() -> None:
    import time

    agencies = [
        Agency(
            code=f"cq-{i}",
            kind="party_cell",
            name=f"Chi bộ số {i}",
            aliases=(f"CB {i}",),
            emails=(f"cq-{i}@x.example",),
        )
        for i in range(10_000)
    ]
    started = time.perf_counter()
    Directory(agencies, [])
    assert time.perf_counter() - started < 5.0
