"""The unit of work on the MongoDB-wire server: a change and the outbox rows of its events are one transaction
(both or neither, the rows unseen by others until the commit), the relay is woken once after a commit and never
after an abort, `run` retries the whole work on a write conflict, and `attempt()` tries once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from shared.contracts.events import Event
from shared.domain.clock import FakeClock
from shared.platform.mongo import make_client
from shared.platform.outbox_writer import OUTBOX, OutboxWriter
from shared.platform.unit_of_work import MongoUnitOfWork, Transaction
from tests.conftest import random_ref
from tests.integration.test_tracking_consumer import assignment_created

NOW = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


class BetweenOutboxAndCommit(Exception):
    """Raised by the probe after the outbox rows are written and before the unit of work commits."""


class ProbingWriter(OutboxWriter):
    """The real writer, then a look from outside the transaction: were the rows already visible to others?
    With `fail`, it then fails, as a crash between the outbox write and the commit would."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], fail: bool = False) -> None:
        super().__init__(db, FakeClock(NOW))
        self._db = db
        self._fail = fail
        self.seen_from_outside: list[bool] = []

    async def add(self, events: Iterable[Event], session: AsyncClientSession | None) -> None:
        events = list(events)
        await super().add(events, session)
        for event in events:  # no session: what every other reader sees
            self.seen_from_outside.append(await self._db[OUTBOX].find_one({"_id": event.event_id}) is not None)
        if self._fail:
            raise BetweenOutboxAndCommit


@dataclass
class World:
    client: AsyncMongoClient[dict[str, Any]]
    db: AsyncDatabase[dict[str, Any]]
    wakes: list[int] = field(default_factory=list)

    def unit_of_work(self, writer: OutboxWriter) -> MongoUnitOfWork:
        return MongoUnitOfWork(self.client, writer, wake=lambda: self.wakes.append(1))

    async def stored(self, thing_id: str, event: Event) -> tuple[bool, bool]:
        thing = await self.db.things.find_one({"_id": thing_id})
        row = await self.db[OUTBOX].find_one({"_id": event.event_id})
        return thing is not None, row is not None


@pytest.fixture
async def world(mongo_url: str, database_name: str) -> AsyncIterator[World]:
    client = make_client(mongo_url)
    db = client[database_name]
    await db.create_collection("things")  # collections are not created inside a transaction on every server
    await db.create_collection(OUTBOX)
    yield World(client, db)
    await client.close()


async def test_run_commits_the_change_and_its_events_together_then_wakes_the_relay_once(world: World) -> None:
    writer = ProbingWriter(world.db)
    thing_id, event = random_ref("thing-"), assignment_created()

    async def work(tx: Transaction) -> str:
        await world.db.things.insert_one({"_id": thing_id}, session=tx.session)
        tx.publish(event)
        return "done"

    assert await world.unit_of_work(writer).run(work) == "done"
    assert writer.seen_from_outside == [False]  # written in the transaction: nobody saw it before the commit
    assert await world.stored(thing_id, event) == (True, True)
    assert world.wakes == [1]


async def test_attempt_commits_the_change_and_its_events_together_then_wakes_the_relay_once(world: World) -> None:
    writer = ProbingWriter(world.db)
    thing_id, event = random_ref("thing-"), assignment_created()
    async with world.unit_of_work(writer).attempt() as tx:
        await world.db.things.insert_one({"_id": thing_id}, session=tx.session)
        tx.publish(event)
    assert writer.seen_from_outside == [False]
    assert await world.stored(thing_id, event) == (True, True)
    assert world.wakes == [1]


async def test_an_exception_in_the_work_aborts_the_change_and_wakes_nobody(world: World) -> None:
    thing_id, event = random_ref("thing-"), assignment_created()

    async def work(tx: Transaction) -> None:
        await world.db.things.insert_one({"_id": thing_id}, session=tx.session)
        tx.publish(event)
        raise ValueError("the use case refused")

    with pytest.raises(ValueError, match="refused"):
        await world.unit_of_work(ProbingWriter(world.db)).run(work)
    assert await world.stored(thing_id, event) == (False, False)
    assert world.wakes == []


@pytest.mark.parametrize("how", ["run", "attempt"])
async def test_a_failure_after_the_outbox_write_aborts_both_the_change_and_the_rows(world: World, how: str) -> None:
    """Fails if the outbox were written outside the transaction: its row would outlive the abort."""
    thing_id, event = random_ref("thing-"), assignment_created()
    uow = world.unit_of_work(ProbingWriter(world.db, fail=True))
    with pytest.raises(BetweenOutboxAndCommit):
        if how == "run":

            async def work(tx: Transaction) -> None:
                await world.db.things.insert_one({"_id": thing_id}, session=tx.session)
                tx.publish(event)

            await uow.run(work)
        else:
            async with uow.attempt() as tx:
                await world.db.things.insert_one({"_id": thing_id}, session=tx.session)
                tx.publish(event)
    assert await world.stored(thing_id, event) == (False, False)
    assert world.wakes == []


async def conflicting_work(world: World, thing_id: str, event: Event, attempts: list[int]) -> Any:
    """Work that meets a write conflict on its first attempt: after its transaction has read the document,
    another writer changes it and commits, so the transaction's own update of it conflicts."""
    await world.db.things.insert_one({"_id": thing_id, "n": 0, "other": 0})

    async def work(tx: Transaction) -> int:
        attempts.append(1)
        await world.db.things.find_one({"_id": thing_id}, session=tx.session)  # the transaction's snapshot
        if len(attempts) == 1:
            await world.db.things.update_one({"_id": thing_id}, {"$inc": {"other": 1}})  # another writer, committed
        await world.db.things.update_one({"_id": thing_id}, {"$inc": {"n": 1}}, session=tx.session)
        tx.publish(event)
        return len(attempts)

    return work


async def test_run_retries_the_whole_work_on_a_write_conflict(world: World) -> None:
    thing_id, event, attempts = random_ref("thing-"), assignment_created(), []
    work = await conflicting_work(world, thing_id, event, attempts)
    assert await world.unit_of_work(ProbingWriter(world.db)).run(work) == 2
    assert await world.db.things.find_one({"_id": thing_id}) == {"_id": thing_id, "n": 1, "other": 1}
    assert await world.db[OUTBOX].count_documents({"_id": event.event_id}) == 1  # the aborted attempt left none
    assert world.wakes == [1]


async def test_attempt_tries_once_and_gives_the_conflict_to_its_caller(world: World) -> None:
    thing_id, event, attempts = random_ref("thing-"), assignment_created(), []
    work = await conflicting_work(world, thing_id, event, attempts)
    with pytest.raises(PyMongoError) as raised:
        async with world.unit_of_work(ProbingWriter(world.db)).attempt() as tx:
            await work(tx)
    assert raised.value.has_error_label("TransientTransactionError")
    assert attempts == [1]
    assert await world.db.things.find_one({"_id": thing_id}) == {"_id": thing_id, "n": 0, "other": 1}
    assert await world.db[OUTBOX].count_documents({"_id": event.event_id}) == 0
    assert world.wakes == []
