"""Plan documents in, assignments out: read a file, normalise its text, parse it, turn it into a submission.

readers (bytes → lines or a structured plan) → normalise (lines → paragraphs with provenance)
→ parser (paragraphs → ParsedPlan; clauses and deadlines) → to_submission (→ PlanSubmission).
"""

from __future__ import annotations

from datetime import date

from services.intake.documents.deadlines import DefaultReporting
from services.intake.documents.errors import DocumentError
from services.intake.documents.model import ParsedPlan
from services.intake.documents.parser import parse_lines
from services.intake.documents.readers import MAX_BYTES, read_document
from services.intake.domain import PlanSubmission
from shared.calendar import WorkingCalendar
from shared.directory import Directory

__all__ = ["DocumentError", "ParsedPlan", "parse_document"]


def parse_document(
    data: bytes,
    name: str,
    directory: Directory,
    today: date,
    calendar: WorkingCalendar | None = None,
    max_bytes: int = MAX_BYTES,
    default_reporting: DefaultReporting = "annual",
) -> ParsedPlan | PlanSubmission:
    """A text or .docx plan parsed, or a structured JSON plan as it came; only DocumentError escapes."""
    document = read_document(data, name, max_bytes)
    if isinstance(document, PlanSubmission):
        return document
    return parse_lines(document.lines, directory, today, calendar, default_reporting)
