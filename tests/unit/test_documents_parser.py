"""The parser on the real plan (when ../shared is there) and on the project's own sample plans, as text
and as Word files; each expected parse is written out here."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest

from services.intake.documents import parse_document
from services.intake.documents.errors import NotAPlan
from services.intake.documents.model import ParsedPlan
from services.intake.documents.parser import parse_text
from services.intake.documents.to_submission import UnresolvedBodies, to_submission
from services.intake.domain import PlanRejected, PlanSubmission, register_plan
from tests.fixtures.docx_plans import restarting_list_docx, task_table_docx, text_to_docx
from tests.unit.documents_support import FIXTURES, REAL_PLAN, TODAY, WeekdaysOnly, directory

CELLS = [
    "chi-bo-khu-1",
    "chi-bo-khu-2",
    "chi-bo-khu-3",
    "chi-bo-truong-thcs",
    "chi-bo-khu-4",
    "chi-bo-khu-5",
    "chi-bo-khu-6",
    "chi-bo-khu-7",
    "chi-bo-khu-8",
    "chi-bo-truong-tieu-hoc",
    "chi-bo-cong-an",
    "chi-bo-quan-su",
]
MASS = ["doan-thanh-nien", "hoi-phu-nu", "hoi-cuu-chien-binh", "hoi-nong-dan", "cong-doan"]


def parse(data: bytes, name: str) -> ParsedPlan:
    plan = parse_document(data, name, directory(), TODAY, WeekdaysOnly())
    assert isinstance(plan, ParsedPlan)
    return plan


def clauses(plan: ParsedPlan) -> list[tuple[str | None, str, list[str]]]:
    return [(c.number, c.mode, [a.code for a in c.agencies]) for c in plan.clauses]


def deadlines(plan: ParsedPlan) -> list[tuple[str, str, date, str]]:
    return [(d.kind, d.period, d.due, d.wording) for d in plan.deadlines]


@pytest.fixture(scope="module")
def real_plan() -> bytes:
    if not REAL_PLAN.exists():
        pytest.skip("the real plan (../shared/plans) is not beside the repository")
    return REAL_PLAN.read_bytes()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "nfd"])
def test_the_real_plan(real_plan: bytes, encoding: str) -> None:
    text = real_plan.decode("utf-8")
    data = unicodedata.normalize("NFD", text).encode() if encoding == "nfd" else text.encode(encoding)
    plan = parse(data, "plan-85.txt")
    assert plan.number is not None and plan.number.text == "85-KH/ĐU" and plan.number.line == 6
    assert plan.issued_on == date(2023, 3, 22)
    assert plan.place is not None and plan.place.text == "Phường Phương Liệt"  # the cut-off `Phương` restored
    assert plan.issuer is not None and plan.issuer.code == "dang-uy"
    assert plan.issuer.text == "Đảng ủy phường Phương Liệt"
    assert plan.campaign == "Người Việt Nam ưu tiên dùng hàng Việt Nam"
    assert [r.number for r in plan.references] == ["264-TB/TW", "03-CT/TW", "28/CT-TTg", "36/TT-MTTQ-BTT", "121-KH/QU"]
    assert plan.references[-1].issued_on == date(2023, 2, 14)
    assert clauses(plan) == [
        ("1", "request", ["ubnd"]),
        ("2", "assign", ["tuyen-giao"]),
        ("3", "assign", ["mttq", *MASS]),
        ("4", "assign", CELLS),
    ]
    assert [c.line for c in plan.clauses] == [42, 44, 46, 48]
    assert plan.clauses[1].task.startswith("Tham mưu giúp Đảng ủy xây dựng kế hoạch")
    assert {a.agency for a in plan.assignments} == {"ubnd", "tuyen-giao", "mttq", *MASS, *CELLS}
    assert len(plan.recipients) == 7 and plan.recipients[0].text == "Ban Tuyên giáo Quận ủy"
    assert "quan-uy-tuyen-giao" not in {a.agency for a in plan.assignments}
    assert plan.default_deadlines_applied
    assert deadlines(plan) == [
        ("default", "2023-FY", date(2023, 12, 31), "báo cáo năm, gửi trước ngày 01 tháng 01 năm 2024 (mặc định)")
    ]
    assert plan.signature is not None
    assert (plan.signature.on_behalf_of, plan.signature.role, plan.signature.name) == (
        "ĐẢNG ỦY",
        "BÍ THƯ",
        "Nguyễn Mai Chi",
    )
    assert plan.unresolved == []
    assert [n.line for n in plan.notes] == [50]  # the closing sentence assigns nothing, and says so


def test_the_real_plan_registers_through_the_same_path(real_plan: bytes) -> None:
    submission = to_submission(parse(real_plan, "plan-85.txt"))
    record, events = register_plan(submission, directory(), TODAY, 1000)
    assert record["issuer"] == "dang-uy" and record["number"] == "85-KH/ĐU"
    assert len(events) == 1 + 1 + 1 + 6 + 12
    assert all(e.deadlines[0].period == "2023-FY" for e in events[1:])  # type: ignore[attr-defined]


WARD_CLAUSES = [
    ("1", "request", ["ubnd"]),
    ("2", "assign", ["tuyen-giao"]),
    ("3", "assign", ["doan-thanh-nien", "hoi-phu-nu"]),
    ("4", "assign", CELLS),
    (None, "assign", ["ubnd", "mttq", *MASS, *CELLS]),
]


@pytest.mark.parametrize("kind", ["txt", "docx"])
def test_the_noisy_ward_plan(kind: str) -> None:
    text = (FIXTURES / "ward-cleanup-plan.txt").read_text(encoding="utf-8")
    plan = parse(text_to_docx(text) if kind == "docx" else text.encode(), f"ward.{kind}")
    assert plan.number is not None and plan.number.text == "12-KH/ĐU"  # doubled space in `Số  12-KH/ĐU`
    assert plan.issuer is not None and (plan.issuer.code, plan.issuer.source) == ("dang-uy", "header")
    assert plan.issued_on == date(2025, 2, 5)
    assert plan.title is not None and plan.title.text.startswith("Kế hoạch ra quân làm sạch đường phố")
    assert plan.campaign == "Phố xanh, nhà sạch"  # curly quotes and `*` emphasis gone
    assert [(r.number, r.issued_on) for r in plan.references] == [
        ("07-NQ/QU", date(2025, 1, 12)),
        ("15-HD/BTGQU", date(2025, 1, 20)),
    ]
    assert any("nơi công cộng và được tổ chức đều đặn" in p.text for p in plan.purpose)  # page break joined
    assert [s.heading for s in plan.content] == ["II. NỘI DUNG"]
    assert "2.1. Dọn dẹp các ngõ, ngách và khu vực công cộng." in [p.text for p in plan.content[0].paragraphs]
    assert clauses(plan) == WARD_CLAUSES
    assert plan.clauses[3].task.splitlines() == [
        "- Phổ biến kế hoạch trong buổi sinh hoạt chi bộ gần nhất.",
        "- Phân công đảng viên phụ trách từng tuyến ngõ.",
    ]
    assert [(d.kind, d.period, d.due) for d in plan.clauses[4].deadlines] == [
        ("date", "2025-D02-27", date(2025, 2, 27))
    ]
    assert [(d.kind, d.period, d.due) for d in plan.deadlines] == [
        ("semiannual", "2025-H1", date(2025, 6, 30)),
        ("annual", "2025-FY", date(2025, 12, 31)),
    ]
    assert plan.reporting[0].deliverables == ["01 file word", "01 file scan"]
    assert plan.reporting[0].report_to == ["van-phong"]
    assert [(u.phrase, u.where) for u in plan.unresolved] == [("Hội Người cao tuổi phường", "clause 3")]
    assert [r.text for r in plan.recipients] == [
        "Thường trực Quận ủy",
        "Thường trực Đảng ủy",
        "Như mục III",
        "Lưu VPĐU",
    ]
    assert plan.signature is not None and (plan.signature.role, plan.signature.name) == ("PHÓ BÍ THƯ", "Trần Văn Bình")


def test_unresolved_bodies_block_publishing_unless_skipped() -> None:
    plan = parse((FIXTURES / "ward-cleanup-plan.txt").read_bytes(), "ward.txt")
    with pytest.raises(UnresolvedBodies) as caught:
        to_submission(plan)
    assert "Hội Người cao tuổi phường" in caught.value.problems[0]["problem"]
    submission = to_submission(plan, skip_unresolved=True)
    assert isinstance(submission, PlanSubmission)
    cell = next(a for a in submission.assignments if a.agency == "chi-bo-khu-1")
    assert cell.deadlines is None  # the plan's reporting deadlines
    heads = [a for a in submission.assignments if a.agency == "ubnd"]
    assert heads[1].deadlines is not None and [d.period for d in heads[1].deadlines] == [
        "2025-D02-27",
        "2025-H1",
        "2025-FY",
    ]


@pytest.mark.parametrize("kind", ["txt", "docx"])
def test_every_deadline_form(kind: str) -> None:
    text = (FIXTURES / "ubnd-deadlines-plan.txt").read_text(encoding="utf-8")
    plan = parse(text_to_docx(text) if kind == "docx" else text.encode("utf-16"), f"ubnd.{kind}")
    assert plan.issuer is not None and plan.issuer.code == "ubnd"
    assert plan.number is not None and plan.number.text == "04/KH-UBND"
    assert plan.place is not None and plan.place.text == "Phường Hòa An"
    by_clause = {c.number: [(d.kind, d.period, d.due) for d in c.deadlines] for c in plan.clauses}
    assert by_clause["1"] == [("duration", "2024-D01-17", date(2024, 1, 17))]  # 5 working days from Wed 10 Jan
    assert by_clause["2"] == [("duration", "2024-D01-22", date(2024, 1, 22))]  # Sat 20 Jan → Mon 22 Jan
    assert by_clause["3"] == [("within_period", "2024-03", date(2024, 3, 31))]
    assert by_clause["4"] == [("within_period", "2024-Q4", date(2024, 12, 31))]
    assert by_clause["5"] == [("date", "2024-D04-14", date(2024, 4, 14))]
    assert by_clause["6"] == [("date", "2024-D05-19", date(2024, 5, 19))]
    assert by_clause["7"][0] == ("monthly", "2024-01", date(2024, 1, 24)) and len(by_clause["7"]) == 12
    assert by_clause["8"] == [("quarterly", f"2024-Q{q}", date(2024, 3 * q, 19)) for q in range(1, 5)]
    # from receipt: provisionally from "today" (Thursday 15 January 2026); Sunday 25 January → Monday 26
    assert by_clause["9"] == [("duration", "2024-R10D", date(2026, 1, 26))]
    from_receipt = plan.clauses[8].deadlines[0]
    assert (from_receipt.counted_from, from_receipt.start, from_receipt.days) == ("receipt", TODAY, 10)
    assert from_receipt.wording == "trong vòng 10 ngày kể từ ngày nhận được kế hoạch"
    assert from_receipt.note is not None and "tạm tính từ hôm nay (15/01/2026)" in from_receipt.note
    assert plan.clauses[0].deadlines[0].counted_from == "issue"
    assert plan.clauses[0].deadlines[0].calendar == "test-weekdays"
    assert [(d.kind, d.period, d.due) for d in plan.deadlines] == [("annual", "2024-FY", date(2025, 1, 14))]
    assert plan.reporting[0].report_to == ["ubnd"]
    assert plan.signature is not None and plan.signature.on_behalf_of == "ỦY BAN NHÂN DÂN"


@pytest.mark.parametrize("kind", ["txt", "docx"])
def test_a_plan_without_deadlines_gets_the_default(kind: str) -> None:
    text = (FIXTURES / "cell-meeting-plan.txt").read_text(encoding="utf-8")
    plan = parse(text_to_docx(text) if kind == "docx" else text.encode(), f"cell.{kind}")
    assert plan.issuer is not None and (plan.issuer.code, plan.issuer.source) == ("dang-uy", "signature")
    assert clauses(plan) == [(None, "assign", CELLS), (None, "request", ["mttq", *MASS])]
    assert plan.default_deadlines_applied
    assert [(d.kind, d.period, d.due) for d in plan.deadlines] == [("default", "2025-FY", date(2025, 12, 31))]
    assert [r.agencies for r in plan.recipients] == [["chi-bo-truc-thuoc"], ["van-phong"]]


def test_a_task_table_in_word() -> None:
    plan = parse(task_table_docx(), "table.docx")
    assert [(c.number, c.body, [a.code for a in c.agencies]) for c in plan.clauses] == [
        ("1", "Hội Nông dân", ["hoi-nong-dan"]),
        ("2", "Công đoàn cơ sở", ["cong-doan"]),
        ("3", "Hội Khuyến học", []),
    ]
    assert [[d.period for d in c.deadlines] for c in plan.clauses] == [["2025-D12-14"], ["2025-12"], ["2025-Q4"]]
    assert [(u.phrase, u.where) for u in plan.unresolved] == [("Hội Khuyến học", "clause 3")]


def test_text_that_is_not_a_plan_says_so() -> None:
    with pytest.raises(NotAPlan):
        parse_text("Xin chào, đây là thư mời họp phụ huynh.", directory(), TODAY)


def test_a_plan_with_no_organisation_section_is_reported_not_guessed() -> None:
    plan = parse_text("Số 3-KH/ĐU\n\nKẾ HOẠCH\ngiữ gìn vệ sinh", directory(), TODAY)
    assert plan.clauses == [] and plan.unresolved[0].where == "sections"
    with pytest.raises(UnresolvedBodies, match="thiếu thông tin"):
        to_submission(plan)


def test_the_deployments_default_applies_and_none_means_the_plan_must_name_its_deadline() -> None:
    text = (FIXTURES / "cell-meeting-plan.txt").read_text(encoding="utf-8").encode()
    semiannual = parse_document(text, "cell.txt", directory(), TODAY, WeekdaysOnly(), default_reporting="semiannual")
    assert isinstance(semiannual, ParsedPlan) and semiannual.default_deadlines_applied
    assert [d.period for d in semiannual.deadlines] == ["2025-H1", "2025-FY"]
    none = parse_document(text, "cell.txt", directory(), TODAY, WeekdaysOnly(), default_reporting="none")
    assert isinstance(none, ParsedPlan) and not none.default_deadlines_applied and none.deadlines == []
    submission = to_submission(none)
    with pytest.raises(PlanRejected) as refused:
        register_plan(submission, directory(), TODAY, 1000)
    assert any("deadline" in p["problem"] or "hạn" in p["problem"] for p in refused.value.problems)


def test_a_deadline_from_receipt_is_counted_from_the_day_of_registration_not_of_the_parse() -> None:
    from services.intake.domain import AfterReceipt
    from shared.contracts.events import AssignmentCreated
    from shared.domain.calendar import end_of_day

    plan = parse((FIXTURES / "ubnd-deadlines-plan.txt").read_bytes(), "ubnd.txt")
    submission = to_submission(plan, skip_unresolved=True)
    farmers = next(a for a in submission.assignments if a.agency == "hoi-nong-dan")
    (rule,) = [d for d in farmers.deadlines or [] if d.period == "2024-R10D"]
    assert rule.due is None and rule.after_receipt == AfterReceipt(days=10, working_days=False)
    assert rule.wording == "trong vòng 10 ngày kể từ ngày nhận được kế hoạch"
    # Registered on Thursday 29 January 2026: ten days end on Sunday 8 February, so on Monday 9 February.
    _, events = register_plan(submission, directory(), date(2026, 1, 29), 500, WeekdaysOnly())
    created = next(e for e in events if isinstance(e, AssignmentCreated) and e.agency.code == "hoi-nong-dan")
    due = {d.period: d.due_at for d in created.deadlines}
    assert due["2024-R10D"] == end_of_day(date(2026, 2, 9))
    assert due["2024-FY"] == end_of_day(date(2025, 1, 14))  # the plan's own deadlines are not moved


@pytest.mark.parametrize(
    ("restart", "numbers"),
    [
        ("override", ["1", "2", "3", "4"]),  # what Word writes for "Restart at 1"
        ("override_first_item", ["1", "2", "3", "4"]),  # the items after the restarted one go on from it
        ("new_list", ["1", "2", "3", "4"]),
        ("same_list_new_num", ["4", "5", "6", "7"]),  # no override: Word goes on counting the abstract list
    ],
)
def test_clause_numbers_are_those_word_shows_when_a_list_restarts(restart: str, numbers: list[str]) -> None:
    plan = parse(restarting_list_docx(restart), "52.docx")  # type: ignore[arg-type]
    assert plan.number is not None and plan.number.text == "52-KH/ĐU"
    assert [s.heading for s in plan.content] == ["II. NỘI DUNG"]  # the headings' own numbers are Word's too
    assert [p.text[:3] for p in plan.content[0].paragraphs] == ["1. ", "2. ", "3. "]
    assert [(c.number, c.body) for c in plan.clauses] == list(
        zip(
            numbers,
            ["Ủy ban nhân dân phường", "Ban Tuyên giáo", "Ủy ban Mặt trận Tổ quốc phường", "Các chi bộ trực thuộc"],
            strict=True,
        )
    )
    assert [a.code for a in plan.clauses[3].agencies] == CELLS
    assert {a.clause for a in plan.assignments} == set(numbers)
    assert [n.text for n in plan.notes] == ["Các đồng chí trong đoàn kiểm tra phối hợp chặt chẽ với các khu dân cư."]
    assert [(d.period, d.due) for d in plan.deadlines] == [("2025-D05-14", date(2025, 5, 14))]
