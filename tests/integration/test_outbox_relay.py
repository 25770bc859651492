"""The outbox relay on the real broker and database: one replica relays at a time (it holds the leader lease),
another takes over when that lease runs out or is given up, and each stored event is published once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import aio_pika

from shared.broker import EventPublisher, declare_topology, make_broker
from shared.clock import FakeClock
from shared.mongo import make_client
from shared.outbox import Outbox
from shared.topology import EVENTS_EXCHANGE
from tests.conftest import eventually, random_ref
from tests.integration.test_tracking_consumer import assignment_created


async def test_one_replica_relays_and_another_takes_over_when_its_lease_runs_out(
    amqp_url, amqp, mongo_url, database_name
) -> None:
    exchange = await amqp.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    listener = await amqp.declare_queue(random_ref("listen-"), exclusive=True)
    await listener.bind(exchange, "assignment.created.#")
    broker = make_broker(amqp_url, "test")
    await broker.connect()
    client = make_client(mongo_url)
    try:
        await declare_topology(broker)
        db = client[database_name]
        clock = FakeClock(datetime(2027, 3, 1, 8, 0, tzinfo=UTC))
        first, second = (Outbox(db, EventPublisher(broker, "test"), "test", clock, lease_seconds=30) for _ in "ab")
        await first.ensure_indexes()
        stored: list[str] = []

        async def store(count: int) -> None:
            events = [assignment_created() for _ in range(count)]
            await first.add(events, None)
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

        received: list[str] = []
        while (message := await listener.get(no_ack=True, fail=False, timeout=2)) is not None:
            received.append(json.loads(message.body)["event_id"])
        assert sorted(received) == sorted(stored)  # each once, none lost
        rows = await db.outbox.find({}, {"status": 1, "published_at": 1}).to_list()
        assert len(rows) == 6 and all(r["status"] == "published" and r["published_at"] for r in rows)
        # One lease document, whatever the number of rows: the relay writes once a row (its mark).
        assert await db.outbox_relay.count_documents({}) == 1
    finally:
        await client.close()
        await broker.stop()
