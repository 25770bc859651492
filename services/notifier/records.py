"""The notifier's stored records, as the repository returns them.

Reporting periods, notices and e-mail rows are TypedDicts: the scan reads and decides them a thousand at a time
(a claimed batch is `NOTIFIER_SCAN_BATCH_SIZE`, 1,000), and they are data this service wrote itself. Measured
here (CPython 3.11.7, 2 shared cores, 1,000 stored report periods with a five-step ladder snapshot, best of 7):
a pydantic model of a period took 40.8 ms per 1,000 to validate (steps left as plain dicts; as Step models it
costs more), looking the same keys up 0.3 ms, and the decisions themselves (`decide`) 304 ms per 1,000 — so
validating would add about 13 % to every scan pass, for nothing the type checker does not already give.
Silences are few and come from operators: they are pydantic models, validated on the way in and out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from pydantic import BaseModel, ConfigDict

from services.notifier.rules.decisions import Silence
from shared.contracts.ladder import Track

# An e-mail row's status.
PENDING = "pending"
SENT = "sent"
FAILED = "failed"
DROPPED = "dropped"  # not sent: what it was about no longer applies (services/notifier/rules/outbox.py)


class PeriodRow(TypedDict, total=False):
    """A reporting period or an acknowledgement window (`_id` `<assignment>:<period>` or `<assignment>:ack`)."""

    _id: str
    track: Track
    assignment_id: str
    plan_id: str
    plan_number: str
    plan_title: str
    task: str
    task_revision: int
    issuer: dict[str, Any] | None
    agency: dict[str, Any]
    assigned_at: datetime
    period: str | None
    due_at: datetime | None
    wording: str
    deadlines: list[dict[str, Any]]  # an acknowledgement window's: the assignment's (the assignment notice)
    provenance: list[dict[str, Any]]  # an acknowledgement window's: where the plan's document assigns the task
    # An acknowledgement window's: what to deliver and where, as the plan words it (rows from before 2026-12 lack it)
    deliverables_required: list[dict[str, Any]]
    content_rev: int  # moves on when what its e-mails say changes (a reworded task, a listed deadline moved)
    steps: list[dict[str, Any]]
    ladder_version: str
    ladder_source: str
    calendar_version: str
    state: str
    rev: int
    done: list[str]
    next_check_at: datetime | None
    opened_at: datetime
    claimed_by: str | None
    claimed_at: datetime
    checked_at: datetime
    acknowledged_at: datetime
    submitted_at: datetime
    late_by_seconds: int
    previous_due_at: datetime | None
    extended_at: datetime
    ladder_change_id: str
    ladder_changes: list[dict[str, Any]]


class NoticeRow(TypedDict):
    """One (period, step occurrence, recipient) taken: the unit that is sent exactly once (unique `_id`)."""

    _id: str
    period_id: str
    rev: int
    occurrence: str
    step: str
    level: int
    address: str
    role: str
    copy: bool
    email_id: str
    queued_at: datetime
    calendar_version: str


class EmailRow(TypedDict, total=False):
    """A digest e-mail in the outbox, from queued to sent or failed."""

    _id: str
    to: str
    to_name: str
    subject: str
    text: str
    html: str
    notice_keys: list[str]
    period_ids: list[str]
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    calendar_version: str
    links: list[dict[str, Any]]  # the links it carries (rules/links.py LinkRequest rows); secrets never stored
    link_marker: str  # its marker lines, replaced with the links when it is sent
    claimed_by: str | None
    sent_at: datetime
    dropped_at: datetime
    dropped_reason: str
    content_revs: dict[str, int]  # its periods' `content_rev` when it was written (absent: 0)
    left_out: list[dict[str, str]]  # notices left out of the digest as sent (they no longer applied), with the reasons
    failed_at: datetime
    last_error: str
    last_code: int | None
    last_attempt_at: datetime
    trace: dict[str, str]  # W3C trace context of the plan it is about, when tracing is on (shared/platform/tracing.py)


class SilenceRecord(BaseModel):
    """An operator's silence as stored; `created_by` is the operator whose token created it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    plan_id: str | None = None
    agency: str | None = None
    level: int | None = None
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    created_at: datetime

    def to_row(self) -> dict[str, Any]:
        row = self.model_dump(exclude={"id"})
        return {"_id": self.id, **row}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> SilenceRecord:
        return cls.model_validate({**row, "id": row["_id"]})

    def rule(self) -> Silence:
        """What the decisions need of it."""
        return Silence(self.id, self.starts_at, self.ends_at, self.plan_id, self.agency, self.level)

    def public(self) -> dict[str, Any]:
        return {"silence_id": self.id, **self.model_dump(exclude={"id"})}
