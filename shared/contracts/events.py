"""Message contracts: every event on the bus is one of these models, imported by producer and consumer.

Contracts change additively within a schema version; consumers ignore fields they do not know.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema, computed_field
from pydantic.config import JsonDict

from shared.contracts.ladder import EventLadder
from shared.domain.wording import Wording

SCHEMA_VERSION = 1

AgencyCode = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="stable agency code")]
# The kinds every directory has, with their Vietnamese display names. A directory declares more of its own (a
# commune's hamlets `thon`, a ward's residential groups `to_dan_pho`, a school's departments) in its `kinds`.
DEFAULT_AGENCY_KINDS: dict[str, str] = {
    "ubnd": "Ủy ban nhân dân",
    "propaganda_board": "Ban Tuyên giáo",
    "fatherland_front": "Mặt trận Tổ quốc",
    "socio_political_org": "Tổ chức chính trị - xã hội",
    "party_cell": "Chi bộ",
    "education_unit": "Đơn vị giáo dục",
    "office": "Cơ quan, văn phòng",
}
AGENCY_KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
AgencyKind = Annotated[
    str,
    Field(
        pattern=AGENCY_KIND_PATTERN.pattern,
        description="the agency's kind: one of the seven every directory has (ubnd, propaganda_board, "
        "fatherland_front, socio_political_org, party_cell, education_unit, office) or one its directory declares "
        "(thon, to_dan_pho …); a word of routing keys and metric labels",
    ),
]


def is_agency_kind(text: str | None) -> bool:
    """Whether `text` can be an agency's kind (a default one or one a directory declares), e.g. in a routing key."""
    return text is not None and AGENCY_KIND_PATTERN.fullmatch(text) is not None


PeriodKey = Annotated[
    str,
    Field(
        pattern=r"^\d{4}-(H[12]|FY|Q[1-4]|(0[1-9]|1[0-2])|D\d{2}-\d{2}|[A-Z0-9-]{1,20})$",
        description="reporting period: 2023-H1, 2023-FY, 2024-Q3, 2024-05, or a one-off key",
    ),
]


NO_OFFSET = Wording(
    vi="thời điểm cần ghi rõ múi giờ, ví dụ 2026-07-01T08:00:00+07:00", en="an instant needs its UTC offset"
)


def _to_utc(value: datetime) -> datetime:
    """An instant in UTC, to the millisecond (`format_instant`): what is published is what is stored and read."""
    if value.tzinfo is None:
        raise ValueError(NO_OFFSET)
    utc = value.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


def format_instant(value: datetime) -> str:
    """The one written form of an instant, in events, HTTP answers and history entries alike: ISO 8601 in UTC with
    `Z`, to the millisecond, always three digits (`2026-12-31T16:59:59.999Z`). Milliseconds are what MongoDB
    stores, so an instant reads the same before and after it is stored. A naive value is UTC (as read back from
    MongoDB)."""
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


UtcDatetime = Annotated[
    datetime,
    AfterValidator(_to_utc),
    PlainSerializer(format_instant, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]

_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def new_event_id() -> str:
    return uuid.uuid4().hex


def _utcnow() -> datetime:
    return _to_utc(datetime.now(UTC))


class AgencyRef(BaseModel):
    """An agency as events name it: enough to route and to address a person."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    code: AgencyCode
    kind: AgencyKind
    name: str = Field(description="display name in Vietnamese")


class Agency(BaseModel):
    """A body as the agency directory describes it: how text names it, how to reach it, who supervises it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: AgencyCode
    kind: AgencyKind
    name: str = Field(min_length=1, max_length=300)
    aliases: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    parent: str | None = Field(default=None, description="the supervising agency's code")

    def ref(self) -> AgencyRef:
        return AgencyRef(code=self.code, kind=self.kind, name=self.name)


class Group(BaseModel):
    """A name that stands for several bodies: its explicit members, then every agency of `member_kinds`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: AgencyCode
    name: str = Field(min_length=1, max_length=300)
    aliases: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    member_kinds: tuple[AgencyKind, ...] = Field(default=(), description="every agency of these kinds")


class Event(BaseModel):
    """The envelope every event carries."""

    model_config = ConfigDict(extra="ignore")

    entity: ClassVar[str]
    verb: ClassVar[str]

    event_id: str = Field(default_factory=new_event_id, pattern=_ID.pattern, description="unique; for deduplication")
    occurred_at: UtcDatetime = Field(default_factory=_utcnow, description="when it happened (UTC)")
    schema_version: int = SCHEMA_VERSION
    correlation_id: str = Field(description="the plan this event belongs to")
    actor: AgencyRef | None = Field(default=None, description="the agency that acted, when one did")

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented form; mypy refuses decorators on properties
    @property
    def event_type(self) -> str:
        """`<entity>.<verb>`: which contract this is."""
        return f"{self.entity}.{self.verb}"

    def routing_key(self) -> str:
        return f"{self.entity}.{self.verb}"


class AgencyEvent(Event):
    """An event about one agency's assignment: routed by the agency's kind and code."""

    agency: AgencyRef

    def routing_key(self) -> str:
        return f"{self.entity}.{self.verb}.{self.agency.kind}.{self.agency.code}"


class Provenance(BaseModel):
    """Where a plan document writes a task or a deadline: its clause, page and line, for a clerk to look up.
    Nơi văn bản kế hoạch ghi nhiệm vụ hay thời hạn: điều khoản, trang, dòng."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    clause: str | None = Field(default=None, description="the clause's number as written (1, 2.1, a), if numbered")
    section: str | None = Field(
        default=None, description="the numeral of the plan's section it is in, as written (III), if in one"
    )
    section_title: str | None = Field(
        default=None, description="that section's heading as written, without its numeral (TỔ CHỨC THỰC HIỆN)"
    )
    page: int | None = Field(default=None, ge=1, description="the page, for a PDF or a scan; none for other files")
    line: int = Field(
        ge=1,
        description="the line: on its page for a PDF or a scan, of the file for a text file, the paragraph or "
        "table cell for a .docx",
    )


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


NfcText = Annotated[str, AfterValidator(_nfc)]


class DeliverableRequirement(BaseModel):
    """What a body is to deliver and where, as the plan words it: `01 file word, 01 file scan` to `Văn phòng Đảng
    ủy` or a shared-folder link. Kept as written (NFC); a plan can have several (one per reporting sentence).
    Sản phẩm cơ quan cần gửi và nơi gửi, theo đúng lời văn của kế hoạch."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    items: tuple[Annotated[NfcText, Field(min_length=1, max_length=300)], ...] = Field(
        default=(), max_length=20, description="what to send, each as the plan words it: `01 file word`, `01 bản scan`"
    )
    send_to: Annotated[NfcText, Field(max_length=2_000)] | None = Field(
        default=None,
        description="where to send it as the plan words it: a body (`Văn phòng Đảng ủy`), an e-mail address or a "
        "shared-folder link",
    )
    wording: Annotated[NfcText, Field(max_length=2_000)] = Field(
        default="", description="the plan's sentence that asks for it, as written"
    )
    provenance: Provenance | None = Field(
        default=None, description="where the plan's document writes it; none for a structured plan"
    )


_COMMAND_ID_DESCRIPTION = "the `command_id` of the agency's command that caused this, as its sender chose it"


class ReportingDeadline(BaseModel):
    model_config = ConfigDict(extra="ignore")

    period: PeriodKey
    due_at: UtcDatetime = Field(description="the last instant a report counts as on time (UTC)")
    wording: str = Field(default="", description="the deadline as the plan wrote it")
    provenance: Provenance | None = Field(
        default=None, description="where the plan's document writes it; none for a structured plan or a default"
    )


_UBND: JsonDict = {"code": "ubnd", "kind": "ubnd", "name": "Ủy ban nhân dân phường Hòa An"}
_ISSUER: JsonDict = {"code": "dang-uy", "kind": "office", "name": "Đảng ủy phường Hòa An"}
_ENVELOPE: JsonDict = {
    "event_id": "5f0c6f1e9a7b4e6c8d2a1b3c4d5e6f70",
    "occurred_at": "2026-11-20T02:15:00Z",
    "schema_version": 1,
    "correlation_id": "0b9a6c1d2e3f40516273",
}
# The examples' one assignment: the ward People's Committee's, of the plan in the envelope.
_UBND_ASSIGNMENT: JsonDict = {
    **_ENVELOPE,
    "agency": _UBND,
    "assignment_id": "7c1e2d3f4a5b6c7d8e9f",
    "plan_id": "0b9a6c1d2e3f40516273",
}


class PlanRegistered(Event):
    """A plan was registered: its assignments follow as `assignment.created` events.
    Một kế hoạch đã được tiếp nhận; các nhiệm vụ được giao tiếp theo."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_ENVELOPE,
                    "actor": _ISSUER,
                    "plan_id": "0b9a6c1d2e3f40516273",
                    "number": "07-KH/ĐU",
                    "title": "Kế hoạch triển khai phong trào “Phường Hòa An sáng – xanh – sạch” năm 2027",
                    "issuer": _ISSUER,
                    "issued_on": "2026-11-20",
                    "assignment_count": 7,
                }
            ]
        }
    )

    entity: ClassVar[str] = "plan"
    verb: ClassVar[str] = "registered"

    plan_id: str
    number: str = Field(description="number/symbol, e.g. 85-KH/ĐU")
    title: str
    issuer: AgencyRef
    issued_on: str | None = None
    assignment_count: int
    command_id: str | None = Field(
        default=None, description="the `command_id` of the issuer's `plan.submit` that registered it, if sent so"
    )

    def routing_key(self) -> str:
        # Routed by its issuer, so the issuer's queue can take the answer to its plan.submit (tracking binds
        # `plan.#`); before 2026-12 it was `plan.registered` alone.
        return f"{self.entity}.{self.verb}.{self.issuer.kind}.{self.issuer.code}"


class PlanRejected(Event):
    """The answer to an issuer's `plan.submit` that could not be registered, with the reasons, on the issuer's
    queue (routing key `plan.rejected.<kind>.<code>`). Kế hoạch gửi qua AMQP không được tiếp nhận, kèm lý do."""

    entity: ClassVar[str] = "plan"
    verb: ClassVar[str] = "rejected"

    command_id: str = Field(description="the refused `plan.submit`'s `command_id`, as its sender chose it")
    message_id: str | None = Field(default=None, description="the AMQP message id the command was sent with")
    issuer: AgencyRef = Field(description="the sender")
    number: str | None = Field(default=None, description="the plan's number, when it could be read")
    reason: Literal["invalid", "unresolved", "forbidden", "conflict", "too_large"] = Field(
        description="invalid: the plan does not match the contract; unresolved: bodies or deadlines it names are "
        "unknown; forbidden: not the sender's to issue; conflict: withdrawn, or a correction that cannot be made"
    )
    detail: str = Field(description="what was wrong, for people")
    problems: list[dict[str, str]] = Field(
        default_factory=list, description="each problem: `where` (the field) and `problem`"
    )

    def routing_key(self) -> str:
        return f"{self.entity}.{self.verb}.{self.issuer.kind}.{self.issuer.code}"


class AssignmentCreated(AgencyEvent):
    """One body was assigned a task with its reporting deadlines; routed to `agency.<code>`.
    Một cơ quan được giao nhiệm vụ, kèm các hạn báo cáo."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_UBND_ASSIGNMENT,
                    "actor": _ISSUER,
                    "plan_number": "07-KH/ĐU",
                    "plan_title": "Kế hoạch triển khai phong trào “Phường Hòa An sáng – xanh – sạch” năm 2027",
                    "issuer": _ISSUER,
                    "task": "Chỉ đạo các tổ dân phố ra quân vệ sinh môi trường vào sáng Chủ nhật cuối mỗi tháng.",
                    "deadlines": [
                        {
                            "period": "2027-H1",
                            "due_at": "2027-06-30T16:59:59.999Z",
                            "wording": "báo cáo 6 tháng, gửi trước ngày 01 tháng 7",
                        }
                    ],
                    "provenance": [
                        {
                            "clause": "1",
                            "section": "III",
                            "section_title": "TỔ CHỨC THỰC HIỆN",
                            "page": None,
                            "line": 42,
                        }
                    ],
                    "deliverables_required": [
                        {
                            "items": ["01 file word", "01 file scan"],
                            "send_to": "Văn phòng Đảng ủy",
                            "wording": "Các đơn vị gửi báo cáo về Văn phòng Đảng ủy bằng 01 file word và 01 file scan.",
                            "provenance": {"clause": None, "section": "IV", "page": None, "line": 52},
                        }
                    ],
                }
            ]
        }
    )

    entity: ClassVar[str] = "assignment"
    verb: ClassVar[str] = "created"

    assignment_id: str
    plan_id: str
    plan_number: str
    plan_title: str
    issuer: AgencyRef
    task: str
    deadlines: list[ReportingDeadline]
    escalation_ladder: EventLadder | None = Field(
        default=None,
        description="the plan's own escalation ladder (the shape of the deployment's ladder file); a track it "
        "leaves out, or no ladder at all, follows the deployment's ladder",
    )
    provenance: list[Provenance] = Field(
        default_factory=list,
        description="where the plan's document assigns this task: one place for each clause naming the body; "
        "empty for a structured plan",
    )
    deliverables_required: list[DeliverableRequirement] = Field(
        default_factory=list,
        description="what the body is to deliver for its reports and where to send it, as the plan words it; "
        "empty when the plan does not say",
    )


class AssignmentCancelled(AgencyEvent):
    entity: ClassVar[str] = "assignment"
    verb: ClassVar[str] = "cancelled"

    assignment_id: str
    plan_id: str
    reason: str


class AssignmentRevised(AgencyEvent):
    """A corrected plan rewords one body's task, changes what it is to deliver, or moves it to another section or
    clause: `task` is the text from now on (the same as `previous_task` when only the deliverables or the place
    changed), `deliverables_required` what to deliver from now on (absent: unchanged), `provenance` where the
    document assigns it from now on; deadlines are unchanged.
    Bản kế hoạch sửa đổi thay đổi nội dung nhiệm vụ, hoặc sản phẩm cần gửi, của một cơ quan."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_UBND_ASSIGNMENT,
                    "actor": _ISSUER,
                    "task": (
                        "Chỉ đạo các tổ dân phố ra quân vệ sinh môi trường vào sáng thứ Bảy và Chủ nhật cuối mỗi tháng."
                    ),
                    "previous_task": (
                        "Chỉ đạo các tổ dân phố ra quân vệ sinh môi trường vào sáng Chủ nhật cuối mỗi tháng."
                    ),
                    "plan_version": 1,
                }
            ]
        }
    )

    entity: ClassVar[str] = "assignment"
    verb: ClassVar[str] = "revised"

    assignment_id: str
    plan_id: str
    task: str = Field(description="the task as the corrected plan words it")
    previous_task: str = Field(description="the task as it was worded before this correction")
    plan_version: int = Field(ge=1, description="the correction that made the change: 1 for the plan's first")
    deliverables_required: list[DeliverableRequirement] | None = Field(
        default=None,
        description="what the body is to deliver and where from now on, as the corrected plan words it (an empty "
        "list: the plan no longer says); absent or null when this correction did not change it",
    )
    provenance: list[Provenance] | None = Field(
        default=None,
        description="where the corrected plan's document assigns the task from now on (with a revision for another "
        "reason, or when the task moved to another section or clause); absent or null: unchanged or not known",
    )

    def revised_fields(self) -> dict[str, Any]:
        """What the revision sets on a stored copy of the assignment (tracking's record, the notifier's open
        items): the task, and what to deliver when the correction changed it."""
        fields: dict[str, Any] = {"task": self.task}
        if self.deliverables_required is not None:
            fields["deliverables_required"] = [d.model_dump(mode="json") for d in self.deliverables_required]
        if self.provenance is not None:
            fields["provenance"] = [p.model_dump(mode="json") for p in self.provenance]
        return fields


class AssignmentAcknowledged(AgencyEvent):
    entity: ClassVar[str] = "assignment"
    verb: ClassVar[str] = "acknowledged"

    assignment_id: str
    plan_id: str
    command_id: str | None = Field(default=None, description=_COMMAND_ID_DESCRIPTION)


class ProgressReported(AgencyEvent):
    entity: ClassVar[str] = "assignment"
    verb: ClassVar[str] = "progress"

    assignment_id: str
    plan_id: str
    command_id: str | None = Field(default=None, description=_COMMAND_ID_DESCRIPTION)
    percent: int = Field(ge=0, le=100)
    note: str = ""


class Deliverable(BaseModel):
    """One file or outside reference a report delivers. A file uploaded to tracking has `link` `/files/{file_id}`
    and the media type tracking sniffed from its content."""

    model_config = ConfigDict(extra="forbid")

    file_name: str = Field(min_length=1, max_length=255)
    media_type: str = Field(max_length=127)
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    link: str = Field(max_length=2_000, description="where the file can be fetched, or a reference")


class ReportSubmitted(AgencyEvent):
    """A body submitted its report for one period (on time, or late by `late_by_seconds`).
    Cơ quan đã gửi báo cáo của một kỳ."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_UBND_ASSIGNMENT,
                    "actor": _UBND,
                    "period": "2027-H1",
                    "submitted_at": "2027-06-28T08:00:00Z",
                    "due_at": "2027-06-30T16:59:59.999Z",
                    "late_by_seconds": 0,
                    "revision": 1,
                }
            ]
        }
    )

    entity: ClassVar[str] = "report"
    verb: ClassVar[str] = "submitted"

    assignment_id: str
    plan_id: str
    period: PeriodKey
    submitted_at: UtcDatetime
    due_at: UtcDatetime
    late_by_seconds: int = Field(ge=0, description="0 when on time")
    revision: int = Field(ge=1, description="1 for the first report of the period")
    deliverables: list[Deliverable] = Field(
        default_factory=list, max_length=20, description="the files and references the report delivers"
    )
    command_id: str | None = Field(default=None, description=_COMMAND_ID_DESCRIPTION)


class EscalationSent(AgencyEvent):
    """A step of the escalation ladder was taken for one agency's reporting period or acknowledgement."""

    entity: ClassVar[str] = "escalation"
    verb: ClassVar[str] = "sent"

    assignment_id: str
    plan_id: str
    period: PeriodKey | None = Field(default=None, description="the reporting period; null for acknowledgement")
    step: str = Field(description="the ladder step, e.g. reminder-7d, overdue, level-1, ack-reminder")
    recipients: list[str]
    overdue_by_seconds: int
    level: int = Field(default=0, ge=0, description="0: a notice to the agency; 1, 2: escalation levels")
    track: Literal["report", "acknowledgement"] = Field(
        default="report", description="which ladder: a reporting deadline's, or the acknowledgement's"
    )
    occurrence: int = Field(default=1, ge=1, description="1 for the step's first sending; repeats count up")
    due_at: UtcDatetime | None = Field(default=None, description="the period's effective deadline (UTC)")
    calendar_version: str = Field(default="", description="the working-day calendar the decision used")
    ladder_version: str = Field(default="", description="the ladder snapshot the period opened with")


class ExtensionRequested(AgencyEvent):
    """An agency asks for a later deadline for one period."""

    entity: ClassVar[str] = "extension"
    verb: ClassVar[str] = "requested"

    request_id: str
    assignment_id: str
    plan_id: str
    command_id: str | None = Field(default=None, description=_COMMAND_ID_DESCRIPTION)
    period: PeriodKey
    current_due_at: UtcDatetime
    requested_due_at: UtcDatetime
    reason: str


class ExtensionRefused(AgencyEvent):
    entity: ClassVar[str] = "extension"
    verb: ClassVar[str] = "refused"

    request_id: str
    assignment_id: str
    plan_id: str
    period: PeriodKey
    reason: str = ""


class DeadlineExtended(AgencyEvent):
    """The issuer approved an extension: `due_at` is the period's effective deadline from now on."""

    entity: ClassVar[str] = "deadline"
    verb: ClassVar[str] = "extended"

    request_id: str
    assignment_id: str
    plan_id: str
    period: PeriodKey
    previous_due_at: UtcDatetime
    due_at: UtcDatetime
    wording: str = Field(default="", description="the new deadline as the decision wrote it")


class DirectoryUpdated(Event):
    """The agency directory changed: entries added or changed, and codes removed, as of `version`.

    `complete` means the event lists the whole directory: entries it does not name are removed."""

    entity: ClassVar[str] = "directory"
    verb: ClassVar[str] = "updated"

    version: int = Field(ge=1, description="the directory's version after this change; applied only if newer")
    agencies: list[Agency] = Field(default_factory=list, description="agencies added or changed")
    groups: list[Group] = Field(default_factory=list, description="groups added or changed")
    removed_agencies: list[AgencyCode] = Field(default_factory=list)
    removed_groups: list[AgencyCode] = Field(default_factory=list)
    kinds: dict[AgencyKind, str] = Field(
        default_factory=dict,
        description="agency kinds the directory declares (added or renamed), with their Vietnamese display names; "
        "the seven default kinds need no declaration",
    )
    complete: bool = False
    changed_by: str = Field(default="", description="who made the change (operator or service)")


class LinkRequested(Event):
    """Someone holding an agency's personal link (expired, revoked or still valid) asked for a new one. The
    notifier issues a fresh link from tracking and sends it to the agency's registered address, never to the
    asker. `scope` "act" opens the agency's own pages; "view" a supervising body's read-only page of
    `view_of`, the body that is late. `correlation_id` is `link:<agency>`: no plan is involved."""

    entity: ClassVar[str] = "link"
    verb: ClassVar[str] = "requested"

    agency: AgencyCode = Field(description="the agency the link is for, and whose registered address gets it")
    scope: Literal["act", "view"] = "act"
    view_of: AgencyCode | None = Field(default=None, description='for scope "view": the body whose page it shows')


class CommandRejected(AgencyEvent):
    """The answer to an agency's command that could not be applied, on the sender's own queue (routing key
    `command.rejected.<kind>.<code>`); the command is also dead-lettered for the operators.
    Lệnh của cơ quan không được áp dụng, kèm lý do."""

    entity: ClassVar[str] = "command"
    verb: ClassVar[str] = "rejected"

    command_id: str = Field(description="the refused command's `command_id`, as its sender chose it")
    command_type: str = Field(description="e.g. command.acknowledge")
    message_id: str | None = Field(default=None, description="the AMQP message id the command was sent with")
    assignment_id: str
    reason: Literal["not_found", "forbidden", "conflict", "refused", "invalid"] = Field(
        description="not_found: no such assignment (after a bounded wait); forbidden: not the sender's; conflict, "
        "refused: not allowed in the assignment's state; invalid: the command itself is wrong"
    )
    detail: str = Field(description="what was wrong, for people")


EVENT_TYPES: dict[str, type[Event]] = {
    f"{cls.entity}.{cls.verb}": cls
    for cls in (
        PlanRegistered,
        AssignmentCreated,
        AssignmentCancelled,
        AssignmentRevised,
        AssignmentAcknowledged,
        ProgressReported,
        ReportSubmitted,
        EscalationSent,
        ExtensionRequested,
        ExtensionRefused,
        DeadlineExtended,
        DirectoryUpdated,
        LinkRequested,
        CommandRejected,
        PlanRejected,
    )
}
