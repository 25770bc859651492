"""`subscribe` wired to FastStream, in memory (TestRabbitBroker): the body reaches `parse_event` undecoded, and
each disposition becomes the right call on the delivery — ack after the handler returned, basic.reject with
requeue, or a copy to the dead-letter exchange with the reason and then an ack. The real broker's side (delivery
counts, the queue's limit) is tests/integration/test_consumer_retries.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from faststream.rabbit import TestRabbitBroker
from faststream.rabbit.message import RabbitMessage

from shared.contracts.events import AgencyRef, PlanRegistered
from shared.contracts.topology import DEAD_LETTER_EXCHANGE, ERROR_CLASS_HEADER, REASON_HEADER, ServiceQueue
from shared.platform import consumer
from shared.platform.broker import make_broker
from shared.platform.consumer import subscribe
from shared.platform.deliveries import Message, Outcome, TransientError
from tests.conftest import random_ref

# TestRabbitBroker delivers a message published to a queue's name with that name as its routing key, and the
# consumer reads the contract from the routing key: a queue named after the event type gets the event through.
QUEUE = ServiceQueue("plan.registered.wiring", bindings=())


@dataclass
class Recorder:
    """The handler, the batch handler and the dead-letter publisher, all recording what they were given."""

    fail_with: Exception | None = None
    handled: list[str] = field(default_factory=list)
    batched: list[str] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    settled: list[tuple[str, bool | None]] = field(default_factory=list)

    async def handle(self, message: Message) -> Outcome:
        self.handled.append(message.number)  # type: ignore[union-attr]  # only PlanRegistered comes here
        if self.fail_with is not None:
            raise self.fail_with
        return Outcome.PROCESSED

    async def publish_raw(self, **kwargs: Any) -> None:
        self.dead_letters.append(kwargs)


@dataclass
class InBulk:
    recorder: Recorder

    def accepts(self, message: Message) -> bool:
        return isinstance(message, PlanRegistered) and message.number.startswith("bulk")

    async def __call__(self, messages: list[Message]) -> list[Outcome | Exception]:
        self.recorder.batched += [m.number for m in messages]  # type: ignore[union-attr]
        return [Outcome.DUPLICATE for _ in messages]


@pytest.fixture
async def wired(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[TestRabbitBroker, Recorder]]:
    monkeypatch.setattr(consumer, "RETRY_PAUSE_SECONDS", 0.0)
    recorder = Recorder()

    async def ack(self: RabbitMessage, **_: Any) -> None:
        recorder.settled.append(("ack", None))

    async def reject(self: RabbitMessage, requeue: bool = False) -> None:
        recorder.settled.append(("reject", requeue))

    monkeypatch.setattr(RabbitMessage, "ack", ack)
    monkeypatch.setattr(RabbitMessage, "reject", reject)
    monkeypatch.setattr(RabbitMessage, "nack", None)  # never used: a nacked message would not count a delivery
    broker = make_broker("amqp://guest:guest@127.0.0.1:5672/", "test")
    subscribe(
        broker,
        QUEUE,
        "test",
        recorder.handle,
        recorder,  # type: ignore[arg-type]  # the publisher: only publish_raw is used, for dead letters
        description="wiring",
        batch_handler=InBulk(recorder),
        batch_size=10,
    )
    async with TestRabbitBroker(broker) as test_broker:
        yield test_broker, recorder


def plan(number: str = "1-KH/ĐU") -> bytes:
    plan_id = random_ref("plan")
    issuer = AgencyRef(code="dang-uy", kind="office", name="Đảng ủy phường")
    event = PlanRegistered(
        correlation_id=plan_id, plan_id=plan_id, number=number, title="Thử", issuer=issuer, assignment_count=0
    )
    return event.model_dump_json().encode()


async def test_a_processed_message_is_acked_after_its_handler_returned(wired) -> None:  # type: ignore[no-untyped-def]
    broker, recorder = wired
    await broker.publish(plan("7-KH/ĐU"), queue=QUEUE.name, content_type="application/json")
    assert recorder.handled == ["7-KH/ĐU"]
    assert recorder.settled == [("ack", None)]
    assert recorder.dead_letters == []


async def test_an_invalid_body_is_dead_lettered_with_its_reason_then_acked(wired) -> None:  # type: ignore[no-untyped-def]
    """Sent as application/json but not JSON: FastStream's own decoder would fail before the policy saw it."""
    broker, recorder = wired
    await broker.publish(b"{not json", queue=QUEUE.name, content_type="application/json")
    assert recorder.handled == []
    [letter] = recorder.dead_letters
    assert letter["exchange"].name == DEAD_LETTER_EXCHANGE
    assert letter["routing_key"] == QUEUE.dead_letter_routing_key
    assert letter["body"] == b"{not json"
    assert letter["headers"][REASON_HEADER].startswith("body is not JSON")
    assert letter["headers"][ERROR_CLASS_HEADER] == "invalid"
    assert recorder.settled == [("ack", None)]


async def test_a_transient_failure_is_retried_in_process_then_rejected_with_requeue(wired) -> None:  # type: ignore[no-untyped-def]
    broker, recorder = wired
    recorder.fail_with = TransientError("database down")
    await broker.publish(plan(), queue=QUEUE.name, headers={"x-delivery-count": 12})
    assert len(recorder.handled) == consumer.IN_PROCESS_ATTEMPTS
    assert recorder.settled == [("reject", True)]
    assert recorder.dead_letters == []


async def test_a_failing_handler_is_requeued_then_dead_lettered_on_its_fifth_delivery(wired) -> None:  # type: ignore[no-untyped-def]
    broker, recorder = wired
    recorder.fail_with = RuntimeError("a bug")
    await broker.publish(plan(), queue=QUEUE.name, headers={"x-delivery-count": 3})
    assert recorder.settled == [("reject", True)]
    assert recorder.dead_letters == []
    await broker.publish(plan(), queue=QUEUE.name, headers={"x-delivery-count": 4})
    [letter] = recorder.dead_letters
    assert letter["headers"][REASON_HEADER] == "handler failed 5 times: RuntimeError('a bug')"
    assert letter["headers"][ERROR_CLASS_HEADER] == "error"
    assert recorder.settled == [("reject", True), ("ack", None)]
    assert len(recorder.handled) == 2  # a handler's own failure is not retried in process


async def test_what_the_batch_handler_accepts_is_written_in_bulk_and_acked(wired) -> None:  # type: ignore[no-untyped-def]
    broker, recorder = wired
    await broker.publish(plan("bulk-1"), queue=QUEUE.name)
    assert recorder.batched == ["bulk-1"]
    assert recorder.handled == []
    assert recorder.settled == [("ack", None)]
