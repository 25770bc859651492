"""The outbox relay on the real broker and database: one replica relays at a time (it holds the leader lease),
another takes over when that lease runs out or is given up, and each stored event is published once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import pytest
from prometheus_client import REGISTRY

from shared.contracts.topology import EVENTS_EXCHANGE
from shared.domain.clock import FakeClock
from shared.platform.broker import EventPublisher, declare_topology, make_broker
from shared.platform.mongo import make_client
from shared.platform.outbox import Outbox, stored_rows
from shared.platform.outbox_writer import OutboxWriter
from tests.conftest import eventually, random_ref
from tests.integration.test_tracking_consumer import assignment_created


@dataclass
class Relaying:
    listener: Any  # a queue bound to what the relay publishes
    broker: Any
    db: Any

    async def received(self) -> list[str]:
        ids = []
        while (message := await self.listener.get(no_ack=True, fail=False, timeout=2)) is not None:
            ids.append(json.loads(message.body)["event_id"])
        return ids


@pytest.fixture
async def relaying(amqp_url, amqp, mongo_url, database_name) -> AsyncIterator[Relaying]:
    exchange = await amqp.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    listener = await amqp.declare_queue(random_ref("listen-"), exclusive=True)
    await listener.bind(exchange, "assignment.created.#")
    broker = make_broker(amqp_url, "test")
    await broker.connect()
    client = make_client(mongo_url)
    try:
        await declare_topology(broker)
        yield Relaying(listener, broker, client[database_name])
    finally:
        await client.close()
        await broker.stop()


async def test_one_replica_relays_and_another_takes_over_when_its_lease_runs_out(relaying: Relaying) -> None:
    db, broker = relaying.db, relaying.broker
    clock = FakeClock(datetime(2027, 3, 1, 8, 0, tzinfo=UTC))
    first, second = (Outbox(db, EventPublisher(broker, "test"), "test", clock, lease_seconds=30) for _ in "ab")
    await first.ensure_indexes()
    stored: list[str] = []

    async def store(count: int) -> None:
        events = [assignment_created() for _ in range(count)]
        await OutboxWriter(db, clock).add(events, None)
        stored.extend(e.event_id for e in events)

    async def all_marked() -> bool:
        return await db.outbox.count_documents({"status": "pending"}) == 0

    await store(3)
    assert await first.publish_pending() == 3
    assert await second.publish_pending() == 0  # the first holds the lease
    await eventually(all_marked, what="the relayed rows marked published")

    await store(2)
    assert await second.publish_pending() == 0  # still the first's, though it has not relayed these yet
    clock.advance(timedelta(seconds=31))  # the first stops renewing (as if it died): its lease runs out
    assert await second.publish_pending() == 2
    assert await first.publish_pending() == 0  # now the second leads
    await eventually(all_marked, what="the relayed rows marked published")

    await second.resign()  # a clean stop gives the lease up: no wait for it to run out
    await store(1)
    assert await first.publish_pending() == 1
    await eventually(all_marked, what="the relayed rows marked published")

    received = await relaying.received()
    assert sorted(received) == sorted(stored)  # each once, none lost
    assert await db.outbox.count_documents({}) == 0  # the outbox holds only what is still to be sent
    rows = await stored_rows(db, {}, {"status": 1, "published_at": 1})
    assert sorted(r["_id"] for r in rows) == sorted(stored)
    assert all(r["status"] == "published" and r["published_at"] for r in rows)  # kept a week, for inspection
    # One lease document, whatever the number of rows: the relay writes per batch, not per row and lease.
    assert await db.outbox_relay.count_documents({}) == 1


def gauge(name: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"service": "snapshot-test"})


async def test_the_leader_reads_a_backlog_once_and_publishes_it_in_order_in_batches(relaying: Relaying) -> None:
    """The leader reads the backlog's keys once (a snapshot) and each batch by a narrow range or by id; what
    arrives after the snapshot, even with an older `created_at` (a transaction that committed late), is read
    by the next one. Every row published once, oldest first; the gauges follow the snapshot."""
    db, broker = relaying.db, relaying.broker
    clock = FakeClock(datetime(2027, 3, 1, 8, 0, tzinfo=UTC))
    outbox = Outbox(db, EventPublisher(broker, "test"), "snapshot-test", clock, batch_size=4)
    await outbox.ensure_indexes()
    order: list[str] = []

    async def store(count: int, at: datetime) -> None:
        events = [assignment_created() for _ in range(count)]
        clock.set(at)
        await OutboxWriter(db, clock).add(events, None)  # one `created_at` for the lot, as in one transaction
        order.extend(e.event_id for e in events)

    start = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
    for minute in range(3):  # three rows a minute apart: batches read by range
        await store(1, start + timedelta(minutes=minute))
    await store(10, start + timedelta(minutes=5))  # ten sharing one time: read by id
    clock.set(start + timedelta(minutes=10))

    assert await outbox.publish_pending() == 4  # the snapshot holds all 13
    assert gauge("dondoc_outbox_pending") == 9
    assert gauge("dondoc_outbox_oldest_age_seconds") == 5 * 60
    late = [assignment_created()]
    clock.set(start - timedelta(minutes=1))  # older than everything: committed after the snapshot
    await OutboxWriter(db, clock).add(late, None)
    clock.set(start + timedelta(minutes=10))
    published = [await outbox.publish_pending() for _ in range(3)]
    assert published == [4, 4, 1]  # the snapshot's 13; the late row waits for the next snapshot
    await outbox._marks_written()  # noqa: SLF001 - the marks, before the next snapshot
    assert await outbox.publish_pending() == 1  # the late row
    await outbox._marks_written()  # noqa: SLF001
    assert await outbox.publish_pending() == 0
    assert gauge("dondoc_outbox_pending") == 0

    received = await relaying.received()
    assert received[:3] == order[:3]  # oldest first (the ten sharing a time in any order after them)
    assert sorted(received) == sorted(order + [late[0].event_id])  # each once, none lost
    assert await db.outbox.count_documents({"status": "pending"}) == 0


async def test_a_leader_that_died_between_copying_and_deleting_its_rows_leaves_them_to_be_sent_again(
    relaying: Relaying,
) -> None:
    """The relay copies a published batch to `outbox_published` and then deletes it from the outbox. A leader
    that dies in between leaves the rows in both: the next one publishes them again (consumers recognise the
    `event_id`), keeps their first copy and empties the outbox."""
    db = relaying.db
    clock = FakeClock(datetime(2027, 3, 1, 8, 0, tzinfo=UTC))
    outbox = Outbox(db, EventPublisher(relaying.broker, "test"), "test", clock)
    await outbox.ensure_indexes()
    events = [assignment_created() for _ in range(5)]
    await OutboxWriter(db, clock).add(events, None)
    died_after_copying = await db.outbox.find({"_id": {"$in": [e.event_id for e in events[:3]]}}).to_list()
    first_copied_at = clock.now() - timedelta(seconds=5)
    await db.outbox_published.insert_many(
        [{**row, "status": "published", "published_at": first_copied_at} for row in died_after_copying]
    )

    assert await outbox.publish_pending() == 5
    await outbox._marks_written()  # noqa: SLF001 - the move, before looking at both collections

    assert sorted(await relaying.received()) == sorted(e.event_id for e in events)
    assert await db.outbox.count_documents({}) == 0
    copies = await db.outbox_published.find({}, {"published_at": 1}).to_list()
    assert sorted(c["_id"] for c in copies) == sorted(e.event_id for e in events)  # one copy each
    kept = {c["_id"]: c["published_at"].replace(tzinfo=UTC) for c in copies}
    assert all(kept[row["_id"]] == first_copied_at for row in died_after_copying)
