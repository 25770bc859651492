"""What a consumer works with: the delivery as it came from the broker, the message decoded from it, what a
handler answers, and what becomes of the delivery (ack, requeue or dead-letter). No I/O here:
`shared/platform/consumer.py`
decides with these and talks to the broker."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError

from shared.contracts.commands import COMMAND_TYPES, BaseCommand
from shared.contracts.events import EVENT_TYPES, Event


class Outcome(StrEnum):
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


class InvalidMessage(Exception):
    """The message can never be processed as it is; it goes to the dead-letter queue with this reason."""


class TransientError(Exception):
    """Processing failed for a reason that may pass (a dependency is down); the message is retried."""


Message = Event | BaseCommand
Handler = Callable[[Message], Awaitable[Outcome]]
MESSAGE_TYPES: dict[str, type[Event] | type[BaseCommand]] = {**EVENT_TYPES, **COMMAND_TYPES}


@dataclass(frozen=True)
class Delivery:
    """One delivery as the broker handed it over, body undecoded: `parse_event` decodes it under the ack policy."""

    routing_key: str
    body: bytes
    message_id: str | None = None
    user_id: str | None = None
    headers: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, raw: AbstractIncomingMessage) -> Delivery:
        return cls(raw.routing_key or "", bytes(raw.body), raw.message_id, raw.user_id, dict(raw.headers or {}))

    @property
    def event_type(self) -> str:
        """`<entity>.<verb>`, the routing key's first two parts: the metrics' label, the contract's name."""
        return ".".join(self.routing_key.split(".")[:2]) or "unknown"

    @property
    def delivery_count(self) -> int:
        """How often the quorum queue delivered it before (`x-delivery-count`, absent on the first delivery)."""
        value = self.headers.get("x-delivery-count", 0)
        try:
            return int(value)
        except (TypeError, ValueError):
            return 0


def sender_of(broker_user: str | None, prefix: str, setting: str = "TRACKING_AGENCY_USER_PREFIX") -> str:
    """The agency (or issuer) a command's broker-validated user acts for: the user `<prefix><code>`; anything
    else is refused with the reason (an empty prefix would let `guest` or a service's user pass as an agency)."""
    if not broker_user:
        raise InvalidMessage("forbidden: the message has no user_id; set it to your broker user")
    if not prefix:
        raise InvalidMessage(
            f"forbidden: agencies' commands over AMQP are off here: {setting} is empty, so no "
            f"broker user (here {broker_user!r}) can be told from an agency's"
        )
    if not broker_user.startswith(prefix) or broker_user == prefix:
        raise InvalidMessage(f"forbidden: broker user {broker_user!r} is not an agency user ({prefix}<code>)")
    return broker_user.removeprefix(prefix)


def parse_event(routing_key: str, body: bytes, user_id: str | None = None) -> Message:
    """Pick the contract from the routing key's `<entity>.<verb>` and validate the body against it.

    A command also gets the broker-validated `user_id` of the message that carried it.
    """
    event_type = ".".join(routing_key.split(".")[:2])
    model = MESSAGE_TYPES.get(event_type)
    if model is None:
        raise InvalidMessage(f"unknown event type {event_type!r} (routing key {routing_key!r})")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidMessage(f"body is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise InvalidMessage("body must be a JSON object")
    try:
        parsed = model.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}" for err in exc.errors()[:10]
        )
        raise InvalidMessage(f"{event_type} does not match its contract: {problems}") from exc
    if isinstance(parsed, BaseCommand):
        parsed.broker_user_id = user_id
        parsed.routing_key = routing_key
    return parsed


@dataclass(frozen=True)
class Ack:
    """Processed (or found processed before): acked, after the handler's write returned."""

    outcome: Outcome


@dataclass(frozen=True)
class Requeue:
    """Returned to the queue with basic.reject (requeue=True), which every RabbitMQ version counts as a delivery."""

    reason: str
    transient: bool  # a dependency is down (expected), rather than a handler that failed (logged with its trace)
    attempt: int


@dataclass(frozen=True)
class DeadLetter:
    """Copied to the service's dead-letter queue with the reason in `x-dondoc-reason`, then acked."""

    reason: str
    error_class: Literal["invalid", "error"]


Disposition = Ack | Requeue | DeadLetter
