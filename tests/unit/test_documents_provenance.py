"""Provenance kept: each assignment and deadline read from a document names its clause, page and line, in the
parsed plan, the stored plan and `assignment.created`; a structured plan's records keep their old shape."""

from __future__ import annotations

import subprocess

import pytest

from services.intake.documents import ParsedPlan, parse_document
from services.intake.documents.to_submission import to_submission
from services.intake.domain import PlanSubmission, register_plan
from shared.contracts.events import AssignmentCreated, Provenance
from tests.fixtures.pdf_plans import text_to_pdf
from tests.unit.documents_support import FIXTURES, TODAY, directory
from tests.unit.test_documents_pdf import HEADER, PLAN, needs_pdftotext


def parsed(data: bytes, name: str) -> ParsedPlan:
    plan = parse_document(data, name, directory(), TODAY)
    assert isinstance(plan, ParsedPlan)
    return plan


def file_line(text: str, start: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if line.startswith(start))


III = {"section": "III", "section_title": "TỔ CHỨC THỰC HIỆN"}


def test_a_text_plan_names_the_section_clause_and_line_of_each_assignment_and_deadline() -> None:
    plan = parsed(PLAN.encode(), "plan.txt")
    ubnd, tuyen_giao = plan.assignments[0], plan.assignments[1]

    clause_1 = file_line(PLAN, "1. UBND phường")
    assert ubnd.provenance == Provenance(clause="1", page=None, line=clause_1, **III)
    assert tuyen_giao.provenance == Provenance(clause="2", page=None, line=file_line(PLAN, "2. Ban Tuyên giáo"), **III)
    # Clause 1's own deadline is written in clause 1; the others get the default, which no line writes.
    assert [(d.period, d.provenance) for d in ubnd.deadlines] == [
        ("2026-D12-14", Provenance(clause="1", page=None, line=clause_1, **III))
    ]
    assert [(d.source, d.provenance) for d in tuyen_giao.deadlines] == [("default", None)]


def test_a_deadline_for_every_body_names_its_line_and_no_clause() -> None:
    text = (FIXTURES / "ward-cleanup-plan.txt").read_text(encoding="utf-8")
    plan = parsed(text.encode(), "plan.txt")
    written = [d for d in plan.deadlines if d.source == "text"]
    assert written, "the cleanup plan sets its reporting rule for every body"
    for deadline in written:
        assert deadline.provenance == Provenance(clause=None, page=None, line=deadline.line, **III)
        assert text.splitlines()[deadline.line - 1].strip()  # a line of the file that says something


@needs_pdftotext
def test_a_pdf_names_the_page_and_the_line_on_that_page() -> None:
    data = text_to_pdf(PLAN, header=HEADER, page_height_mm=180)
    plan = parsed(data, "plan.pdf")
    # Where pdftotext itself puts each clause: the page, and the line on that page (blank lines counted).
    pages = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=data, capture_output=True, check=True)
    where = {}
    for page, content in enumerate(pages.stdout.decode().split("\f"), start=1):
        for number, line in enumerate(content.split("\n"), start=1):
            if line[:2] in ("1.", "2.", "3.", "4."):
                where.setdefault(line[:1], (page, number))
    for assignment in plan.assignments:
        assert assignment.provenance is not None and assignment.clause is not None
        assert (assignment.provenance.page, assignment.provenance.line) == where[assignment.clause]
        assert assignment.provenance.clause == assignment.clause
    own = plan.assignments[0].deadlines[0]
    assert own.provenance == plan.assignments[0].provenance
    assert {a.provenance.page for a in plan.assignments if a.provenance} == {2}


def test_provenance_reaches_the_stored_plan_and_assignment_created() -> None:
    plan = parsed(PLAN.encode(), "plan.txt")
    record, events = register_plan(to_submission(plan), directory(), TODAY, 100)

    created = {e.agency.code: e for e in events if isinstance(e, AssignmentCreated)}
    clause_1 = Provenance(clause="1", line=file_line(PLAN, "1. UBND phường"), **III)
    assert created["ubnd"].provenance == [clause_1]
    assert [d.provenance for d in created["ubnd"].deadlines] == [clause_1]
    assert [d.provenance for d in created["mttq"].deadlines] == [None]  # the default
    stored = {a["agency"]: a for a in record["assignments"]}
    place = {"clause": "1", "page": None, "line": clause_1.line, **III}
    assert stored["ubnd"]["provenance"] == [place]
    assert stored["ubnd"]["deadlines"][0]["provenance"] == place
    assert "provenance" not in stored["mttq"]["deadlines"][0]


def test_a_body_named_in_two_clauses_keeps_both_places() -> None:
    text = PLAN.replace(
        "4. Văn phòng Đảng ủy: Theo dõi", "4. Văn phòng Đảng ủy, UBND phường: Theo dõi"
    )  # UBND also in clause 4
    plan = parsed(text.encode(), "plan.txt")
    _, events = register_plan(to_submission(plan), directory(), TODAY, 100)
    ubnd = next(e for e in events if isinstance(e, AssignmentCreated) and e.agency.code == "ubnd")
    assert [(p.clause, p.line) for p in ubnd.provenance] == [
        ("1", file_line(text, "1. UBND phường")),
        ("4", file_line(text, "4. Văn phòng")),
    ]


def test_a_structured_plan_is_stored_as_before_without_provenance() -> None:
    submission = PlanSubmission.model_validate(
        {
            "issuer": "dang-uy",
            "number": "12-KH/ĐU",
            "title": "Kế hoạch kiểm tra",
            "issued_on": "2026-01-10",
            "assignments": [{"agency": "ubnd", "task": "Rà soát."}],
            "deadlines": [{"period": "2026-H1", "due": "2026-06-30"}],
        }
    )
    record, events = register_plan(submission, directory(), TODAY, 100)
    assert set(record["assignments"][0]) == {"assignment_id", "agency", "task", "deadlines", "agency_ref"}
    assert set(record["assignments"][0]["deadlines"][0]) == {"period", "due_at", "wording"}
    assert next(e for e in events if isinstance(e, AssignmentCreated)).provenance == []


def test_provenance_is_refused_with_a_line_below_one() -> None:
    with pytest.raises(ValueError, match="line"):
        Provenance(clause="1", page=1, line=0)
