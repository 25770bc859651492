"""Intake's rules: a submitted plan becomes one assignment per responsible agency, with its deadlines."""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import date, datetime, time
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from shared.calendar import WorkingCalendar, deployment_calendar, end_of_day
from shared.clock import VIETNAM
from shared.contracts import (
    AssignmentCreated,
    Event,
    PeriodKey,
    PlanRegistered,
    ReportingDeadline,
)
from shared.directory import Directory, UnknownAgency
from shared.ladder import EventLadder, LadderSpec

_HAS_TIME = re.compile(r"^\s*\d{4}-\d{2}-\d{2}[Tt ]\d")
_INSTANT = TypeAdapter(datetime)
_PLAN_NAMESPACE = uuid.UUID("6f1c8d52-4a0e-4c36-9d53-5b2f0b6a7e11")

Text = Annotated[str, Field(min_length=1, max_length=20_000)]


class AfterReceipt(BaseModel):
    """A deadline counted from the day the plan is received (`trong vòng 10 ngày kể từ ngày nhận được`). The plan
    cannot know when each body receives it; the day intake registers the plan stands for it."""

    model_config = ConfigDict(extra="forbid")

    days: int = Field(ge=0, le=999)
    working_days: bool = Field(default=False, description="working days (`ngày làm việc`) rather than calendar days")


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
    wording: str = Field(default="", max_length=2_000, description="the deadline as the plan wrote it")

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
            raise ValueError("an instant needs its UTC offset, e.g. 2026-06-30T23:59:59+07:00")
        return value

    @model_validator(mode="after")
    def _due_or_after_receipt(self) -> DeadlineIn:
        if (self.due is None) == (self.after_receipt is None):
            raise ValueError("give either `due` or `after_receipt`")
        return self

    def to_contract(
        self, received_on: date | None = None, calendar: WorkingCalendar | None = None
    ) -> ReportingDeadline:
        """The deadline as published; one counted from receipt runs from `received_on`, the day of registration."""
        if self.after_receipt is not None:
            if received_on is None:
                raise ValueError(f"the deadline of {self.period} runs from receipt: give the day of registration")
            last_day = (calendar or deployment_calendar()).duration_end(
                received_on, self.after_receipt.days, working_days=self.after_receipt.working_days
            )
            return ReportingDeadline(period=self.period, due_at=end_of_day(last_day), wording=self.wording)
        if self.due is None:  # excluded by validation
            raise ValueError(f"the deadline of {self.period} has neither `due` nor `after_receipt`")
        return ReportingDeadline(period=self.period, due_at=effective_instant(self.due), wording=self.wording)


class AssignmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency: Text = Field(description="agency or group: its directory code or a name as written in the plan")
    task: Text = Field(description="the task as the plan words it")
    deadlines: list[DeadlineIn] | None = Field(default=None, description="overrides the plan's deadlines")


class PlanSubmission(BaseModel):
    """A structured plan, as another agency's system sends it."""

    model_config = ConfigDict(extra="forbid")

    issuer: Text = Field(description="the issuing body: directory code or name")
    number: Annotated[str, Field(min_length=1, max_length=100)] = Field(description="number/symbol, e.g. 85-KH/ĐU")
    title: Text
    issued_on: date | None = None
    assignments: list[AssignmentIn] = Field(min_length=1)
    deadlines: list[DeadlineIn] = Field(default_factory=list, description="reporting deadlines for every assignment")
    escalation_ladder: LadderSpec | None = Field(
        default=None,
        description="this plan's own escalation ladder, in the shape of the deployment's ladder file "
        "(`acknowledgement: [...]`, `report: [...]`); a track left out follows the deployment's ladder",
    )


class PlanRejected(ValueError):
    """The plan cannot be registered as submitted; `problems` says where and why."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['where']}: {p['problem']}" for p in problems))
        self.problems = problems


def effective_instant(due: date | datetime) -> datetime:
    """A date means the whole of that day in Vietnam; the stored instant is its last microsecond."""
    if isinstance(due, datetime):
        return due
    return datetime.combine(due, time.max, tzinfo=VIETNAM)


def plan_id_for(issuer_code: str, number: str, year: int) -> str:
    key = f"{issuer_code}|{unicodedata.normalize('NFC', number).strip()}|{year}"
    return uuid.uuid5(_PLAN_NAMESPACE, key).hex[:20]


def assignment_id_for(plan_id: str, agency_code: str) -> str:
    return uuid.uuid5(_PLAN_NAMESPACE, f"{plan_id}|{agency_code}").hex[:20]


def counts_from_receipt(submission: PlanSubmission) -> bool:
    """Whether a deadline of the plan runs from the day it is received (registered)."""
    deadlines = [*submission.deadlines, *(d for a in submission.assignments for d in a.deadlines or [])]
    return any(d.after_receipt is not None for d in deadlines)


def register_plan(
    submission: PlanSubmission,
    directory: Directory,
    today: date,
    max_assignments: int,
    calendar: WorkingCalendar | None = None,
) -> tuple[dict[str, object], list[Event]]:
    """Resolve every agency the plan names; return the plan record and the events it causes. `today` is the day
    of registration, from which deadlines counted from receipt run (with `calendar`, default the deployment's)."""
    problems: list[dict[str, str]] = []
    try:
        issuers = directory.resolve(submission.issuer)
    except UnknownAgency as exc:
        problems.append({"where": "issuer", "problem": str(exc)})
        issuers = []
    if len(issuers) > 1:
        problems.append({"where": "issuer", "problem": f"{submission.issuer!r} names a group, not one body"})

    resolved: list[tuple[int, AssignmentIn, list[str]]] = []
    for index, item in enumerate(submission.assignments):
        try:
            resolved.append((index, item, [a.code for a in directory.resolve(item.agency)]))
        except UnknownAgency as exc:
            problems.append({"where": f"assignments[{index}].agency", "problem": str(exc)})
    for index, item in enumerate(submission.assignments):
        if not (item.deadlines if item.deadlines is not None else submission.deadlines):
            problems.append({"where": f"assignments[{index}]", "problem": "no reporting deadline for this task"})
    ladder = submission.escalation_ladder
    if ladder is not None and not (ladder.given("acknowledgement") or ladder.given("report")):
        problems.append(
            {
                "where": "escalation_ladder",
                "problem": "gives neither acknowledgement nor report steps; leave it out to follow the "
                "deployment's ladder",
            }
        )
    if problems:
        raise PlanRejected(problems)

    issuer = issuers[0]
    year = (submission.issued_on or today).year
    plan_id = plan_id_for(issuer.code, submission.number, year)
    issuer_ref = issuer.ref()

    # One assignment per agency: an agency named twice (alone and in a group) gets both tasks in one.
    tasks: dict[str, list[str]] = {}
    deadlines_for: dict[str, list[ReportingDeadline]] = {}
    for index, item, codes in resolved:
        if not codes:
            problems.append(
                {
                    "where": f"assignments[{index}].agency",
                    "problem": f"{item.agency!r} names a group with no members in the directory",
                }
            )
    if problems:
        raise PlanRejected(problems)
    for _, item, codes in resolved:
        item_deadlines = [d.to_contract(today, calendar) for d in (item.deadlines or submission.deadlines)]
        for code in codes:
            tasks.setdefault(code, []).append(item.task)
            merged = {d.period: d for d in deadlines_for.get(code, [])}
            for deadline in item_deadlines:
                merged.setdefault(deadline.period, deadline)
            deadlines_for[code] = sorted(merged.values(), key=lambda d: d.due_at)
    if len(tasks) > max_assignments:
        raise PlanRejected(
            [{"where": "assignments", "problem": f"{len(tasks)} assignments; at most {max_assignments} per plan"}]
        )

    events: list[Event] = [
        PlanRegistered(
            correlation_id=plan_id,
            actor=issuer_ref,
            plan_id=plan_id,
            number=submission.number,
            title=submission.title,
            issuer=issuer_ref,
            issued_on=submission.issued_on.isoformat() if submission.issued_on else None,
            assignment_count=len(tasks),
        )
    ]
    assignments = []
    for code, texts in tasks.items():
        agency = directory.get(code)
        assignment_id = assignment_id_for(plan_id, code)
        task = "\n".join(texts)
        events.append(
            AssignmentCreated(
                correlation_id=plan_id,
                actor=issuer_ref,
                agency=agency.ref(),
                assignment_id=assignment_id,
                plan_id=plan_id,
                plan_number=submission.number,
                plan_title=submission.title,
                issuer=issuer_ref,
                task=task,
                deadlines=deadlines_for[code],
                escalation_ladder=EventLadder.model_validate(ladder.model_dump()) if ladder is not None else None,
            )
        )
        assignments.append(
            {
                "assignment_id": assignment_id,
                "agency": code,
                "task": task,
                "deadlines": [d.model_dump(mode="json") for d in deadlines_for[code]],
                "agency_ref": agency.ref().model_dump(),
            }
        )

    record: dict[str, object] = {
        "_id": plan_id,
        "issuer": issuer.code,
        "number": submission.number,
        "title": submission.title,
        "issued_on": submission.issued_on.isoformat() if submission.issued_on else None,
        "submission": submission.model_dump(mode="json"),
        "assignments": assignments,
    }
    return record, events
