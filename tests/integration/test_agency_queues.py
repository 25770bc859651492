"""Agency queues on the real broker, declared from the topology: the delivery limit every other consumed queue has,
and what an agency's system keeps rejecting ends in `agencies.dead-letter` instead of looping for ever."""

from __future__ import annotations

import aio_pika
import pytest

from shared.contracts.topology import AGENCIES_DEAD_LETTER_QUEUE, DELIVERY_LIMIT, EVENTS_EXCHANGE, agency_queue
from shared.platform.broker import declare_agency_queues, make_broker
from tests.conftest import eventually, random_ref
from tests.integration.test_command_answers import answers_on
from tests.integration.test_tracking_consumer import assignment_created


async def test_a_message_an_agency_keeps_rejecting_is_dead_lettered_at_the_limit(amqp_url: str, amqp) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures
    code = random_ref("agency-")
    queue = await answers_on(amqp, code, amqp_url)  # declared as intake and the CLI declare it
    dead_letters = await amqp.get_queue(AGENCIES_DEAD_LETTER_QUEUE)
    await dead_letters.purge()  # shared by every agency of this vhost

    event = assignment_created()
    routing_key = f"assignment.created.ubnd.{code}"
    exchange = await amqp.get_exchange(EVENTS_EXCHANGE)
    await exchange.publish(aio_pika.Message(event.model_dump_json().encode(), message_id=event.event_id), routing_key)

    rejected = 0
    while (message := await queue.get(no_ack=False, fail=False, timeout=5)) is not None:
        assert rejected <= DELIVERY_LIMIT, "the queue has no delivery limit"
        await message.reject(requeue=True)  # an agency's consumer that cannot take it
        rejected += 1
    assert rejected == DELIVERY_LIMIT + 1  # the limit counts redeliveries: the first delivery and 20 more

    dead = await eventually(lambda: dead_letters.get(no_ack=True, fail=False), what="the agency's dead letter")
    assert dead.message_id == event.event_id
    assert dead.headers["x-death"][0]["queue"] == agency_queue(code).name


async def test_an_agency_queue_declared_without_the_limit_is_refused(amqp_url: str, amqp) -> None:  # type: ignore[no-untyped-def]
    """The upgrade note of the README: a queue keeps the arguments it was created with."""
    code = random_ref("agency-")
    broker = make_broker(amqp_url, "test")
    await broker.connect()
    try:
        await declare_agency_queues(broker, [code])
    finally:
        await broker.stop()
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed):
            await channel.declare_queue(agency_queue(code).name, durable=True, arguments={"x-queue-type": "quorum"})
    finally:
        await connection.close()
