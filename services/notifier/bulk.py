"""The notifier's projection in bulk: a batch of events goes through the same per-event logic as one alone
(`use_cases/projection.py`), but its writes are gathered and written in one transaction — one bulk write per
collection — instead of one transaction per event. On the MongoDB-wire stand-in a transaction costs
milliseconds whatever it holds, and a burst of a large plan or of acknowledgements is thousands of events
(docs/performance.md).

Only events whose recording is writes alone take this path (an assignment opened, acknowledged, reported).
One that needs a read or the result of a write (a cancellation, a moved deadline, a revision) goes one by
one. If anything in a batch fails — an event processed before (its `processed_events` row exists), a write
the logic makes that cannot be gathered, the database — the transaction is rolled back whole and each
message of the batch goes the one-by-one path, which answers it exactly as before."""

from __future__ import annotations

from typing import Any

from pymongo import InsertOne, UpdateOne

from services.notifier.repository import NotifierRepository
from services.notifier.rules.decisions import Rules
from services.notifier.use_cases.projection import apply
from shared.contracts.events import AssignmentAcknowledged, AssignmentCreated, ReportSubmitted
from shared.platform import tracing
from shared.platform.deliveries import Message, Outcome
from shared.platform.unit_of_work import UnitOfWork

BULK_EVENTS = (AssignmentCreated, AssignmentAcknowledged, ReportSubmitted)


class NotGathered(Exception):
    """The per-event logic asked the database for something other than a plain write: not for this path."""


class _GatheredCollection:
    """Takes a collection's place in the repository: keeps the writes made to it, in order, unexecuted."""

    def __init__(self) -> None:
        self.writes: list[InsertOne[Any] | UpdateOne] = []

    async def insert_one(self, document: dict[str, Any], session: Any = None) -> None:
        self.writes.append(InsertOne(document))

    async def update_one(
        self,
        filter: dict[str, Any],
        update: dict[str, Any],
        upsert: bool = False,
        session: Any = None,  # noqa: A002
    ) -> None:
        self.writes.append(UpdateOne(filter, update, upsert=upsert))

    def __getattr__(self, name: str) -> Any:
        raise NotGathered(f"{name} needs the database's answer")


class _GatheredDatabase:
    def __init__(self) -> None:
        self.collections: dict[str, _GatheredCollection] = {}

    def __getitem__(self, name: str) -> _GatheredCollection:
        return self.collections.setdefault(name, _GatheredCollection())


class ProjectionInBulk:
    def __init__(self, uow: UnitOfWork, repository: NotifierRepository, rules: Rules) -> None:
        self._uow = uow
        self._repository = repository
        self._processed = repository.processed.name
        self._rules = rules

    def accepts(self, message: Message) -> bool:
        return isinstance(message, BULK_EVENTS)

    async def __call__(self, messages: list[Message]) -> list[Outcome | Exception]:
        gathered = _GatheredDatabase()
        repository = NotifierRepository(gathered)  # type: ignore[arg-type]  # the same writes, gathered
        for event in messages:
            if not isinstance(event, BULK_EVENTS):
                raise TypeError(f"ProjectionInBulk does not take {type(event).__name__}")
            # What the projection use case does for one event inside its transaction, in the same order.
            with tracing.resumed(event):  # each event's writes carry its own trace, not the batch's
                await repository.mark_processed(event.event_id, event.event_type, event.occurred_at, None)
                await apply(event, repository, self._rules, None)
        # The processed marks first: an event seen before fails the batch before anything else is written.
        writes = sorted(
            ((name, c.writes) for name, c in gathered.collections.items() if c.writes),
            key=lambda item: item[0] != self._processed,
        )
        # One attempt (uow.attempt, not uow.run): on failure the batch goes one by one at once, where each event
        # gets the retries it needs. uow.run would retry a transient abort for up to 120 s first, and under a
        # burst the MongoDB-wire stand-in aborted every batch (fan-out of 10,000 cells: 9.5 minutes).
        async with self._uow.attempt() as tx:
            await self._repository.write_gathered(writes, tx.session)
        return [Outcome.PROCESSED] * len(messages)
