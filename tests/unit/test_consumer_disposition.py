"""The ack policy as one pure function: what becomes of a delivery, from what processing raised and how often
the queue delivered it before. Every branch, and the boundaries of the handler's attempts."""

from __future__ import annotations

import pytest
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError

from shared.contracts.topology import DELIVERY_LIMIT, HANDLER_ATTEMPTS
from shared.platform.consumer import disposition
from shared.platform.deliveries import Ack, DeadLetter, Delivery, InvalidMessage, Outcome, Requeue, TransientError


@pytest.mark.parametrize("outcome", list(Outcome))
def test_no_error_is_acked_with_the_handlers_outcome(outcome: Outcome) -> None:
    assert disposition(None, 0, outcome=outcome) == Ack(outcome)
    assert disposition(None, HANDLER_ATTEMPTS + 3, outcome=outcome) == Ack(outcome)  # late success still counts


@pytest.mark.parametrize("delivery_count", [0, HANDLER_ATTEMPTS - 1, DELIVERY_LIMIT])
def test_an_invalid_message_is_dead_lettered_at_once_with_its_reason(delivery_count: int) -> None:
    decided = disposition(InvalidMessage("body is not JSON: Expecting value"), delivery_count)
    assert decided == DeadLetter("body is not JSON: Expecting value", "invalid")


@pytest.mark.parametrize(
    "error", [TransientError("tracking is down"), AutoReconnect("primary stepped down"), ServerSelectionTimeoutError()]
)
@pytest.mark.parametrize("delivery_count", [0, HANDLER_ATTEMPTS - 1, HANDLER_ATTEMPTS + 5])
def test_a_transient_failure_is_requeued_however_often_it_came(error: Exception, delivery_count: int) -> None:
    """Only the queue's x-delivery-limit ends a transient failure: an outage must not dead-letter good messages."""
    decided = disposition(error, delivery_count)
    assert decided == Requeue(repr(error), transient=True, attempt=delivery_count + 1)


def test_a_failing_handler_is_requeued_until_its_last_allowed_delivery() -> None:
    error = RuntimeError("boom")
    for delivery_count in range(HANDLER_ATTEMPTS - 1):  # deliveries 1 .. 4
        assert disposition(error, delivery_count) == Requeue(repr(error), transient=False, attempt=delivery_count + 1)


def test_a_failing_handler_is_dead_lettered_on_its_fifth_delivery_with_the_reason() -> None:
    assert HANDLER_ATTEMPTS == 5
    error = KeyError("plan_id")
    decided = disposition(error, HANDLER_ATTEMPTS - 1)
    assert decided == DeadLetter("handler failed 5 times: KeyError('plan_id')", "error")
    assert disposition(error, HANDLER_ATTEMPTS + 2) == DeadLetter(
        "handler failed 8 times: KeyError('plan_id')", "error"
    )


def test_the_queue_gives_the_handler_fewer_attempts_than_its_own_backstop() -> None:
    assert HANDLER_ATTEMPTS < DELIVERY_LIMIT


def test_the_number_of_attempts_is_the_queues() -> None:
    error = ValueError("x")
    assert isinstance(disposition(error, 1, handler_attempts=2), DeadLetter)
    assert isinstance(disposition(error, 0, handler_attempts=2), Requeue)
    assert isinstance(disposition(error, 0, handler_attempts=1), DeadLetter)


@pytest.mark.parametrize(
    ("headers", "count"),
    [({}, 0), ({"x-delivery-count": 3}, 3), ({"x-delivery-count": "4"}, 4), ({"x-delivery-count": "n/a"}, 0)],
)
def test_the_delivery_count_comes_from_the_quorum_queues_header(headers: dict[str, object], count: int) -> None:
    assert Delivery("assignment.created.ubnd.ubnd", b"{}", headers=headers).delivery_count == count


def test_the_event_type_is_the_routing_keys_entity_and_verb() -> None:
    assert Delivery("assignment.created.ubnd.ubnd", b"").event_type == "assignment.created"
    assert Delivery("", b"").event_type == "unknown"
