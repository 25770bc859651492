"""What the parser makes of a plan document: every item with the line (or .docx paragraph) it came from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field, PrivateAttr

from shared.contracts.events import AgencyCode, AgencyKind, DeliverableRequirement, Provenance, UtcDatetime
from shared.domain.wording import Wording

# What a deadline of a plan document is: a recurring report, a date, a duration, or the deployment's default.
DeadlineKind = Literal[
    "semiannual",
    "annual",
    "quarterly",
    "monthly",
    "weekly",
    "ninemonth",
    "date",
    "within_period",
    "duration",
    "default",
]


class NotADay(ValueError):
    """A day the clerk entered that is not one. Raised with a Wording (the HTTP answer's detail, in the caller's
    language); `str()` is the Vietnamese, as the CLI shows it."""

    def __str__(self) -> str:
        said = self.args[0] if self.args else ""
        return said.vi if isinstance(said, Wording) else str(said)


@dataclass(frozen=True)
class Entered:
    """What the clerk enters about a plan whose document lacks it (or where it was misread): the plan's number,
    its date of issue, and the day it was received (for `kể từ ngày nhận được`). Used and stored as entered."""

    number: str | None = None
    issued_on: date | None = None
    received_on: date | None = None

    @staticmethod
    def day(text: str, what: str | Wording) -> date:
        """A day as a clerk types it, `10/01/2024` (or `2024-01-10`); NotADay naming `what` (a text given as a
        plain string reads the same in both languages)."""
        text = text.strip()
        try:
            if "/" in text:
                day, month, year = (int(part) for part in text.split("/"))
                return date(year, month, day)
            return date.fromisoformat(text)
        except ValueError:
            named = what if isinstance(what, Wording) else Wording(vi=what, en=what)
            raise NotADay(
                Wording(
                    vi=f"{named.vi} {text!r} không phải một ngày: hãy ghi ngày/tháng/năm, ví dụ 10/01/2024",
                    en=f"{named.en} {text!r} is not a date: write day/month/year, e.g. 10/01/2024",
                )
            ) from None

    def given(self) -> dict[str, str]:
        """What was entered, as text (ISO dates): what the stored plan records as entered by the clerk."""
        values = {"number": self.number, "issued_on": self.issued_on, "received_on": self.received_on}
        return {k: v if isinstance(v, str) else v.isoformat() for k, v in values.items() if v is not None}


@dataclass(frozen=True, slots=True)
class SourceLine:
    """Where a line of a paged document (PDF, scan) starts: its page and its line on that page, both 1-based.
    A line the page layout had broken and the reader joined again starts where its first part is."""

    page: int
    line: int


class Located(BaseModel):
    text: str
    line: int = Field(description="1-based line of the source text (for .docx: paragraph or table cell)")


class Reference(BaseModel):
    """A document cited as a basis: `Chỉ thị số 03-CT/TW ngày 19/5/2021`."""

    number: str
    kind: str | None = Field(default=None, description="Chỉ thị, Kế hoạch … from the symbol")
    issued_on: date | None = None
    line: int


class Section(BaseModel):
    heading: str
    line: int
    paragraphs: list[Located]


class DeadlineOut(BaseModel):
    kind: DeadlineKind
    period: str = Field(
        description="2023-H1, 2023-FY, 2024-Q3, 2024-05, 2024-W07 (ISO week), 2024-9M (nine months), "
        "or 2023-D12-14 for a one-off date"
    )
    wording: str = Field(description="the deadline as the plan wrote it")
    due: date = Field(description="the last day a report counts as on time (Asia/Ho_Chi_Minh)")
    effective_at: UtcDatetime = Field(description="the last on-time instant, UTC")
    line: int = Field(description="0 for the deployment's default")
    calendar: str | None = Field(default=None, description="the working-day calendar, for durations")
    counted_from: Literal["issue", "receipt"] | None = Field(
        default=None,
        description="durations: from the plan's date of issue, or from the day it is received "
        "(`kể từ ngày nhận được`), which is the day intake registers it",
    )
    start: date | None = Field(default=None, description="durations: the day counted from (itself not counted)")
    days: int | None = Field(default=None, description="durations: how many days")
    working_days: bool = Field(default=False, description="durations: working days rather than calendar days")
    note: str | None = Field(default=None, description="what a clerk should know about this deadline (Vietnamese)")
    months: int | None = Field(default=None, description="durations in months (`trong vòng 02 tháng`)")
    obligation: Literal["report", "complete"] = Field(
        default="report", description="report: a report is due; complete: the work itself is to be finished"
    )
    source: Literal["text", "default"] = Field(
        default="text", description="text: written in the plan; default: the deployment's default reporting"
    )
    provenance: Provenance | None = Field(
        default=None, description="its clause, page and line in the document; none for the deployment's default"
    )


class AssigneeOut(BaseModel):
    code: AgencyCode
    kind: AgencyKind
    name: str
    via: str | None = Field(default=None, description="the group the plan named, when it named one")


class Clause(BaseModel):
    """One item of the organisation section: who (as written and as resolved) and what."""

    number: str | None = Field(description="1, 2.1, a … or None for an unnumbered bullet")
    line: int
    mode: Literal["assign", "request"] = Field(description="request: `Đề nghị X:` (a body the issuer cannot order)")
    body: str = Field(description="the responsible bodies as written")
    agencies: list[AssigneeOut]
    task: str
    deadlines: list[DeadlineOut] = Field(default_factory=list, description="deadlines written in this clause")


class Assignment(BaseModel):
    agency: AgencyCode
    kind: AgencyKind
    name: str
    via: str | None = None
    clause: str | None
    line: int
    task: str
    deadlines: list[DeadlineOut]
    provenance: Provenance | None = Field(default=None, description="its clause, page and line in the document")
    deliverables_required: list[DeliverableRequirement] = Field(
        default_factory=list, description="what the body is to deliver and where, as the plan words it"
    )


class Recipient(BaseModel):
    text: str
    line: int
    agencies: list[str] = Field(default_factory=list, description="directory codes named (informed, not assigned)")


class Reporting(BaseModel):
    text: str
    line: int
    deliverables: list[str] = Field(default_factory=list, description="e.g. 01 file word, 01 file scan")
    report_to: list[str] = Field(default_factory=list, description="directory codes the reports go to")
    send_to: str | None = Field(
        default=None, description="where the reports go as written: a body, an e-mail address or a link"
    )
    provenance: Provenance | None = Field(default=None, description="its section, clause, page and line")

    def requirement(self) -> DeliverableRequirement | None:
        """What it asks a body to deliver and where, as published; None when it says neither."""
        if not self.deliverables and not self.send_to:
            return None
        return DeliverableRequirement(
            items=tuple(self.deliverables[:20]),
            send_to=self.send_to,
            wording=self.text[:2_000],
            provenance=self.provenance,
        )


class Signature(BaseModel):
    on_behalf_of: str | None = Field(default=None, description="T/M ĐẢNG ỦY → ĐẢNG ỦY")
    role: str | None = None
    name: str | None = None
    line: int


class Issuer(BaseModel):
    text: str = Field(description="the issuer as written (or as inferred)")
    line: int
    source: Literal["header", "intro", "signature", "symbol"]
    code: str | None = None
    name: str | None = None


class Unresolved(BaseModel):
    phrase: str
    line: int
    where: str
    reason: str = Field(description="why, in Vietnamese (as the preview and the CLI show it)")
    # For a refusal answered in English (to_submission.py); never in what the preview or the CLI show.
    reason_en: str = Field(default="", exclude=True)

    @classmethod
    def because(cls, reason: Wording, *, phrase: str, line: int, where: str) -> Unresolved:
        return cls(phrase=phrase, line=line, where=where, reason=reason.vi, reason_en=reason.en)

    def said(self) -> Wording:
        """What is wrong, quoting the phrase: a problem of a refusal in both languages."""
        return Wording(vi=f"{self.phrase!r}: {self.reason}", en=f"{self.phrase!r}: {self.reason_en or self.reason}")


@dataclass(frozen=True, slots=True)
class Heading:
    """A section heading of the plan: `III. TỔ CHỨC THỰC HIỆN` at `line`; its section runs until `end`."""

    line: int
    end: int
    numeral: str
    title: str


class ParsedPlan(BaseModel):
    place: Located | None = None
    issued_on: date | None = None
    issued_on_line: int | None = None
    number: Located | None = None
    issuer: Issuer | None = None
    title: Located | None = None
    campaign: str | None = None
    year: int
    references: list[Reference] = Field(default_factory=list)
    purpose: list[Located] = Field(default_factory=list)
    content: list[Section] = Field(default_factory=list)
    clauses: list[Clause] = Field(default_factory=list)
    assignments: list[Assignment] = Field(default_factory=list)
    deadlines: list[DeadlineOut] = Field(default_factory=list, description="deadlines for every assignment")
    default_deadlines_applied: bool = False
    reporting: list[Reporting] = Field(default_factory=list)
    recipients: list[Recipient] = Field(default_factory=list)
    signature: Signature | None = None
    notes: list[Located] = Field(default_factory=list, description="organisation paragraphs that assign nothing")
    unresolved: list[Unresolved] = Field(default_factory=list)
    reader: Literal["text", "docx", "pdf", "ocr", "doc"] | None = Field(
        default=None, description="which reader read the document: text layer (pdf) or OCR (ocr) for a PDF"
    )
    pages: list[int] = Field(
        default_factory=list,
        description="paged documents (PDF, scans): the page of each line, pages[line - 1]; empty otherwise",
    )
    page_lines: list[int] = Field(
        default_factory=list,
        description="paged documents: the line on its page where each line starts, page_lines[line - 1]",
    )
    received_on: date | None = Field(
        default=None,
        description="the day the plan was received, as the clerk entered it: durations `kể từ ngày nhận được` run "
        "from it (when not entered, from the day intake registers the plan)",
    )
    entered: dict[str, str] = Field(
        default_factory=dict,
        description="what the clerk entered instead of reading it from the document (number, issued_on, "
        "received_on), as entered",
    )

    # The section headings, set by the parser: where `locate` finds a line's section.
    _headings: list[Heading] = PrivateAttr(default_factory=list)

    def set_headings(self, headings: list[Heading]) -> None:
        self._headings = headings

    def locate(self, line: int, clause: str | None = None) -> Provenance | None:
        """Where line `line` of the document is, as a clerk finds it: its section, on its page for a paged
        document. None for line 0 (what no line of the document says, such as the deployment's default)."""
        if line < 1:
            return None
        heading = next((h for h in reversed(self._headings) if h.line <= line < h.end), None)
        section = {"section": heading.numeral, "section_title": heading.title} if heading else {}
        if line <= len(self.pages) and line <= len(self.page_lines):
            return Provenance(clause=clause, page=self.pages[line - 1], line=self.page_lines[line - 1], **section)
        return Provenance(clause=clause, line=line, **section)
