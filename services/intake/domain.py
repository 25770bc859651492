"""Intake's rules: a submitted plan becomes one assignment per responsible agency, with its deadlines.

Also the rules on what intake accepts as input (issue #20): a plan number has the shape of a Vietnamese
document symbol, names carry no invisible or direction-changing characters, no text holds a lone surrogate,
and a task merged for one body and the stored plan are capped.
"""

from __future__ import annotations

import calendar as month_calendar
import hashlib
import re
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, NotRequired, TypedDict

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from shared.contracts.events import (
    Agency,
    AgencyRef,
    AssignmentCreated,
    DeliverableRequirement,
    Event,
    PeriodKey,
    PlanRegistered,
    Provenance,
    ReportingDeadline,
)
from shared.contracts.ladder import EventLadder, LadderSpec
from shared.domain.calendar import WorkingCalendar, deployment_calendar, end_of_day
from shared.domain.directory import Directory, UnknownAgency
from shared.domain.wording import Wording, wording_of
from shared.platform.validation_wording import vietnamese_message

_HAS_TIME = re.compile(r"^\s*\d{4}-\d{2}-\d{2}[Tt ]\d")
_INSTANT = TypeAdapter(datetime)
_PLAN_NAMESPACE = uuid.UUID("6f1c8d52-4a0e-4c36-9d53-5b2f0b6a7e11")

MAX_NUMBER_CHARS = 50
MAX_TASK_CHARS = 20_000
# Half of MongoDB's 16 MiB document limit: a plan near the limit would fail on a later correction (which
# adds fields) with a server error, and a plan that large is better split anyway. Measured: a group of
# 10,000 bodies with the benchmark's task stores 3.4 MiB; of 100,000, 34 MiB, past MongoDB's own limit.
MAX_PLAN_BYTES = 8 * 1024 * 1024

# Zero-width characters (U+200B-U+200D, U+2060, U+FEFF) and bidirectional controls (U+200E/F, U+202A-U+202E,
# U+2066-U+2069): invisible, they make two numbers that look the same differ, or one display as another.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_LETTER = "A-Za-zÀ-ÃÈ-ÊÌÍÒ-ÕÙÚÝà-ãè-êìíò-õùúýĂăĐđĨĩŨũƠơƯưẠ-ỹ"
_DOCUMENT_SYMBOL = re.compile(rf"[0-9{_LETTER}][0-9{_LETTER}./-]*")


def comparable(text: str) -> str:
    """The form two spellings of one number or name are compared in: NFKC (a fullwidth `８５－ＫＨ` is
    `85-KH`), surrounding spaces dropped. The text as written is what is kept and shown."""
    return unicodedata.normalize("NFKC", text).strip()


def vietnamese_number(value: int) -> str:
    """`30005` as a Vietnamese reader writes it: `30.005`."""
    return f"{value:,}".replace(",", ".")


def plain(text: str | Wording) -> str:
    """A message as an AMQP payload (`plan.rejected`) or the plan preview carries it: a plain string, in Vietnamese
    as `POST /plans` answers by default. Over HTTP the `Wording` itself is answered, in the caller's language."""
    return text.vi if isinstance(text, Wording) else text


# One thing a plan gets wrong: where, and the problem (a `Wording` for the HTTP answer).
Problem = dict[str, str | Wording]


def problems_of(error: ValidationError, limit: int = 50) -> list[Problem]:
    """Each field a plan got wrong: our own checks' `Wording`, else pydantic's message with its Vietnamese."""
    problems: list[Problem] = []
    for e in error.errors()[:limit]:
        cause = (e.get("ctx") or {}).get("error")
        said = wording_of(cause) if isinstance(cause, BaseException) else None
        message = str(e["msg"])[:300]
        if not isinstance(said, Wording):
            said = Wording(vi=str(vietnamese_message(e))[:300], en=message)
        problems.append({"where": ".".join(str(part) for part in e["loc"]) or "plan", "problem": said})
    return problems


def _no_lone_surrogate(value: object) -> object:
    # Before pydantic's own check, which refuses it too in a constrained string but says so in English; a
    # surrogate reaching the database or a log would fail there with a 500.
    if isinstance(value, str) and _SURROGATE.search(value):
        raise ValueError(
            Wording(
                vi="có ký tự không hợp lệ (nửa cặp UTF-16 đứng riêng): hãy gõ lại nội dung này",
                en="holds an invalid character (a lone UTF-16 surrogate): type this text again",
            )
        )
    return value


def _visible(value: str) -> str:
    if found := _INVISIBLE.search(value):
        code, position = f"U+{ord(found.group()):04X}", found.start() + 1
        raise ValueError(
            Wording(
                vi=f"có ký tự ẩn hoặc ký tự đổi chiều văn bản ({code}) ở vị trí {position}: "
                "hãy gõ lại, không sao chép từ văn bản khác",
                en=f"holds an invisible or direction-changing character ({code}) at position {position}: "
                "type it again rather than copy it from another document",
            )
        )
    return value


def _document_symbol(value: str) -> str:
    _visible(value)
    if len(value) > MAX_NUMBER_CHARS or not _DOCUMENT_SYMBOL.fullmatch(comparable(value)):
        raise ValueError(
            Wording(
                vi=f"số, ký hiệu kế hoạch (number) chỉ gồm chữ, chữ số và các dấu '-', '/', '.', tối đa "
                f"{MAX_NUMBER_CHARS} ký tự, không có dấu cách, ví dụ 85-KH/ĐU; nhận được {value[:60]!r}",
                en=f"a plan's number holds only letters, digits and '-', '/', '.', at most {MAX_NUMBER_CHARS} "
                f"characters, no spaces, e.g. 85-KH/ĐU; got {value[:60]!r}",
            )
        )
    return value


_WELL_FORMED = BeforeValidator(_no_lone_surrogate)
Text = Annotated[str, Field(min_length=1, max_length=20_000), _WELL_FORMED]
Name = Annotated[str, Field(min_length=1, max_length=20_000), _WELL_FORMED, AfterValidator(_visible)]
PlanNumber = Annotated[
    str,
    # The length is checked by the validator, to refuse in Vietnamese; the schema still states it.
    Field(min_length=1, json_schema_extra={"maxLength": MAX_NUMBER_CHARS}),
    _WELL_FORMED,
    AfterValidator(_document_symbol),
]
PlanWording = Annotated[str, Field(max_length=2_000), _WELL_FORMED]


class AfterReceipt(BaseModel):
    """A deadline counted from the day the plan is received (`trong vòng 10 ngày kể từ ngày nhận được`). The plan
    cannot know when each body receives it; the day intake registers the plan stands for it."""

    model_config = ConfigDict(extra="forbid")

    days: int = Field(default=0, ge=0, le=999)
    working_days: bool = Field(default=False, description="working days (`ngày làm việc`) rather than calendar days")
    months: int = Field(
        default=0,
        ge=0,
        le=120,
        description="a period in months (`trong vòng 02 tháng`), counted instead of `days` when not 0: it ends on "
        "the same day of the last month, or that month's last day (Civil Code art. 148)",
    )

    def last_day(self, received_on: date, calendar: WorkingCalendar) -> date:
        """The last on-time day of the period counted from `received_on`."""
        if self.months:
            return months_end(received_on, self.months, calendar)
        return calendar.duration_end(received_on, self.days, working_days=self.working_days)


def months_end(start: date, months: int, calendar: WorkingCalendar) -> date:
    """The last day of a period of `months` months from `start` (Civil Code arts. 147-148): the same day of the
    last month, that month's last day when it has no such day, moved to the next working day when it is not one."""
    if months < 0:
        raise ValueError("a duration is not negative")
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    last = date(year, month, min(start.day, month_calendar.monthrange(year, month)[1]))
    return last if calendar.is_working_day(last) else calendar.next_working_day(last)


class DeadlineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: PeriodKey
    due: date | datetime | None = Field(
        default=None,
        description="a date (the report is on time until the end of that day, Asia/Ho_Chi_Minh) "
        "or an instant with its UTC offset; leave it out with `after_receipt`",
    )
    after_receipt: AfterReceipt | None = Field(
        default=None,
        description="a duration counted from the day intake registers the plan, instead of `due`: Civil Code "
        "arts. 147-148 (that day is not counted; a last day that is not a working day moves to the next working day)",
    )
    wording: PlanWording = Field(default="", description="the deadline as the plan wrote it")
    provenance: Provenance | None = Field(
        default=None, description="where the plan's document writes it (set by intake when it reads a document)"
    )

    @field_validator("due", mode="before")
    @classmethod
    def _instant_when_a_time_is_given(cls, value: object) -> object:
        # "2027-06-30T00:00:00+07:00" is that instant, not the date 2027-06-30 (which would mean the end of
        # that day): a string with a time part is read as a datetime before the union can pick `date`.
        if isinstance(value, str) and _HAS_TIME.match(value):
            try:
                return _INSTANT.validate_python(value)
            except ValidationError:
                return value  # let the field's own validation explain what is wrong
        return value

    @field_validator("due")
    @classmethod
    def _aware(cls, value: date | datetime | None) -> date | datetime | None:
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError(
                Wording(
                    vi="thời điểm cần ghi rõ múi giờ (độ lệch so với UTC), ví dụ 2026-06-30T23:59:59+07:00",
                    en="an instant needs its UTC offset, e.g. 2026-06-30T23:59:59+07:00",
                )
            )
        return value

    @model_validator(mode="after")
    def _due_or_after_receipt(self) -> DeadlineIn:
        if (self.due is None) == (self.after_receipt is None):
            raise ValueError(
                Wording(
                    vi="cần ghi đúng một trong hai: hạn (`due`) hoặc thời hạn tính từ ngày nhận (`after_receipt`)",
                    en="give either `due` or `after_receipt`",
                )
            )
        return self

    def to_contract(
        self, received_on: date | None = None, calendar: WorkingCalendar | None = None
    ) -> ReportingDeadline:
        """The deadline as published; one counted from receipt runs from `received_on`, the day of registration."""
        if self.after_receipt is not None:
            if received_on is None:
                raise ValueError(f"the deadline of {self.period} runs from receipt: give the day of registration")
            last_day = self.after_receipt.last_day(received_on, calendar or deployment_calendar())
            return ReportingDeadline(
                period=self.period, due_at=end_of_day(last_day), wording=self.wording, provenance=self.provenance
            )
        if self.due is None:  # excluded by validation
            raise ValueError(f"the deadline of {self.period} has neither `due` nor `after_receipt`")
        return ReportingDeadline(
            period=self.period, due_at=effective_instant(self.due), wording=self.wording, provenance=self.provenance
        )


class DeliverablesIn(DeliverableRequirement):
    """What to deliver and where, as the plan words it (`items`, `send_to`, `wording`), published as is (NFC)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _well_formed(cls, value: object) -> object:
        if isinstance(value, dict):
            texts = [value.get("send_to"), value.get("wording"), *(value.get("items") or [])]
            for text in texts:
                _no_lone_surrogate(text)
        return value

    @model_validator(mode="after")
    def _says_something(self) -> DeliverablesIn:
        if not self.items and not self.send_to:
            raise ValueError(
                Wording(
                    vi="ghi sản phẩm cần gửi (items) hoặc nơi gửi (send_to), hoặc bỏ mục này",
                    en="give what to deliver (items) or where to send it (send_to), or leave this entry out",
                )
            )
        return self

    def to_contract(self) -> DeliverableRequirement:
        return DeliverableRequirement.model_validate(self.model_dump())


class AssignmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency: Name = Field(description="agency or group: its directory code or a name as written in the plan")
    task: Text = Field(description="the task as the plan words it")
    deadlines: list[DeadlineIn] | None = Field(default=None, description="overrides the plan's deadlines")
    deliverables_required: list[DeliverablesIn] | None = Field(
        default=None, max_length=20, description="overrides the plan's `deliverables_required` for these bodies"
    )
    provenance: Provenance | None = Field(
        default=None, description="where the plan's document assigns it (set by intake when it reads a document)"
    )


class PlanSubmission(BaseModel):
    """A structured plan, as another agency's system sends it."""

    model_config = ConfigDict(extra="forbid")

    issuer: Name = Field(description="the issuing body: directory code or name")
    number: PlanNumber = Field(description="number/symbol, e.g. 85-KH/ĐU")
    title: Text
    issued_on: date | None = None
    assignments: list[AssignmentIn] = Field(min_length=1)
    deadlines: list[DeadlineIn] = Field(default_factory=list, description="reporting deadlines for every assignment")
    deliverables_required: list[DeliverablesIn] = Field(
        default_factory=list,
        max_length=20,
        description="what every body is to deliver for its reports and where to send it, as the plan words it "
        "(`items`: `01 file word`; `send_to`: a body, an e-mail address or a shared-folder link)",
    )
    escalation_ladder: LadderSpec | None = Field(
        default=None,
        description="this plan's own escalation ladder, in the shape of the deployment's ladder file "
        "(`acknowledgement: [...]`, `report: [...]`); a track left out follows the deployment's ladder",
    )


class ProvenanceRecord(TypedDict):
    clause: str | None
    section: NotRequired[str | None]  # stored since 2026-12; older plans have none
    section_title: NotRequired[str | None]
    page: int | None
    line: int


class DeadlineRecord(TypedDict):
    period: str
    due_at: str  # ISO 8601 in UTC, as `ReportingDeadline.model_dump(mode="json")` writes it
    wording: str
    provenance: NotRequired[ProvenanceRecord]  # read from a document; left out for a structured plan


class AssignmentRecord(TypedDict):
    assignment_id: str
    agency: str
    task: str
    deadlines: list[DeadlineRecord]
    agency_ref: dict[str, Any]
    provenance: NotRequired[list[ProvenanceRecord]]  # read from a document: a place for each clause naming it
    deliverables_required: NotRequired[list[dict[str, Any]]]  # what to deliver and where; left out when not said


class DocumentRecord(TypedDict):
    """The document a plan was read from, kept in GridFS (`repository.PlanDocuments`)."""

    file_id: Any  # the GridFS file's id
    sha256: str  # of the bytes as submitted, hexadecimal
    name: str  # the file name as uploaded
    bytes: int
    media_type: str
    reader: str  # which reader read it: text, docx, pdf, ocr, json
    entered: NotRequired[dict[str, str]]  # what the clerk entered for the plan (number, issued_on, received_on)


def document_record(file_id: Any, data: bytes, name: str, media_type: str, reader: str) -> DocumentRecord:
    """How a submitted document is described beside its plan, wherever it is kept."""
    return {
        "file_id": file_id,
        "sha256": hashlib.sha256(data).hexdigest(),
        "name": name,
        "bytes": len(data),
        "media_type": media_type,
        "reader": reader,
    }


class PlanRecord(TypedDict):
    """A plan as stored. A TypedDict, not a pydantic model: a plan to a group of 100,000 bodies holds 100,000
    assignment records; validating them into models took 2.4-2.6 s and dumping them back for the driver
    0.5-1.8 s, against 5-11 s for `register_plan` itself (measured on this machine, loaded by others)."""

    _id: str
    issuer: str
    number: str
    title: str
    issued_on: str | None
    submission: dict[str, Any]
    assignments: list[AssignmentRecord]
    registered_at: NotRequired[datetime | None]
    amended_at: NotRequired[datetime]
    version: NotRequired[int]
    withdrawn_at: NotRequired[datetime | None]
    withdrawn_by: NotRequired[str]
    document: NotRequired[DocumentRecord]


class PlanRejected(ValueError):
    """The plan cannot be registered as submitted. `worded` says where and why for an HTTP answer (each problem a
    `Wording`); `problems` says it in plain text, as `plan.rejected` and the plan preview carry it (`plain`)."""

    def __init__(self, problems: Sequence[Mapping[str, str | Wording]]) -> None:
        self.worded = [dict(problem) for problem in problems]
        self.problems: list[dict[str, str]] = [
            {key: plain(value) for key, value in problem.items()} for problem in problems
        ]
        super().__init__("; ".join(f"{p['where']}: {p['problem']}" for p in self.worded))  # logs read English


def effective_instant(due: date | datetime) -> datetime:
    """A date means the whole of that day in Vietnam; the stored instant is its last microsecond, in UTC."""
    if isinstance(due, datetime):
        return due
    return end_of_day(due)


def plan_id_for(issuer_code: str, number: str, year: int) -> str:
    key = f"{issuer_code}|{comparable(number)}|{year}"
    return uuid.uuid5(_PLAN_NAMESPACE, key).hex[:20]


def assignment_id_for(plan_id: str, agency_code: str) -> str:
    return uuid.uuid5(_PLAN_NAMESPACE, f"{plan_id}|{agency_code}").hex[:20]


def counts_from_receipt(submission: PlanSubmission) -> bool:
    """Whether a deadline of the plan runs from the day it is received (registered)."""
    deadlines = [*submission.deadlines, *(d for a in submission.assignments for d in a.deadlines or [])]
    return any(d.after_receipt is not None for d in deadlines)


def refuse_oversized(stored_bytes: int, limit: int = MAX_PLAN_BYTES) -> None:
    """A plan whose stored form would pass `limit` is refused before anything is written."""
    if stored_bytes > limit:
        raise PlanRejected(
            [
                {
                    "where": "plan",
                    "problem": Wording(
                        vi=f"kế hoạch khi lưu chiếm {vietnamese_number(stored_bytes)} byte, vượt giới hạn "
                        f"{vietnamese_number(limit)} byte: hãy tách thành nhiều kế hoạch hoặc rút gọn nội dung "
                        "nhiệm vụ",
                        en=f"the plan would be stored in {stored_bytes:,} bytes, past the limit of {limit:,} bytes: "
                        "split it into several plans or shorten its tasks",
                    ),
                }
            ]
        )


@dataclass
class _Resolved:
    """The plan's issuer and, clause by clause, the codes of the bodies each clause names."""

    issuer: Agency
    clauses: list[tuple[int, AssignmentIn, list[str]]]


def _resolve_issuer(submission: PlanSubmission, directory: Directory, problems: list[Problem]) -> list[Agency]:
    try:
        issuers = directory.resolve(comparable(submission.issuer))
    except UnknownAgency as exc:
        problems.append({"where": "issuer", "problem": wording_of(exc)})
        return []
    if len(issuers) > 1:
        problems.append(
            {
                "where": "issuer",
                "problem": Wording(
                    vi=f"{submission.issuer!r} là một nhóm, không phải một cơ quan ban hành",
                    en=f"{submission.issuer!r} is a group, not an issuing body",
                ),
            }
        )
    return issuers


_NO_DEADLINE = Wording(vi="nhiệm vụ này chưa có hạn báo cáo", en="this assignment has no reporting deadline")


def _check_deadlines_and_ladder(submission: PlanSubmission, problems: list[Problem]) -> None:
    for index, item in enumerate(submission.assignments):
        if not (item.deadlines if item.deadlines is not None else submission.deadlines):
            problems.append({"where": f"assignments[{index}]", "problem": _NO_DEADLINE})
    ladder = submission.escalation_ladder
    if ladder is not None and not (ladder.given("acknowledgement") or ladder.given("report")):
        problems.append(
            {
                "where": "escalation_ladder",
                "problem": Wording(
                    vi="không có bước nào cho xác nhận (acknowledgement) hay báo cáo (report): bỏ trường này "
                    "để theo thang nhắc việc chung",
                    en="no step for acknowledgement or report: leave the field out to follow the deployment's ladder",
                ),
            }
        )


def _resolve(submission: PlanSubmission, directory: Directory) -> _Resolved:
    """Every body the plan names, or every problem at once."""
    problems: list[Problem] = []
    issuers = _resolve_issuer(submission, directory, problems)
    clauses: list[tuple[int, AssignmentIn, list[str]]] = []
    for index, item in enumerate(submission.assignments):
        try:
            clauses.append((index, item, [a.code for a in directory.resolve(comparable(item.agency))]))
        except UnknownAgency as exc:
            problems.append({"where": f"assignments[{index}].agency", "problem": wording_of(exc)})
    _check_deadlines_and_ladder(submission, problems)
    if problems:
        raise PlanRejected(problems)
    empty: list[Problem] = [
        {
            "where": f"assignments[{index}].agency",
            "problem": Wording(
                vi=f"{item.agency!r} là nhóm chưa có thành viên nào trong danh bạ",
                en=f"{item.agency!r} is a group with no members in the directory",
            ),
        }
        for index, item, codes in clauses
        if not codes
    ]
    if empty:
        raise PlanRejected(empty)
    return _Resolved(issuers[0], clauses)


@dataclass
class _Merged:
    """One entry per body: its tasks in the order the plan names them, its deadlines earliest first."""

    tasks: dict[str, list[str]]
    deadlines: dict[str, list[ReportingDeadline]]
    provenance: dict[str, list[Provenance]]
    deliverables: dict[str, list[DeliverableRequirement]]


def _merge(resolved: _Resolved, submission: PlanSubmission, today: date, calendar: WorkingCalendar | None) -> _Merged:
    # One assignment per agency: an agency named twice (alone and in a group) gets both tasks in one.
    merged = _Merged({}, {}, {}, {})
    for _, item, codes in resolved.clauses:
        item_deadlines = [d.to_contract(today, calendar) for d in (item.deadlines or submission.deadlines)]
        wanted = item.deliverables_required
        item_deliverables = [d.to_contract() for d in (submission.deliverables_required if wanted is None else wanted)]
        for code in codes:
            merged.tasks.setdefault(code, []).append(item.task)
            known = merged.deliverables.setdefault(code, [])
            known.extend(d for d in item_deliverables if d not in known)
            if item.provenance is not None:
                merged.provenance.setdefault(code, []).append(item.provenance)
            by_period = {d.period: d for d in merged.deadlines.get(code, [])}
            for deadline in item_deadlines:
                by_period.setdefault(deadline.period, deadline)
            merged.deadlines[code] = sorted(by_period.values(), key=lambda d: d.due_at)
    return merged


def _merged_task(code: str, texts: list[str]) -> str:
    """The clauses naming one body, one per line; capped, since each clause alone is within its own limit."""
    task = "\n".join(texts)
    if len(task) > MAX_TASK_CHARS:
        raise PlanRejected(
            [
                {
                    "where": "assignments",
                    "problem": Wording(
                        vi=f"nhiệm vụ gộp cho {code} ({len(texts)} mục cùng giao cho cơ quan này) dài "
                        f"{vietnamese_number(len(task))} ký tự, vượt giới hạn {vietnamese_number(MAX_TASK_CHARS)} "
                        "ký tự: hãy rút gọn hoặc tách kế hoạch",
                        en=f"the tasks merged for {code} ({len(texts)} clauses naming it) run to {len(task):,} "
                        f"characters, past the limit of {MAX_TASK_CHARS:,}: shorten them or split the plan",
                    ),
                }
            ]
        )
    return task


def _plan_registered(plan_id: str, submission: PlanSubmission, issuer: AgencyRef, count: int) -> PlanRegistered:
    return PlanRegistered(
        correlation_id=plan_id,
        actor=issuer,
        plan_id=plan_id,
        number=submission.number,
        title=submission.title,
        issuer=issuer,
        issued_on=submission.issued_on.isoformat() if submission.issued_on else None,
        assignment_count=count,
    )


def _deadline_record(deadline: ReportingDeadline) -> DeadlineRecord:
    """A deadline as stored; one not read from a document is stored as before, without provenance."""
    record: DeadlineRecord = deadline.model_dump(mode="json")  # type: ignore[assignment]  # DeadlineRecord's keys
    if record.get("provenance") is None:
        record.pop("provenance", None)
    return record


def _assignments(
    plan_id: str, submission: PlanSubmission, issuer: AgencyRef, merged: _Merged, directory: Directory
) -> tuple[list[AssignmentRecord], list[Event]]:
    ladder = submission.escalation_ladder
    event_ladder = EventLadder.model_validate(ladder.model_dump()) if ladder is not None else None
    records: list[AssignmentRecord] = []
    events: list[Event] = []
    for code, texts in merged.tasks.items():
        agency = directory.get(code).ref()
        assignment_id = assignment_id_for(plan_id, code)
        task = _merged_task(code, texts)
        events.append(
            AssignmentCreated(
                correlation_id=plan_id,
                actor=issuer,
                agency=agency,
                assignment_id=assignment_id,
                plan_id=plan_id,
                plan_number=submission.number,
                plan_title=submission.title,
                issuer=issuer,
                task=task,
                deadlines=merged.deadlines[code],
                escalation_ladder=event_ladder,
                provenance=merged.provenance.get(code, []),
                deliverables_required=merged.deliverables[code],
            )
        )
        deadlines = [_deadline_record(d) for d in merged.deadlines[code]]
        record: AssignmentRecord = {
            "assignment_id": assignment_id,
            "agency": code,
            "task": task,
            "deadlines": deadlines,
            "agency_ref": agency.model_dump(),
        }
        if code in merged.provenance:
            record["provenance"] = [p.model_dump(mode="json") for p in merged.provenance[code]]  # type: ignore[misc]  # ProvenanceRecord's keys
        if merged.deliverables[code]:
            record["deliverables_required"] = [d.model_dump(mode="json") for d in merged.deliverables[code]]
        records.append(record)
    return records, events


def register_plan(
    submission: PlanSubmission,
    directory: Directory,
    today: date,
    max_assignments: int,
    calendar: WorkingCalendar | None = None,
) -> tuple[PlanRecord, list[Event]]:
    """Resolve every agency the plan names; return the plan record and the events it causes. `today` is the day
    of registration, from which deadlines counted from receipt run (with `calendar`, default the deployment's)."""
    resolved = _resolve(submission, directory)
    merged = _merge(resolved, submission, today, calendar)
    if len(merged.tasks) > max_assignments:
        raise PlanRejected(
            [
                {
                    "where": "assignments",
                    "problem": Wording(
                        vi=f"kế hoạch giao {vietnamese_number(len(merged.tasks))} nhiệm vụ; mỗi kế hoạch tối đa "
                        f"{vietnamese_number(max_assignments)} nhiệm vụ",
                        en=f"the plan makes {len(merged.tasks):,} assignments; a plan makes at most "
                        f"{max_assignments:,}",
                    ),
                }
            ]
        )
    issuer = resolved.issuer.ref()
    plan_id = plan_id_for(resolved.issuer.code, submission.number, (submission.issued_on or today).year)
    assignments, created = _assignments(plan_id, submission, issuer, merged, directory)
    record: PlanRecord = {
        "_id": plan_id,
        "issuer": resolved.issuer.code,
        "number": submission.number,
        "title": submission.title,
        "issued_on": submission.issued_on.isoformat() if submission.issued_on else None,
        "submission": submission.model_dump(mode="json"),
        "assignments": assignments,
    }
    return record, [_plan_registered(plan_id, submission, issuer, len(assignments)), *created]
