"""What each action decides, without I/O: the change to the assignment (a `domain.Change`, written by the
repository) and the fact to publish, at one moment `now`. The bulk acknowledgement path uses the same rule."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.tracking import domain
from services.tracking.domain import AssignmentRecord, Change
from services.tracking.use_cases.errors import Forbidden, Refused
from services.tracking.use_cases.messages import DecideExtension
from shared.contracts.commands import AcknowledgeAssignment, Command, ReportProgress, RequestExtension, SubmitReport
from shared.contracts.events import (
    AgencyRef,
    AssignmentAcknowledged,
    DeadlineExtended,
    Event,
    ExtensionRefused,
    ExtensionRequested,
    ProgressReported,
    ReportSubmitted,
)
from shared.domain.clock import as_utc
from shared.domain.wording import Wording
from shared.platform.auth import Principal


@dataclass(frozen=True)
class Decision:
    """What an action does: the change to its assignment, the fact, and for extensions the request to store (when
    an agency asks) or the outcome to write on it (when the issuer decides)."""

    change: Change | None
    event: Event
    extension: dict[str, Any] | None = None


def _common(assignment: AssignmentRecord, event_id: str, now: datetime) -> dict[str, Any]:
    agency = AgencyRef.model_validate(assignment["agency"])
    return {
        "event_id": event_id,
        "correlation_id": assignment["plan_id"],
        "actor": agency,
        "agency": agency,
        "occurred_at": now,
        "assignment_id": assignment["_id"],
        "plan_id": assignment["plan_id"],
    }


def _acknowledge(command: Any, assignment: AssignmentRecord, event_id: str, now: datetime) -> Decision:
    state = domain.acknowledge(assignment)
    return Decision(
        Change({"state": state, "acknowledged_at": now}),
        AssignmentAcknowledged(**_common(assignment, event_id, now), command_id=command.command_id),
    )


def _progress(command: ReportProgress, assignment: AssignmentRecord, event_id: str, now: datetime) -> Decision:
    state = domain.report_progress(assignment, command.percent)
    event = ProgressReported(
        **_common(assignment, event_id, now),
        percent=command.percent,
        note=command.note,
        command_id=command.command_id,
    )
    return Decision(Change({"state": state, "progress": command.percent, "progress_note": command.note}), event)


def _report(command: SubmitReport, assignment: AssignmentRecord, event_id: str, now: datetime) -> Decision:
    outcome = domain.submit_report(assignment, command.period, now)
    event = ReportSubmitted(
        **_common(assignment, event_id, now),
        period=command.period,
        submitted_at=now,
        due_at=outcome.due_at,
        late_by_seconds=outcome.late_by_seconds,
        revision=outcome.revision,
        deliverables=command.deliverables,
        command_id=command.command_id,
    )
    report = {
        "event_id": event_id,
        "submitted_at": now,
        "late_by_seconds": outcome.late_by_seconds,
        "revision": outcome.revision,
        "note": command.note,
        "deliverables": [d.model_dump() for d in command.deliverables],
    }
    return Decision(Change({"state": outcome.state}, period=command.period, report=report), event)


def _extend(command: RequestExtension, assignment: AssignmentRecord, event_id: str, now: datetime) -> Decision:
    current = domain.request_extension(assignment, command.period, command.requested_due_at)
    event = ExtensionRequested(
        **_common(assignment, event_id, now),
        request_id=event_id,
        period=command.period,
        current_due_at=current,
        requested_due_at=command.requested_due_at,
        reason=command.reason,
        command_id=command.command_id,
    )
    extension = {
        "_id": event_id,
        "assignment_id": assignment["_id"],
        "plan_id": assignment["plan_id"],
        "agency": assignment["agency"],
        "issuer": assignment["issuer"],
        "period": command.period,
        "current_due_at": current,
        "requested_due_at": command.requested_due_at,
        "reason": command.reason,
        "status": "pending",
        "requested_at": now,
    }
    return Decision(None, event, extension)


# Each agency command to the rule that decides it (pure: no I/O, one moment `now`).
DECIDERS: dict[type[Command], Callable[[Any, AssignmentRecord, str, datetime], Decision]] = {
    AcknowledgeAssignment: _acknowledge,
    ReportProgress: _progress,
    SubmitReport: _report,
    RequestExtension: _extend,
}


def decide(command: Command, assignment: AssignmentRecord, event_id: str, now: datetime) -> Decision:
    """The change and the fact an agency's command makes to its assignment (also the bulk path's rule)."""
    decider = DECIDERS.get(type(command))
    if decider is None:
        raise Refused(
            Wording(vi=f"Không hỗ trợ lệnh {command.command_type}.", en=f"unsupported command {command.command_type}")
        )
    return decider(command, assignment, event_id, now)


# An extension request's decision as a sentence says it.
_DECIDED = {"approved": "đã được chấp thuận", "refused": "đã bị từ chối"}


def decide_extension(
    command: DecideExtension, request: dict[str, Any], assignment: AssignmentRecord, actor: Principal, now: datetime
) -> Decision:
    if not domain.may_decide_extension(actor, assignment["issuer"]["code"]):
        plan_id = assignment["plan_id"]
        raise Forbidden(
            Wording(
                vi=f"Chỉ cơ quan ban hành kế hoạch {plan_id} hoặc quản trị viên mới được quyết định đề nghị gia hạn.",
                en=f"only the issuer of plan {plan_id} or an operator may decide",
            )
        )
    if request["status"] != "pending":
        done = _DECIDED.get(request["status"], f"đã ở trạng thái «{request['status']}»")
        raise Refused(
            Wording(
                vi=f"Đề nghị gia hạn {command.request_id} {done} từ trước.",
                en=f"extension request {command.request_id} was already {request['status']}",
            )
        )
    common = {
        **_common(assignment, uuid.uuid4().hex, now),
        "request_id": command.request_id,
        "period": request["period"],
    }
    common.pop("actor")
    outcome = {
        "status": "approved" if command.approve else "refused",
        "decided_at": now,
        "decided_by": actor.code,
        "decision_reason": command.reason,
    }
    if not command.approve:
        return Decision(None, ExtensionRefused(**common, reason=command.reason), outcome)
    previous = as_utc(assignment["periods"][request["period"]]["due_at"])
    event = DeadlineExtended(
        **common, previous_due_at=previous, due_at=request["requested_due_at"], wording=command.reason
    )
    moved = {
        "request_id": command.request_id,
        "from": previous,
        "to": event.due_at,
        "approved_by": actor.code,
        "at": now,
    }
    return Decision(Change({}, period=request["period"], due_at=event.due_at, extension=moved), event, outcome)
