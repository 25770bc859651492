"""Agencies hear back over AMQP: a command that cannot be applied is answered with `command.rejected` on the
sender's own queue, carrying the `command_id` it chose (and still dead-lettered for the operators); an unknown
assignment id is answered after a bounded wait, not retried to the queue's limit; an applied command's
`command_id` is in the event it causes and in the history entry; an unknown field is refused, as over HTTP, and
answered as `invalid`."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aio_pika
import pytest

from services.tracking.config import Settings
from services.tracking.main import create_app
from shared.contracts.commands import AcknowledgeAssignment, ReportProgress
from shared.contracts.topology import REASON_HEADER, TRACKING_QUEUE, agency_queue
from shared.platform.broker import declare_agency_queues, make_broker
from tests.conftest import eventually, random_ref
from tests.integration.conftest import running
from tests.integration.test_tracking_amqp import OPERATOR, UBND, broker_users, send_command
from tests.integration.test_tracking_consumer import publish
from tests.integration.test_tracking_http import CELL, two_quarters

__all__ = ["broker_users"]  # the fixture, used by name below


async def answers_on(amqp: aio_pika.abc.AbstractChannel, code: str, amqp_url: str) -> aio_pika.abc.AbstractQueue:
    broker = make_broker(amqp_url, "test")
    await broker.connect()
    try:
        await declare_agency_queues(broker, [code])
    finally:
        await broker.stop()
    queue = await amqp.get_queue(agency_queue(code).name)
    await queue.purge()
    return queue


async def next_with_key(queue: aio_pika.abc.AbstractQueue, prefix: str, seconds: float = 20) -> dict[str, Any]:
    """The body of the next message on `queue` whose routing key starts with `prefix` (others are dropped)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        message = await queue.get(no_ack=True, fail=False)
        if message is None:
            await asyncio.sleep(0.1)
        elif (message.routing_key or "").startswith(prefix):
            body: dict[str, Any] = json.loads(message.body)
            return body
    raise AssertionError(f"no {prefix} message on {queue.name} within {seconds} s")


async def test_refused_commands_are_answered_on_the_senders_queue_with_their_command_id(
    service_settings, amqp, amqp_url, broker_users
) -> None:
    prefix, urls = broker_users
    ubnd_answers = await answers_on(amqp, UBND.code, amqp_url)
    cell_answers = await answers_on(amqp, CELL.code, amqp_url)
    settings = service_settings(Settings, agency_user_prefix=prefix, unknown_assignment_wait_seconds=1.0)
    cell_assignment = two_quarters(random_ref("plan"))
    async with running(create_app(settings)) as http:
        dlq = await amqp.get_queue(TRACKING_QUEUE.dead_letter_queue)
        await dlq.purge()
        await publish(amqp, cell_assignment.routing_key(), cell_assignment.model_dump_json().encode())

        async def recorded() -> bool:
            return (
                await http.get(f"/assignments/{cell_assignment.assignment_id}", headers=OPERATOR)
            ).status_code == 200

        await eventually(recorded, what="the cell's assignment recorded")

        # The People's Committee acknowledges the cell's assignment: refused, answered to the committee.
        foreign = AcknowledgeAssignment(command_id="ubnd-ack-1", assignment_id=cell_assignment.assignment_id)
        await send_command(urls[UBND.code], f"{prefix}{UBND.code}", UBND, foreign)
        answer = await next_with_key(ubnd_answers, f"command.rejected.{UBND.kind}.{UBND.code}")
        assert (answer["command_id"], answer["reason"], answer["command_type"]) == (
            "ubnd-ack-1",
            "forbidden",
            "command.acknowledge",
        )
        assert answer["assignment_id"] == cell_assignment.assignment_id and "not assigned to ubnd" in answer["detail"]
        dead = await eventually(lambda: dlq.get(no_ack=True, fail=False), what="the operators' dead letter")
        assert dead.headers[REASON_HEADER].startswith("forbidden")
        state = (await http.get(f"/assignments/{cell_assignment.assignment_id}", headers=OPERATOR)).json()["state"]
        assert state == "assigned"  # nothing changed

        # An assignment id that never comes: answered after the bounded wait, not retried to the delivery limit.
        started = time.monotonic()
        unknown = ReportProgress(command_id="ubnd-progress-1", assignment_id=random_ref("a"), percent=10)
        await send_command(urls[UBND.code], f"{prefix}{UBND.code}", UBND, unknown)
        answer = await next_with_key(ubnd_answers, "command.rejected.", seconds=30)
        assert (answer["command_id"], answer["reason"]) == ("ubnd-progress-1", "not_found")
        assert time.monotonic() - started < 15

        # The cell's own acknowledgement: its command_id in the event on its queue and in the history entry.
        own = AcknowledgeAssignment(command_id="cell-ack-7", assignment_id=cell_assignment.assignment_id)
        await send_command(urls[CELL.code], f"{prefix}{CELL.code}", CELL, own)
        event = await next_with_key(cell_answers, "assignment.acknowledged.")
        assert event["command_id"] == "cell-ack-7"
        history = (await http.get(f"/assignments/{cell_assignment.assignment_id}/history", headers=OPERATOR)).json()
        kinds = [(entry["event_type"], entry["command_id"]) for entry in history["events"]]
        assert kinds == [("assignment.created", None), ("assignment.acknowledged", "cell-ack-7")], history


@pytest.mark.parametrize("extra", [{"percentage": 60}])
async def test_an_unknown_field_is_refused_over_amqp_as_over_http(
    service_settings, amqp, amqp_url, broker_users, extra: dict[str, Any]
) -> None:
    prefix, urls = broker_users
    cell_answers = await answers_on(amqp, CELL.code, amqp_url)
    settings = service_settings(Settings, agency_user_prefix=prefix)
    async with running(create_app(settings)):
        dlq = await amqp.get_queue(TRACKING_QUEUE.dead_letter_queue)
        await dlq.purge()
        connection = await aio_pika.connect(urls[CELL.code])
        command_id = random_ref("strict")
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange("dondoc.events", ensure=False)
            body = {"command_id": command_id, "assignment_id": random_ref("a"), "percent": 10, **extra}
            message = aio_pika.Message(json.dumps(body).encode(), user_id=f"{prefix}{CELL.code}", message_id="m-1")
            await exchange.publish(message, routing_key=f"command.progress.{CELL.kind}.{CELL.code}")
        dead = await eventually(lambda: dlq.get(no_ack=True, fail=False), what="the dead-lettered command")
        assert "percentage" in dead.headers[REASON_HEADER] and "Extra inputs" in dead.headers[REASON_HEADER]
        answer = await next_with_key(cell_answers, f"command.rejected.{CELL.kind}.{CELL.code}")
        assert (answer["command_id"], answer["reason"], answer["message_id"]) == (command_id, "invalid", "m-1")
        assert "percentage" in answer["detail"]
