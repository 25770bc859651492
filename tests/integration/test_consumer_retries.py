"""The shared ack policy on the real broker: transient failures are retried, persistent ones end in
the dead-letter queue after the delivery limit, with the reason."""

from __future__ import annotations

import asyncio

from shared.contracts.events import AgencyRef, PlanRegistered
from shared.contracts.topology import REASON_HEADER, ServiceQueue
from shared.platform import consumer
from shared.platform.broker import EventPublisher, declare_topology, make_broker
from shared.platform.consumer import subscribe
from shared.platform.deliveries import Outcome, TransientError
from tests.conftest import eventually, random_ref


def plan_event() -> PlanRegistered:
    issuer = AgencyRef(code="dang-uy", kind="office", name="Đảng ủy phường")
    plan_id = random_ref("plan")
    return PlanRegistered(
        correlation_id=plan_id, plan_id=plan_id, number="1-KH/ĐU", title="Thử", issuer=issuer, assignment_count=0
    )


async def test_transient_failures_are_retried_and_a_failing_handler_ends_in_the_dead_letter_queue(
    amqp_url: str, amqp, monkeypatch
) -> None:
    monkeypatch.setattr(consumer, "RETRY_PAUSE_SECONDS", 0.05)
    queue = ServiceQueue(random_ref("retry-"), bindings=("plan.registered.#",), handler_attempts=3)
    calls: dict[str, int] = {}

    async def handle(event) -> Outcome:  # type: ignore[no-untyped-def]
        calls[event.number] = calls.get(event.number, 0) + 1
        if event.number == "flaky" and calls["flaky"] < 3:
            raise TransientError("database briefly unavailable")
        if event.number == "broken":
            raise RuntimeError("a bug")
        return Outcome.PROCESSED

    broker = make_broker(amqp_url, "test")
    publisher = EventPublisher(broker, "test")
    subscribe(broker, queue, "test", handle, publisher, description="test")
    await broker.connect()
    await declare_topology(broker, queue)
    await broker.start()
    try:
        flaky, broken = plan_event(), plan_event()
        flaky.number, broken.number = "flaky", "broken"
        await publisher.publish(flaky)
        await publisher.publish(broken)
        await eventually(lambda: asyncio.sleep(0, calls.get("flaky") == 3), what="flaky to succeed on its third try")
        dlq = await amqp.get_queue(queue.dead_letter_queue)
        dead = await eventually(lambda: dlq.get(no_ack=True, fail=False), what="the broken message dead-lettered")
        assert calls["broken"] == 3
        assert "handler failed 3 times" in dead.headers[REASON_HEADER]
        assert await dlq.get(no_ack=True, fail=False) is None
    finally:
        await broker.stop()
