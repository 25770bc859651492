"""A service stops consuming however its run ends, and its dead-letter monitor never hides a dead letter
from an operator's listing."""

from __future__ import annotations

import asyncio

import aio_pika
import pytest
from prometheus_client import REGISTRY

from services.tracking.config import Settings
from services.tracking.main import create_app
from shared.contracts.topology import DEAD_LETTER_EXCHANGE, REASON_HEADER, TRACKING_QUEUE
from shared.platform import dead_letters
from shared.platform.broker import declare_topology, make_broker
from tests.conftest import eventually
from tests.integration.conftest import running
from tests.integration.test_tracking_consumer import assignment_created


class Boom(Exception):
    pass


async def consumers_of(amqp_url: str, queue: str) -> int:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return declared.declaration_result.consumer_count or 0
    finally:
        await connection.close()


async def declared_topology(amqp_url: str) -> None:
    broker = make_broker(amqp_url, "test")
    await broker.connect()
    try:
        await declare_topology(broker, TRACKING_QUEUE)
    finally:
        await broker.stop()


async def dead_letters_waiting(amqp, amqp_url: str, count: int) -> list:  # type: ignore[no-untyped-def]
    """An empty dead-letter queue of tracking, then `count` dead letters in it; returns their events."""
    await declared_topology(amqp_url)
    await (await amqp.get_queue(TRACKING_QUEUE.dead_letter_queue)).purge()
    exchange = await amqp.get_exchange(DEAD_LETTER_EXCHANGE)
    events = [assignment_created() for _ in range(count)]
    for event in events:
        await exchange.publish(
            aio_pika.Message(
                event.model_dump_json().encode(), message_id=event.event_id, headers={REASON_HEADER: "test"}
            ),
            routing_key=TRACKING_QUEUE.name,
        )
    return events


async def test_a_service_whose_runner_fails_stops_consuming(service_settings, amqp_url) -> None:
    with pytest.raises(Boom):
        async with running(create_app(service_settings(Settings))):
            while_running = await consumers_of(amqp_url, TRACKING_QUEUE.name)
            assert while_running >= 1
            raise Boom
    # A consumer left subscribed would take its share of every later message into a service nobody reads.
    assert await consumers_of(amqp_url, TRACKING_QUEUE.name) == while_running - 1


async def test_the_dead_letter_monitor_counts_without_taking_letters_from_a_listing(amqp, amqp_url) -> None:
    events = await dead_letters_waiting(amqp, amqp_url, 3)
    watching = asyncio.create_task(dead_letters.monitor(amqp_url, TRACKING_QUEUE, interval_seconds=0.02))
    try:
        expected = sorted(event.event_id for event in events)
        for _ in range(50):  # the listings overlap many monitor passes
            found = await dead_letters.list_dead_letters(amqp_url, TRACKING_QUEUE.dead_letter_queue, lambda _: True)
            assert sorted(letter.id for letter in found) == expected

        def gauge(name: str) -> float:
            return REGISTRY.get_sample_value(name, {"queue": TRACKING_QUEUE.dead_letter_queue}) or 0.0

        async def counted() -> bool:  # a pass during a listing sees none ready: the letters are being read
            return gauge("dondoc_dead_letters") == 3 and gauge("dondoc_dead_letter_oldest_age_seconds") > 0

        await eventually(counted, timeout=10, what="the monitor to count the three dead letters")
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
