"""What agencies and issuers do to assignments, whatever the channel (HTTP or AMQP): one place that
loads, checks ownership, applies the domain rules and writes state, audit row and outbox event in
one transaction. A command sent twice (same command id) is applied once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import structlog
from prometheus_client import Counter
from pymongo import AsyncMongoClient
from pymongo.errors import BulkWriteError

from services.tracking import domain, status_metrics
from services.tracking.repository import TrackingRepository
from shared.auth import Role
from shared.clock import Clock, as_utc
from shared.commands import AcknowledgeAssignment, Command, ReportProgress, RequestExtension, SubmitReport
from shared.contracts import (
    AgencyRef,
    AssignmentAcknowledged,
    DeadlineExtended,
    Event,
    ExtensionRefused,
    ExtensionRequested,
    ProgressReported,
    ReportSubmitted,
)
from shared.mongo import in_transaction
from shared.outbox import Outbox

log = structlog.get_logger()

DUPLICATE_KEY = 11000

FORBIDDEN = Counter(
    "dondoc_forbidden_total", "Actions refused because the actor may not act on the object.", ["channel"]
)

Channel = Literal["http", "amqp"]


@dataclass(frozen=True)
class Actor:
    code: str
    role: Role
    channel: Channel


class ActionError(Exception):
    """An action refused; `kind` tells the channel how to answer (HTTP status, dead letter)."""

    kind: str = "invalid"


class NotFound(ActionError):
    kind = "not_found"


class Forbidden(ActionError):
    kind = "forbidden"


class Conflict(ActionError):
    kind = "conflict"


class Refused(ActionError):
    """The rules forbid it in the current state (illegal transition, unknown period)."""

    kind = "refused"


@dataclass(frozen=True)
class ActionResult:
    event: dict[str, Any]
    duplicate: bool


class AssignmentActions:
    def __init__(
        self, client: AsyncMongoClient[dict[str, Any]], repository: TrackingRepository, outbox: Outbox, clock: Clock
    ) -> None:
        self._client = client
        self._repo = repository
        self._outbox = outbox
        self._clock = clock

    async def apply(self, command: Command, actor: Actor) -> ActionResult:
        """Apply an agency's command to its own assignment."""
        event_id = command.event_id(actor.code)
        structlog.contextvars.bind_contextvars(assignment_id=command.assignment_id, agency=actor.code)
        return await self._transact(
            command.assignment_id, actor, event_id, lambda a, _: self._decide(command, a, event_id)
        )

    async def decide_extension(self, request_id: str, approve: bool, actor: Actor, reason: str = "") -> ActionResult:
        """The issuer (or an operator) approves or refuses an agency's extension request."""
        request = await self._repo.extensions.find_one({"_id": request_id})
        if request is None:
            raise NotFound(f"no extension request {request_id}")
        event_id = uuid.uuid4().hex

        def decide(
            assignment: dict[str, Any], request: dict[str, Any]
        ) -> tuple[dict[str, Any], Event, dict[str, Any] | None]:
            if actor.role == "agency" or (actor.role == "issuer" and assignment["issuer"]["code"] != actor.code):
                raise Forbidden(f"only the issuer of plan {assignment['plan_id']} or an operator may decide")
            if request["status"] != "pending":
                raise Refused(f"extension request {request_id} was already {request['status']}")
            agency = AgencyRef.model_validate(assignment["agency"])
            now = self._clock.now()
            common = {
                "event_id": event_id,
                "correlation_id": assignment["plan_id"],
                "occurred_at": now,
                "agency": agency,
                "request_id": request_id,
                "assignment_id": assignment["_id"],
                "plan_id": assignment["plan_id"],
                "period": request["period"],
            }
            extension_update = {
                "status": "approved" if approve else "refused",
                "decided_at": now,
                "decided_by": actor.code,
                "decision_reason": reason,
            }
            if not approve:
                return {}, ExtensionRefused(**common, reason=reason), extension_update
            previous = as_utc(assignment["periods"][request["period"]]["due_at"])
            event = DeadlineExtended(
                **common, previous_due_at=previous, due_at=request["requested_due_at"], wording=reason
            )
            period = f"periods.{request['period']}"
            update = {
                "$set": {f"{period}.due_at": event.due_at},
                "$push": {
                    f"{period}.extensions": {
                        "request_id": request_id,
                        "from": previous,
                        "to": event.due_at,
                        "approved_by": actor.code,
                        "at": now,
                    }
                },
            }
            return update, event, extension_update

        return await self._transact(
            request["assignment_id"], actor, event_id, decide, check_owner=False, extension_id=request_id
        )

    async def _transact(
        self,
        assignment_id: str,
        actor: Actor,
        event_id: str,
        decide: Any,
        *,
        check_owner: bool = True,
        extension_id: str | None = None,
    ) -> ActionResult:
        repo = self._repo

        async def work(session: Any) -> ActionResult:
            earlier = await repo.events.find_one({"_id": event_id}, session=session)
            if earlier is not None:
                return ActionResult(event=earlier["data"], duplicate=True)
            assignment = await repo.get_assignment(assignment_id, session)
            if assignment is None:
                raise NotFound(f"no assignment {assignment_id}")
            structlog.contextvars.bind_contextvars(plan_id=assignment["plan_id"])
            if check_owner and assignment["agency"]["code"] != actor.code:
                raise Forbidden(f"assignment {assignment_id} is not assigned to {actor.code}")
            request = None
            if extension_id:
                # Re-read inside the transaction: two concurrent decisions cannot both pass the check.
                request = await repo.extensions.find_one({"_id": extension_id}, session=session)
            update, event, extras = decide(assignment, request)
            if update and not await repo.update_assignment(assignment, update, session):
                raise Conflict("the assignment changed while this request ran; try again")
            if isinstance(event, ExtensionRequested):
                await repo.extensions.insert_one(extras, session=session)
            elif extension_id and extras:
                await repo.extensions.update_one({"_id": extension_id}, {"$set": extras}, session=session)
            await repo.record_event(event, session, channel=actor.channel, actor_role=actor.role)
            await self._outbox.add([event], session)
            return ActionResult(event=event.model_dump(mode="json"), duplicate=False)

        try:
            result = await in_transaction(self._client, work)
        except Forbidden:
            FORBIDDEN.labels(actor.channel).inc()
            raise
        except (domain.IllegalTransition, domain.UnknownPeriod) as exc:
            raise Refused(str(exc)) from exc
        if not result.duplicate:
            self._outbox.wake()
            log.info("assignment updated", event_type=result.event["event_type"], channel=actor.channel)
        return result

    def decide(
        self, command: Command, assignment: dict[str, Any], event_id: str, now: datetime | None = None
    ) -> tuple[dict[str, Any], Event, dict[str, Any] | None]:
        """The change and the event an agency's command makes to its assignment (no I/O): for the bulk path,
        which decides a batch at one moment (`now`), as it writes it at once."""
        return self._decide(command, assignment, event_id, now)

    def now(self) -> datetime:
        return self._clock.now()

    def wake_outbox(self) -> None:
        self._outbox.wake()

    async def add_to_outbox(self, events: list[Event]) -> None:
        """Outbox rows written outside a transaction (the bulk path): a row already there is left as it is."""
        try:
            await self._outbox.add(events, None)
        except BulkWriteError as exc:
            if any(error.get("code") != DUPLICATE_KEY for error in exc.details.get("writeErrors", [])):
                raise

    def _decide(
        self, command: Command, assignment: dict[str, Any], event_id: str, now: datetime | None = None
    ) -> tuple[dict[str, Any], Event, dict[str, Any] | None]:
        now = now or self._clock.now()
        agency = AgencyRef.model_validate(assignment["agency"])
        common: dict[str, Any] = {
            "event_id": event_id,
            "correlation_id": assignment["plan_id"],
            "actor": agency,
            "agency": agency,
            "occurred_at": now,
            "assignment_id": assignment["_id"],
            "plan_id": assignment["plan_id"],
        }
        if isinstance(command, AcknowledgeAssignment):
            state = domain.acknowledge(assignment)
            status_metrics.observe_acknowledgement(assignment, now)
            return {"$set": {"state": state, "acknowledged_at": now}}, AssignmentAcknowledged(**common), None
        if isinstance(command, ReportProgress):
            state = domain.report_progress(assignment, command.percent)
            event = ProgressReported(**common, percent=command.percent, note=command.note)
            return {"$set": {"state": state, "progress": command.percent, "progress_note": command.note}}, event, None
        if isinstance(command, SubmitReport):
            result = domain.submit_report(assignment, command.period, now)
            event = ReportSubmitted(
                **common,
                period=command.period,
                submitted_at=now,
                due_at=result.due_at,
                late_by_seconds=result.late_by_seconds,
                revision=result.revision,
            )
            report = {
                "event_id": event_id,
                "submitted_at": now,
                "late_by_seconds": result.late_by_seconds,
                "revision": result.revision,
                "note": command.note,
                "deliverables": [d.model_dump() for d in command.deliverables],
            }
            update = {"$set": {"state": result.state}, "$push": {f"periods.{command.period}.reports": report}}
            return update, event, None
        if isinstance(command, RequestExtension):
            current = domain.request_extension(assignment, command.period, command.requested_due_at)
            event = ExtensionRequested(
                **common,
                request_id=event_id,
                period=command.period,
                current_due_at=current,
                requested_due_at=command.requested_due_at,
                reason=command.reason,
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
            return {}, event, extension
        raise Refused(f"unsupported command {command.command_type}")
