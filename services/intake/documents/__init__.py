"""Plan documents in, assignments out: read a file, normalise its text, parse it, turn it into a submission.

readers (bytes → lines or a structured plan) → normalise (lines → paragraphs with provenance)
→ parser (paragraphs → ParsedPlan; clauses and deadlines) → to_submission (→ PlanSubmission).

`read_plan_document` is what a service calls: the same work in a worker process, within the limits of
time, memory and size (guard.py, limits.py). `parse_document` does it in the caller, for the CLI and tests.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from services.intake.documents import guard
from services.intake.documents.deadlines import DefaultReporting
from services.intake.documents.errors import DocumentError
from services.intake.documents.limits import DEFAULT_LIMITS, DocumentLimits
from services.intake.documents.model import Entered, ParsedPlan
from services.intake.documents.parser import parse_lines
from services.intake.documents.readers import MAX_BYTES, read_document
from services.intake.domain import PlanSubmission
from shared.domain.calendar import WorkingCalendar
from shared.domain.directory import Directory

__all__ = [
    "DocumentError",
    "DocumentLimits",
    "DocumentReader",
    "Entered",
    "ParsedPlan",
    "parse_document",
    "parse_document_here",
    "read_plan_document",
]


class DocumentReader(Protocol):
    """How a use case reads a plan document: `read_plan_document` in production, `parse_document_here` in tests."""

    async def __call__(  # noqa: PLR0913 - the reader's own arguments
        self,
        data: bytes,
        name: str,
        directory: Directory,
        today: date,
        calendar: WorkingCalendar | None = None,
        max_bytes: int = MAX_BYTES,
        default_reporting: DefaultReporting = "annual",
        entered: Entered | None = None,
    ) -> ParsedPlan | PlanSubmission: ...


def parse_document(  # noqa: PLR0913 - the document, and how to read it
    data: bytes,
    name: str,
    directory: Directory,
    today: date,
    calendar: WorkingCalendar | None = None,
    max_bytes: int = MAX_BYTES,
    default_reporting: DefaultReporting = "annual",
    limits: DocumentLimits = DEFAULT_LIMITS,
    entered: Entered | None = None,
) -> ParsedPlan | PlanSubmission:
    """A text or .docx plan parsed, or a structured JSON plan as it came; only DocumentError escapes. `entered`:
    what the clerk entered for the plan (number, date of issue, day of receipt), used instead of the document's."""
    document = read_document(data, name, max_bytes, limits)
    if isinstance(document, PlanSubmission):
        return document
    parsed = parse_lines(
        document.lines, directory, today, calendar, default_reporting, document.sources, entered=entered
    )
    parsed.reader = document.format  # type: ignore[assignment]  # a reader's format is one of the Literal's
    return parsed


async def read_plan_document(  # noqa: PLR0913 - DocumentReader's arguments
    data: bytes,
    name: str,
    directory: Directory,
    today: date,
    calendar: WorkingCalendar | None = None,
    max_bytes: int = MAX_BYTES,
    default_reporting: DefaultReporting = "annual",
    entered: Entered | None = None,
) -> ParsedPlan | PlanSubmission:
    """`parse_document` in a reader process, within the limits intake was configured with (`guard.configure`):
    the event loop goes on serving while a document is read, and a document past a limit is refused."""
    documents = guard.current.get()
    return await documents.run(
        _parse_in_worker,
        data,
        name,
        today,
        calendar,
        max_bytes,
        default_reporting,
        documents.limits,
        entered,
        shared=directory,
    )


async def parse_document_here(  # noqa: PLR0913 - DocumentReader's arguments
    data: bytes,
    name: str,
    directory: Directory,
    today: date,
    calendar: WorkingCalendar | None = None,
    max_bytes: int = MAX_BYTES,
    default_reporting: DefaultReporting = "annual",
    entered: Entered | None = None,
) -> ParsedPlan | PlanSubmission:
    """`parse_document` in this process, on the event loop: for unit tests of the use cases."""
    return parse_document(data, name, directory, today, calendar, max_bytes, default_reporting, entered=entered)


def _parse_in_worker(  # noqa: PLR0913 - parse_document's arguments, sent to the worker
    directory: Directory,
    data: bytes,
    name: str,
    today: date,
    calendar: WorkingCalendar | None,
    max_bytes: int,
    default_reporting: DefaultReporting,
    limits: DocumentLimits,
    entered: Entered | None,
) -> ParsedPlan | PlanSubmission:
    return parse_document(data, name, directory, today, calendar, max_bytes, default_reporting, limits, entered)
