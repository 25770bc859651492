"""Word 97-2003 (.doc) plans through antiword: read into the same plan as their text, a paragraph a line; a
damaged file or another Office file in the same container is refused saying what to do, and so is a .doc
when antiword is not installed. The .doc is made here from a sample plan (tests/fixtures/doc_plans.py)."""

from __future__ import annotations

import pytest

from services.intake.documents import ParsedPlan, parse_document, tools
from services.intake.documents.errors import BinaryDocument, ReaderUnavailable
from services.intake.documents.readers import TextDocument, media_type, read_document
from tests.fixtures.doc_plans import text_to_doc
from tests.unit.documents_support import FIXTURES, TODAY, directory

PLAN = (FIXTURES / "ubnd-deadlines-plan.txt").read_text(encoding="utf-8")
COMPOUND = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

needs_antiword = pytest.mark.skipif(not tools.available("antiword"), reason="antiword is not installed (make tools)")


def parsed(data: bytes, name: str) -> ParsedPlan:
    plan = parse_document(data, name, directory(), TODAY)
    assert isinstance(plan, ParsedPlan)
    return plan


@needs_antiword
def test_a_doc_is_read_a_paragraph_a_line() -> None:
    data = text_to_doc(PLAN)
    assert data.startswith(COMPOUND) and media_type(data) == "application/msword"
    document = read_document(data, "ke-hoach.doc")
    assert isinstance(document, TextDocument) and document.format == "doc"
    assert [line.strip() for line in document.lines if line.strip()] == [
        line.strip() for line in PLAN.splitlines() if line.strip()
    ]
    assert document.lines.index("III. TỔ CHỨC THỰC HIỆN") == PLAN.splitlines().index("III. TỔ CHỨC THỰC HIỆN")


@needs_antiword
def test_a_doc_gives_the_same_plan_as_its_text() -> None:
    as_doc, as_text = parsed(text_to_doc(PLAN), "plan.doc"), parsed(PLAN.encode(), "plan.txt")
    assert as_doc.reader == "doc" and as_doc.number is not None and as_doc.number.text == "04/KH-UBND"
    assert [(a.agency, a.clause, a.task) for a in as_doc.assignments] == [
        (a.agency, a.clause, a.task) for a in as_text.assignments
    ]
    assert [[(d.period, d.due) for d in a.deadlines] for a in as_doc.assignments] == [
        [(d.period, d.due) for d in a.deadlines] for a in as_text.assignments
    ]
    assert [a.provenance for a in as_doc.assignments] == [a.provenance for a in as_text.assignments]


@needs_antiword
def test_a_damaged_doc_or_another_office_file_is_refused_with_what_to_do() -> None:
    with pytest.raises(BinaryDocument, match=r"Word 97-2003 \(.doc\).*\.docx"):
        read_document(COMPOUND + b"\0" * 600, "x.doc")


def test_a_doc_without_antiword_is_refused_naming_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tools, "available", lambda tool: tool != "antiword")
    with pytest.raises(ReaderUnavailable, match="gói antiword.*docx"):
        read_document(COMPOUND + b"\0" * 600, "x.doc")
