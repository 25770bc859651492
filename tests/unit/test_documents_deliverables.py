"""What to deliver and where, and the section of each place: read from the plan's own words (NFC, as written),
carried by each assignment, `assignment.created` and the stored plan; the real plan reads as before."""

from __future__ import annotations

import unicodedata

import pytest
from pydantic import ValidationError

from services.intake.documents import ParsedPlan, parse_document
from services.intake.documents.parser import _send_to
from services.intake.documents.to_submission import to_submission
from services.intake.domain import PlanSubmission, register_plan
from shared.contracts.events import AssignmentCreated, DeliverableRequirement, Provenance
from tests.unit.documents_support import FIXTURES, REAL_PLAN, TODAY, directory

GREENING = (FIXTURES / "ward-greening-plan.txt").read_text(encoding="utf-8")
CLEANUP = (FIXTURES / "ward-cleanup-plan.txt").read_text(encoding="utf-8")
III = {"section": "III", "section_title": "TỔ CHỨC THỰC HIỆN"}
LINK = "https://drive.hoaan.gov.vn/bao-cao/47-KH"
# A reporting section of our own after the organisation section: files, a shared folder, a deadline.
REPORTING = (
    "IV. CHẾ ĐỘ THÔNG TIN, BÁO CÁO\n\n"
    "Các đơn vị gửi báo cáo kết quả trước ngày 10/12/2026 gồm 01 bản scan có chữ ký và 01 tệp Word qua thư mục "
    f"chia sẻ: {LINK}.\n\n"
)


def parsed(text: str, name: str = "plan.txt") -> ParsedPlan:
    plan = parse_document(text.encode(), name, directory(), TODAY)
    assert isinstance(plan, ParsedPlan)
    return plan


def line_of(text: str, start: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if line.startswith(start))


def with_reporting(text: str) -> str:
    return text.replace("Nơi nhận:", REPORTING + "Nơi nhận:")


def test_a_plan_wide_reporting_sentence_binds_every_body_with_its_files_and_recipient() -> None:
    plan = parsed(CLEANUP)
    line = line_of(CLEANUP, "Các đơn vị định kỳ gửi báo cáo")
    expected = DeliverableRequirement(
        items=("01 file word", "01 file scan"),
        send_to="Văn phòng Đảng ủy",
        wording=next(r.text for r in plan.reporting if r.line == line),
        provenance=Provenance(line=line, **III),
    )
    assert plan.assignments and all(expected in a.deliverables_required for a in plan.assignments)
    assert expected.wording.endswith("về Văn phòng Đảng ủy bằng 01 file word và 01 file scan.")


def test_a_shared_folder_link_in_a_section_of_its_own() -> None:
    text = with_reporting(GREENING)
    plan = parsed(text)
    line = line_of(text, "Các đơn vị gửi báo cáo kết quả")
    plan_wide = DeliverableRequirement(
        items=("01 bản scan có chữ ký", "01 tệp Word"),
        send_to=LINK,
        wording=text.splitlines()[line - 1],
        provenance=Provenance(line=line, section="IV", section_title="CHẾ ĐỘ THÔNG TIN, BÁO CÁO"),
    )
    by_body = {a.agency: a.deliverables_required for a in plan.assignments}
    assert by_body["tuyen-giao"] == [plan_wide]
    # Clause 1 asks for its own report to the Party committee: its bodies get that first, then the plan's rule.
    clause_1 = Provenance(clause="1", line=line_of(text, "1. UBND phường"), **III)
    assert [(d.items, d.send_to, d.provenance) for d in by_body["ubnd"]] == [
        ((), "Đảng ủy", clause_1),
        (("01 bản scan có chữ ký", "01 tệp Word"), LINK, plan_wide.provenance),
    ]


def test_a_clause_that_names_its_own_files() -> None:
    text = GREENING.replace(
        "sức khỏe cộng đồng.",
        "sức khỏe cộng đồng; gửi 02 bản giấy và 01 file PDF bài tuyên truyền tới Ban Tuyên giáo Quận ủy.",
    )
    plan = parsed(text)
    tuyen_giao = next(a for a in plan.assignments if a.agency == "tuyen-giao")
    assert [(d.items, d.send_to) for d in tuyen_giao.deliverables_required] == [
        (("02 bản giấy", "01 file PDF"), "Ban Tuyên giáo Quận ủy")
    ]
    mttq = next(a for a in plan.assignments if a.agency == "mttq")
    assert mttq.deliverables_required == []  # the plan asks nothing of every body


@pytest.mark.parametrize(
    ("sentence", "where"),
    [
        ("gửi báo cáo về Văn phòng Đảng ủy bằng 01 file word", "Văn phòng Đảng ủy"),
        ("báo cáo về kết quả thực hiện trước ngày 30/6", None),  # `về` a subject, not a recipient
        ("gửi bản mềm đến hộp thư vanphong.danguy@hoaan.gov.vn.", "vanphong.danguy@hoaan.gov.vn"),
        (
            "nộp qua đường dẫn https://example.vn/thu-muc?id=7, đồng thời gửi bản giấy",
            "https://example.vn/thu-muc?id=7",
        ),
        ("gửi về Thường trực Đảng ủy. Sau đó tổng hợp", "Thường trực Đảng ủy"),
        ("báo cáo tiến độ hằng tháng", None),
    ],
)
def test_where_to_send_as_written(sentence: str, where: str | None) -> None:
    assert _send_to(sentence) == where


def test_decomposed_text_is_published_composed() -> None:
    text = unicodedata.normalize("NFD", CLEANUP)
    plan = parsed(text)
    (requirement,) = {d for a in plan.assignments for d in a.deliverables_required}
    assert requirement.send_to == "Văn phòng Đảng ủy"
    for value in (requirement.send_to, requirement.wording, *requirement.items):
        assert unicodedata.is_normalized("NFC", value)


def test_deliverables_and_section_reach_assignment_created_and_the_stored_plan() -> None:
    text = with_reporting(GREENING)
    record, events = register_plan(to_submission(parsed(text)), directory(), TODAY, 100)
    created = {e.agency.code: e for e in events if isinstance(e, AssignmentCreated)}
    mttq = created["mttq"]
    assert [p.section for p in mttq.provenance] == ["III"]
    assert [(d.items, d.send_to) for d in mttq.deliverables_required] == [
        (("01 bản scan có chữ ký", "01 tệp Word"), LINK)
    ]
    assert mttq.deliverables_required[0].provenance is not None
    assert mttq.deliverables_required[0].provenance.section == "IV"
    stored = {a["agency"]: a for a in record["assignments"]}
    assert stored["mttq"]["deliverables_required"] == [d.model_dump(mode="json") for d in mttq.deliverables_required]


def test_a_structured_plan_gives_them_for_every_body_or_one() -> None:
    submission = PlanSubmission.model_validate(
        {
            "issuer": "dang-uy",
            "number": "12-KH/ĐU",
            "title": "Kế hoạch kiểm tra",
            "assignments": [
                {"agency": "ubnd", "task": "Rà soát."},
                {
                    "agency": "mttq",
                    "task": "Giám sát.",
                    "deliverables_required": [{"items": ["01 bản giấy"], "send_to": "Văn phòng Đảng ủy"}],
                },
            ],
            "deadlines": [{"period": "2026-H1", "due": "2026-06-30"}],
            "deliverables_required": [
                {"items": [unicodedata.normalize("NFD", "01 tệp Word")], "send_to": "https://example.vn/kh12"}
            ],
        }
    )
    record, events = register_plan(submission, directory(), TODAY, 100)
    created = {e.agency.code: e for e in events if isinstance(e, AssignmentCreated)}
    assert [(d.items, d.send_to) for d in created["ubnd"].deliverables_required] == [
        (("01 tệp Word",), "https://example.vn/kh12")
    ]
    assert [(d.items, d.send_to) for d in created["mttq"].deliverables_required] == [
        (("01 bản giấy",), "Văn phòng Đảng ủy")
    ]
    assert all("deliverables_required" in a for a in record["assignments"])


def test_a_structured_requirement_that_says_nothing_is_refused() -> None:
    with pytest.raises(ValidationError, match="items"):
        PlanSubmission.model_validate(
            {
                "issuer": "dang-uy",
                "number": "12-KH/ĐU",
                "title": "Kế hoạch kiểm tra",
                "assignments": [{"agency": "ubnd", "task": "Rà soát."}],
                "deliverables_required": [{"wording": "gửi báo cáo"}],
            }
        )


def test_a_plan_that_asks_nothing_publishes_nothing_and_stores_as_before() -> None:
    submission = PlanSubmission.model_validate(
        {
            "issuer": "dang-uy",
            "number": "12-KH/ĐU",
            "title": "Kế hoạch kiểm tra",
            "assignments": [{"agency": "ubnd", "task": "Rà soát."}],
            "deadlines": [{"period": "2026-H1", "due": "2026-06-30"}],
        }
    )
    record, events = register_plan(submission, directory(), TODAY, 100)
    assert "deliverables_required" not in record["assignments"][0]
    assert next(e for e in events if isinstance(e, AssignmentCreated)).deliverables_required == []


def test_the_real_plan_places_every_assignment_in_its_section_iii() -> None:
    if not REAL_PLAN.exists():
        pytest.skip("the real plan (../shared/plans) is not beside the repository")
    plan = parse_document(REAL_PLAN.read_bytes(), "plan-85.txt", directory(), TODAY)
    assert isinstance(plan, ParsedPlan)
    assert {(a.clause, a.provenance) for a in plan.assignments} == {
        (c.number, Provenance(clause=c.number, line=c.line, **III)) for c in plan.clauses
    }
    # It names no files and no recipient for reports: nothing is invented.
    assert all(a.deliverables_required == [] for a in plan.assignments)
    assert plan.reporting == []


def test_the_same_request_written_twice_is_listed_once_with_its_first_place() -> None:
    sentence = next(line for line in CLEANUP.splitlines() if line.startswith("Các đơn vị định kỳ gửi báo cáo"))
    again = sentence.replace("Các đơn vị định kỳ", "Nhắc lại: các đơn vị định kỳ")
    text = CLEANUP.replace("Nơi nhận:", f"{again}\n\nNơi nhận:")
    plan = parsed(text)
    assert len([r for r in plan.reporting if r.deliverables]) == 2
    for assignment in plan.assignments:
        (only,) = assignment.deliverables_required
        assert only.provenance is not None and only.provenance.line == line_of(text, "Các đơn vị định kỳ gửi báo cáo")
