"""Tracking's subscriber: every plan, assignment, report and escalation event goes into the audit
trail, and the ones that change an assignment's record are applied in the same transaction.
Agencies' commands (acknowledge, progress, report, extend) arriving over AMQP go through the same
actions as the HTTP routes, with the broker-validated user id as the actor."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import structlog
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from services.tracking import domain
from services.tracking.actions import ActionError, Actor, AssignmentActions, NotFound
from services.tracking.repository import TrackingRepository, audit_row
from shared.batching import ProcessAlone
from shared.commands import AcknowledgeAssignment, Command
from shared.consumer import InvalidMessage, Message, Outcome, TransientError
from shared.contracts import (
    AssignmentCancelled,
    AssignmentCreated,
    AssignmentRevised,
    DeadlineExtended,
    Event,
    PlanRegistered,
)
from shared.mongo import in_transaction, insert_new

# Messages are processed concurrently, so a change can overtake the assignment it changes: retry it
# (bounded by the delivery limit) instead of applying it to nothing.
NOT_YET = "the assignment this event changes is not recorded yet"


class EventRecorder:
    def __init__(
        self,
        client: AsyncMongoClient[dict[str, Any]],
        repository: TrackingRepository,
        actions: AssignmentActions,
        agency_user_prefix: str = "",
    ) -> None:
        self._client = client
        self._repository = repository
        self._actions = actions
        self._prefix = agency_user_prefix

    async def __call__(self, message: Message) -> Outcome:
        if isinstance(message, Command):
            return await self._apply_command(message)
        return await self._record(message)

    async def _apply_command(self, command: Command) -> Outcome:
        user = command.broker_user_id
        if not user:
            raise InvalidMessage("forbidden: the message has no user_id; set it to your broker user")
        if not user.startswith(self._prefix):
            raise InvalidMessage(f"forbidden: broker user {user!r} is not an agency user")
        actor = Actor(code=user.removeprefix(self._prefix), role="agency", channel="amqp")
        try:
            result = await self._actions.apply(command, actor)
        except NotFound as exc:
            # The assignment may not be recorded yet (its event is still on the way): retry, bounded.
            raise TransientError(str(exc)) from exc
        except ActionError as exc:
            raise InvalidMessage(f"{exc.kind}: {exc}") from exc
        return Outcome.DUPLICATE if result.duplicate else Outcome.PROCESSED

    async def _record(self, event: Event) -> Outcome:
        if isinstance(event, AssignmentCreated | AssignmentCancelled | AssignmentRevised):
            structlog.contextvars.bind_contextvars(assignment_id=event.assignment_id, agency=event.agency.code)

        async def work(session: Any) -> None:
            await self._repository.record_event(event, session)
            if isinstance(event, AssignmentCreated):
                record = domain.new_assignment(event.model_dump(mode="python"))
                await self._repository.create_assignment(record, session)
            elif isinstance(event, PlanRegistered):
                await self._repository.upsert_plan(
                    {
                        "_id": event.plan_id,
                        "number": event.number,
                        "title": event.title,
                        "issuer": event.issuer.model_dump(),
                        "issued_on": event.issued_on,
                        "assignment_count": event.assignment_count,
                    },
                    session,
                )
            elif isinstance(event, AssignmentCancelled):
                if not await self._repository.cancel_assignment(event.assignment_id, event.reason, session):
                    raise TransientError(NOT_YET)
            elif isinstance(event, DeadlineExtended):
                # Tracking's own approvals were applied when they were made (their audit row exists, so
                # they never get here); this is a deadline moved elsewhere, e.g. by a corrected plan.
                if not await self._repository.move_deadline(event.assignment_id, event.period, event.due_at, session):
                    raise TransientError(NOT_YET)
            elif isinstance(event, AssignmentRevised):
                # A corrected plan reworded the task: served from now on; the audit row keeps the old wording.
                if not await self._repository.revise_task(event.assignment_id, event.task, event.plan_version, session):
                    raise TransientError(NOT_YET)

        try:
            await in_transaction(self._client, work)
        except DuplicateKeyError:
            return Outcome.DUPLICATE
        return Outcome.PROCESSED


async def record_in_bulk(repository: TrackingRepository, rows: list[dict[str, Any]]) -> list[Outcome]:
    """Append audit rows in one write; a row whose event id is already recorded is a duplicate, not an error."""
    duplicates = await insert_new(repository.events, rows)
    return [Outcome.DUPLICATE if i in duplicates else Outcome.PROCESSED for i in range(len(rows))]


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

    async def __call__(self, messages: list[Message]) -> list[Outcome]:
        events = [m for m in messages if isinstance(m, AssignmentCreated)]
        records = [domain.new_assignment(event.model_dump(mode="python")) for event in events]
        await insert_new(self._repository.assignments, records)
        return await record_in_bulk(self._repository, [audit_row(e) for e in events])


class AcknowledgementsInBulk:
    """Agencies acknowledge in bursts (a national plan, a deadline): many `command.acknowledge` at once,
    decided by the same domain rule as one alone and written in three bulk writes instead of one transaction
    each. Without a transaction, order makes it safe: the state change first, guarded by the version read
    and marked with the event id; then the outbox row of the fact; then the audit row that marks the command
    processed. A crash in between leaves a change whose command is redelivered, recognised by that mark, and
    finished. Anything unusual (unknown or foreign assignment, not in `assigned`, a concurrent change) is
    handed to the one-by-one path, which answers it exactly as before."""

    def __init__(
        self, repository: TrackingRepository, actions: AssignmentActions, agency_user_prefix: str = ""
    ) -> None:
        self._repository = repository
        self._actions = actions
        self._prefix = agency_user_prefix

    def accepts(self, message: Message) -> bool:
        if not isinstance(message, AcknowledgeAssignment):
            return False
        return bool(message.broker_user_id) and (message.broker_user_id or "").startswith(self._prefix)

    async def __call__(self, messages: list[Message]) -> list[Outcome | Exception]:
        repo = self._repository
        commands = [m for m in messages if isinstance(m, AcknowledgeAssignment)]
        if len(commands) != len(messages):
            raise TypeError("AcknowledgementsInBulk takes acknowledgements only")
        actors = [(c.broker_user_id or "").removeprefix(self._prefix) for c in commands]
        event_ids = [c.event_id(actor) for c, actor in zip(commands, actors, strict=True)]
        done = {row["_id"] for row in await _by_ids(repo.events, event_ids, {"_id": 1})}
        assignments = {a["_id"]: a for a in await _by_ids(repo.assignments, list({c.assignment_id for c in commands}))}

        outcomes: list[Outcome | Exception | None] = [None] * len(commands)
        first_of: dict[str, int] = {}
        changes: list[_Change] = []
        now = self._actions.now()  # one moment for the batch, as it is written at once
        for i, (command, actor, event_id) in enumerate(zip(commands, actors, event_ids, strict=True)):
            if event_id in done:
                outcomes[i] = Outcome.DUPLICATE
                continue
            if event_id in first_of:
                continue  # the same command twice in one batch: it follows the first one
            first_of[event_id] = i
            assignment = assignments.pop(command.assignment_id, None)  # a second command on it goes alone
            if assignment is None or assignment["agency"]["code"] != actor:
                outcomes[i] = ProcessAlone()
                continue
            resumed = assignment.get("acknowledged_event_id") == event_id
            if assignment["state"] != "assigned" and not resumed:
                outcomes[i] = ProcessAlone()
                continue
            update, event, _ = self._actions.decide(command, {**assignment, "state": "assigned"}, event_id, now)
            changes.append(_Change(i, assignment["_id"], assignment["version"], update, event, resumed))

        moving = [c for c in changes if not c.resumed]
        if moving and await _move(repo.assignments, moving) != len(moving):
            changes = await self._applied(changes, outcomes)
        if changes:
            await self._actions.add_to_outbox([c.event for c in changes])
            duplicates = await self._audit([audit_row(c.event, "amqp", "agency") for c in changes])
            for change in changes:
                outcomes[change.index] = Outcome.DUPLICATE if change.event.event_id in duplicates else Outcome.PROCESSED
            self._actions.wake_outbox()
        for i, event_id in enumerate(event_ids):
            if outcomes[i] is None and event_id in first_of and first_of[event_id] != i:
                first = outcomes[first_of[event_id]]
                outcomes[i] = Outcome.DUPLICATE if isinstance(first, Outcome) else ProcessAlone()
        return [o if o is not None else ProcessAlone() for o in outcomes]

    async def _applied(self, changes: list[_Change], outcomes: list[Outcome | Exception | None]) -> list[_Change]:
        """Some guarded updates did not apply (changed concurrently): keep the changes that carry their mark."""
        ids = [c.assignment_id for c in changes]
        marks = {
            a["_id"]: a.get("acknowledged_event_id")
            for a in await _by_ids(self._repository.assignments, ids, {"acknowledged_event_id": 1})
        }
        kept = []
        for change in changes:
            if marks.get(change.assignment_id) == change.event.event_id:
                kept.append(change)
            else:
                outcomes[change.index] = ProcessAlone()
        return kept

    async def _audit(self, rows: list[dict[str, Any]]) -> set[str]:
        """Append the audit rows; returns the ids already there (a redelivered command finished earlier)."""
        return {rows[index]["_id"] for index in await insert_new(self._repository.events, rows)}


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
        return list(await record_in_bulk(self._repository, rows))


async def _move(assignments: Any, changes: list[_Change]) -> int:
    """Write the guarded state changes; returns how many applied. One `update_many` per chunk of assignments
    read at the same version, guarded by it as one `update_one` each would be, giving each document its own
    event id by `_id` (a pipeline update). On the MongoDB-wire stand-in a `bulk_write` of one `UpdateOne` an
    assignment commits each of them: 1.2 ms a document alone and 5.3 ms beside another writer, against 0.6
    and 2.0 ms this way (docs/performance.md)."""
    by_version: dict[int, list[_Change]] = defaultdict(list)
    for change in changes:
        by_version[change.version].append(change)
    modified = 0
    for version, group in by_version.items():
        for first in range(0, len(group), MOVE_CHUNK):
            chunk = group[first : first + MOVE_CHUNK]
            result = await assignments.update_many(
                {"_id": {"$in": [c.assignment_id for c in chunk]}, "version": version}, [{"$set": _per_document(chunk)}]
            )
            modified += result.modified_count
    return modified


def _per_document(chunk: list[_Change]) -> dict[str, Any]:
    """A pipeline `$set` giving each assignment of the chunk its own values: a literal where all share one, else a
    `$switch` on `_id`."""
    values: dict[str, dict[str, Any]] = defaultdict(dict)
    for change in chunk:
        if set(change.update) != {"$set"}:
            raise TypeError(f"the bulk path writes `$set` updates only, not {sorted(change.update)}")
        for field_name, value in {**change.update["$set"], "acknowledged_event_id": change.event.event_id}.items():
            values[field_name][change.assignment_id] = value
    stage: dict[str, Any] = {"version": {"$add": ["$version", 1]}}
    for field_name, by_id in values.items():
        distinct = list(by_id.values())
        if len(by_id) == len(chunk) and all(value == distinct[0] for value in distinct):
            stage[field_name] = {"$literal": distinct[0]}
        else:
            branches = [{"case": {"$eq": ["$_id", i]}, "then": {"$literal": v}} for i, v in by_id.items()]
            stage[field_name] = {"$switch": {"branches": branches, "default": f"${field_name}"}}
    return stage


MOVE_CHUNK = 25  # the stand-in compares each document with every id of the `$in` and every `$switch` branch

# The events whose recording changes more than the audit trail (EventRecorder._record).
WITH_EFFECTS = (AssignmentCreated, PlanRegistered, AssignmentCancelled, DeadlineExtended, AssignmentRevised)
ID_CHUNK = 100  # the stand-in compares each document with every id of an `$in`: keep the lists short


async def _by_ids(collection: Any, ids: list[str], projection: dict[str, int] | None = None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for first in range(0, len(ids), ID_CHUNK):
        found += await collection.find({"_id": {"$in": ids[first : first + ID_CHUNK]}}, projection).to_list()
    return found


@dataclass(frozen=True)
class _Change:
    index: int
    assignment_id: str
    version: int
    update: dict[str, Any]
    event: Event
    resumed: bool
