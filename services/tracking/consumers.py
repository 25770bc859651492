"""Tracking's subscriber: every plan, assignment, report and escalation event goes into the audit
trail, and the ones that change an assignment's record are applied in the same unit of work. Agencies'
commands (acknowledge, progress, report, extend) arriving over AMQP go through the same use cases as the HTTP
routes, with the broker-validated user id as the actor. This module only translates: message in, use case or
repository call, outcome (ack) or error class (dead letter, retry) out; each event type has its effect in a
registry (`EFFECTS`), each command its rule in the use cases' (`use_cases.decisions.DECIDERS`).

Which broker user is which agency: the user `<TRACKING_AGENCY_USER_PREFIX><code>` acts for the agency `<code>`
(`dondoc agencies provision --user-prefix` names them so). The prefix must not be empty for the command path to
work: with an empty prefix every broker user — `guest`, a service's own user — would count as the agency of
the same name, so an empty prefix (the default) turns agencies' AMQP commands off and each one is dead-lettered
with the reason; a user without the prefix is refused the same way (`agency_of`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from pymongo.errors import DuplicateKeyError

from services.tracking import domain, status_metrics
from services.tracking.answers import CommandAnswers
from services.tracking.domain import AssignmentRecord
from services.tracking.repository import GuardedChange, TrackingRepository, audit_row
from services.tracking.use_cases import ActionError, NotFound, TrackingService, decide
from shared.contracts.commands import AcknowledgeAssignment, BaseCommand, Command
from shared.contracts.events import (
    AssignmentCancelled,
    AssignmentCreated,
    AssignmentRevised,
    DeadlineExtended,
    Event,
    PlanRegistered,
)
from shared.domain.clock import Clock
from shared.platform import tracing
from shared.platform.auth import Principal
from shared.platform.batching import ProcessAlone
from shared.platform.deliveries import InvalidMessage, Message, Outcome, TransientError, sender_of
from shared.platform.outbox_writer import OutboxWriter
from shared.platform.unit_of_work import Transaction, UnitOfWork

log = structlog.get_logger()

# Messages are processed concurrently, so a change can overtake the assignment it changes: retry it
# (bounded by the delivery limit) instead of applying it to nothing.
NOT_YET = "the assignment this event changes is not recorded yet"


def agency_of(broker_user: str | None, prefix: str) -> str:
    """The agency a command's broker user acts for; a refusal is dead-lettered with its reason."""
    return sender_of(broker_user, prefix)


EffectHandler = Callable[[TrackingRepository, Any, Any], Awaitable[None]]


async def _create(repository: TrackingRepository, event: AssignmentCreated, session: Any) -> None:
    await repository.create_assignment(domain.new_assignment(event.model_dump(mode="python")), session)


async def _register_plan(repository: TrackingRepository, event: PlanRegistered, session: Any) -> None:
    record = {
        "_id": event.plan_id,
        "number": event.number,
        "title": event.title,
        "issuer": event.issuer.model_dump(),
        "issued_on": event.issued_on,
        "assignment_count": event.assignment_count,
    }
    await repository.upsert_plan(record, session)


async def _cancel(repository: TrackingRepository, event: AssignmentCancelled, session: Any) -> None:
    if not await repository.cancel_assignment(event.assignment_id, event.reason, session):
        raise TransientError(NOT_YET)


async def _move_deadline(repository: TrackingRepository, event: DeadlineExtended, session: Any) -> None:
    # Tracking's own approvals were applied when they were made (their audit row exists, so they never get
    # here); this is a deadline moved elsewhere, e.g. by a corrected plan.
    if not await repository.move_deadline(event.assignment_id, event.period, event.due_at, session):
        raise TransientError(NOT_YET)


async def _revise(repository: TrackingRepository, event: AssignmentRevised, session: Any) -> None:
    # A corrected plan reworded the task or what to deliver: served from now on; the audit row keeps the old wording.
    if not await repository.revise(event.assignment_id, event.revised_fields(), event.plan_version, session):
        raise TransientError(NOT_YET)


# The events whose recording changes more than the audit trail, each with its effect.
EFFECTS: dict[type[Event], EffectHandler] = {
    AssignmentCreated: _create,
    PlanRegistered: _register_plan,
    AssignmentCancelled: _cancel,
    DeadlineExtended: _move_deadline,
    AssignmentRevised: _revise,
}
WITH_EFFECTS = tuple(EFFECTS)


class EventRecorder:
    def __init__(
        self,
        uow: UnitOfWork,
        repository: TrackingRepository,
        service: TrackingService,
        agency_user_prefix: str = "",
        answers: CommandAnswers | None = None,
    ) -> None:
        self._uow = uow
        self._repository = repository
        self._service = service
        self._prefix = agency_user_prefix
        self._answers = answers

    async def __call__(self, message: Message) -> Outcome:
        if isinstance(message, Command):
            return await self._apply_command(message)
        if isinstance(message, BaseCommand):
            return Outcome.IGNORED  # an issuer's plan.submit, routed here by `plan.#`: intake's to apply
        return await self._record(message)

    async def _apply_command(self, command: Command) -> Outcome:
        actor = Principal(code=agency_of(command.broker_user_id, self._prefix), role="agency")
        try:
            result = await self._service.apply(command, actor, "amqp")
        except NotFound as exc:
            # The assignment may not be recorded yet (its event is still on the way): retried for a bounded
            # wait, then answered as unknown.
            if self._answers is None or not self._answers.waited_enough(command):
                raise TransientError(str(exc)) from exc
            await self._answers.reject(command, actor.code, exc.kind, str(exc))
            raise InvalidMessage(f"{exc.kind}: {exc}") from exc
        except ActionError as exc:
            if self._answers is not None:
                await self._answers.reject(command, actor.code, exc.kind, str(exc))
            raise InvalidMessage(f"{exc.kind}: {exc}") from exc
        return Outcome.DUPLICATE if result.duplicate else Outcome.PROCESSED

    async def _record(self, event: Event) -> Outcome:
        if isinstance(event, AssignmentCreated | AssignmentCancelled | AssignmentRevised):
            structlog.contextvars.bind_contextvars(assignment_id=event.assignment_id, agency=event.agency.code)
        effect = EFFECTS.get(type(event))

        async def work(tx: Transaction) -> None:
            await self._repository.record_event(event, tx.session)
            if effect is not None:
                await effect(self._repository, event, tx.session)

        try:
            await self._uow.run(work)
        except DuplicateKeyError:
            return Outcome.DUPLICATE
        return Outcome.PROCESSED


class AssignmentsInBulk:
    """The hot path of a large plan: many `assignment.created` events at once, written in two bulk
    inserts. Order makes it safe: the effect first, then the audit row that marks the event processed. A
    crash between the two leaves an effect whose event is redelivered and then recorded. The effect is an
    insert of the new record; a record already there (a redelivery) is a duplicate key and left as it is —
    what an upsert with only `$setOnInsert` does, at a third of its cost on the MongoDB-wire stand-in
    (docs/performance.md)."""

    def __init__(self, repository: TrackingRepository) -> None:
        self._repository = repository

    def accepts(self, message: Message) -> bool:
        return isinstance(message, AssignmentCreated)

    async def __call__(self, messages: list[Message]) -> list[Outcome | Exception]:
        events = [m for m in messages if isinstance(m, AssignmentCreated)]
        await self._repository.insert_new_assignments(
            [domain.new_assignment(e.model_dump(mode="python")) for e in events]
        )
        return await _record_in_bulk(self._repository, [audit_row(e) for e in events])


async def _record_in_bulk(repository: TrackingRepository, rows: list[dict[str, Any]]) -> list[Outcome | Exception]:
    """Append audit rows in one write; a row whose event id is already recorded is a duplicate, not an error."""
    duplicates = await repository.record_new_events(rows)
    return [Outcome.DUPLICATE if i in duplicates else Outcome.PROCESSED for i in range(len(rows))]


class AuditOnlyInBulk:
    """Events whose only record is their audit row (the facts tracking itself published, which come back to
    its queue, and escalations): appended in one bulk insert instead of one transaction each. A row already
    there is a duplicate, as in the one-by-one path."""

    def __init__(self, repository: TrackingRepository) -> None:
        self._repository = repository

    def accepts(self, message: Message) -> bool:
        return isinstance(message, Event) and not isinstance(message, WITH_EFFECTS)

    async def __call__(self, messages: list[Message]) -> list[Outcome | Exception]:
        rows = [audit_row(m) for m in messages if isinstance(m, Event)]
        if len(rows) != len(messages):
            raise TypeError("AuditOnlyInBulk takes events only")
        return await _record_in_bulk(self._repository, rows)


@dataclass(frozen=True)
class _Acknowledgement:
    index: int
    guarded: GuardedChange
    event: Event
    resumed: bool


class AcknowledgementsInBulk:
    """Agencies acknowledge in bursts (a national plan, a deadline): many `command.acknowledge` at once,
    decided by the same rule as one alone (`use_cases.decide`) and written in three bulk writes instead of one
    transaction each. Without a transaction, order makes it safe: the state change first, guarded by the version
    read and marked with the event id; then the outbox row of the fact; then the audit row that marks the command
    processed. A crash in between leaves a change whose command is redelivered, recognised by that mark, and
    finished. Anything unusual (unknown or foreign assignment, not in `assigned`, a concurrent change, a broker
    user that is no agency's) is handed to the one-by-one path, which answers it exactly as before."""

    def __init__(
        self,
        repository: TrackingRepository,
        outbox: OutboxWriter,
        wake: Callable[[], None],
        clock: Clock,
        agency_user_prefix: str = "",
    ) -> None:
        self._repository = repository
        self._outbox = outbox
        self._wake = wake
        self._clock = clock
        self._prefix = agency_user_prefix

    def accepts(self, message: Message) -> bool:
        if not isinstance(message, AcknowledgeAssignment):
            return False
        try:
            agency_of(message.broker_user_id, self._prefix)
        except InvalidMessage:
            return False
        return True

    async def __call__(self, messages: list[Message]) -> list[Outcome | Exception]:
        commands = [m for m in messages if isinstance(m, AcknowledgeAssignment)]
        if len(commands) != len(messages):
            raise TypeError("AcknowledgementsInBulk takes acknowledgements only")
        actors = [agency_of(c.broker_user_id, self._prefix) for c in commands]
        event_ids = [c.event_id(actor) for c, actor in zip(commands, actors, strict=True)]
        done = await self._repository.recorded_ids(event_ids)
        ids = list({c.assignment_id for c in commands})
        assignments = {a["_id"]: a for a in await self._repository.assignments_by_id(ids)}
        outcomes: list[Outcome | Exception | None] = [None] * len(commands)
        first_of: dict[str, int] = {}
        now = self._clock.now()  # one moment for the batch, as it is written at once
        changes: list[_Acknowledgement] = []
        for i, (command, actor, event_id) in enumerate(zip(commands, actors, event_ids, strict=True)):
            if event_id in done:
                outcomes[i] = Outcome.DUPLICATE
            elif event_id not in first_of:  # the same command twice in one batch follows the first one
                first_of[event_id] = i
                # A second command on the same assignment goes alone.
                change = _acknowledgement(
                    i, command, actor, event_id, assignments.pop(command.assignment_id, None), now
                )
                if change is None:
                    outcomes[i] = ProcessAlone()
                else:
                    tracing.pass_on(command, change.event)  # its outbox row in its own message's trace
                    changes.append(change)
        await self._write(changes, outcomes)
        for i, event_id in enumerate(event_ids):
            if outcomes[i] is None and event_id in first_of and first_of[event_id] != i:
                first = outcomes[first_of[event_id]]
                outcomes[i] = Outcome.DUPLICATE if isinstance(first, Outcome) else ProcessAlone()
        return [o if o is not None else ProcessAlone() for o in outcomes]

    async def _write(self, changes: list[_Acknowledgement], outcomes: list[Outcome | Exception | None]) -> None:
        moving = [c for c in changes if not c.resumed]
        if moving and await self._repository.apply_in_chunks([c.guarded for c in moving]) != len(moving):
            changes = await self._applied(changes, outcomes)
        if not changes:
            return
        await self._outbox.add_new([c.event for c in changes])
        duplicates = await self._repository.record_new_events([audit_row(c.event, "amqp", "agency") for c in changes])
        for position, change in enumerate(changes):
            outcomes[change.index] = Outcome.DUPLICATE if position in duplicates else Outcome.PROCESSED
        self._wake()

    async def _applied(
        self, changes: list[_Acknowledgement], outcomes: list[Outcome | Exception | None]
    ) -> list[_Acknowledgement]:
        """Some guarded updates did not apply (changed concurrently): keep the changes that carry their mark."""
        ids = [c.guarded.assignment_id for c in changes]
        rows = await self._repository.assignments_by_id(ids, {"acknowledged_event_id": 1})
        marks = {a["_id"]: a.get("acknowledged_event_id") for a in rows}
        kept = []
        for change in changes:
            if marks.get(change.guarded.assignment_id) == change.event.event_id:
                kept.append(change)
            else:
                outcomes[change.index] = ProcessAlone()
        return kept


def _acknowledgement(
    index: int,
    command: AcknowledgeAssignment,
    actor: str,
    event_id: str,
    assignment: AssignmentRecord | None,
    now: datetime,
) -> _Acknowledgement | None:
    """The bulk path's change for one command, or None when it must take the one-by-one path."""
    if assignment is None or assignment["agency"]["code"] != actor:
        return None
    resumed = assignment.get("acknowledged_event_id") == event_id
    if assignment["state"] != "assigned" and not resumed:
        return None
    decision = decide(command, {**assignment, "state": "assigned"}, event_id, now)
    if decision.change is None:
        return None
    if not resumed:
        status_metrics.observe_acknowledgement(assignment, now)
    guarded = GuardedChange(assignment["_id"], assignment["version"], decision.change, event_id)
    return _Acknowledgement(index, guarded, decision.event, resumed)
