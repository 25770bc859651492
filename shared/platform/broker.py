"""RabbitMQ plumbing on FastStream: the broker, topology declaration and a confirming publisher."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import structlog
from faststream.rabbit import ExchangeType, RabbitBroker, RabbitExchange, RabbitQueue
from faststream.rabbit.schemas import Channel, QueueType

from shared.contracts import topology
from shared.contracts.commands import BaseCommand
from shared.contracts.events import Event
from shared.platform.metrics import MESSAGES_PUBLISHED, PUBLISH_FAILURES

if TYPE_CHECKING:
    from faststream.rabbit.schemas.queue import QuorumQueueArgs

log = structlog.get_logger()

EVENTS = RabbitExchange(topology.EVENTS_EXCHANGE, type=ExchangeType.TOPIC, durable=True)
DEAD_LETTERS = RabbitExchange(topology.DEAD_LETTER_EXCHANGE, type=ExchangeType.DIRECT, durable=True)


class PublishError(RuntimeError):
    """The broker did not take the message: unroutable (returned), nacked, or unreachable."""


def make_broker(amqp_url: str, service: str, prefetch: int = 64) -> RabbitBroker:
    return RabbitBroker(
        amqp_url,
        # Confirms plus on_return_raises: a mandatory message nobody can route is an error, not a silent ack.
        default_channel=Channel(prefetch_count=prefetch, publisher_confirms=True, on_return_raises=True),
        app_id=f"dondoc-{service}",
        graceful_timeout=10.0,
        logger=None,
    )


def rabbit_queue(declaration: topology.QueueDeclaration) -> RabbitQueue:
    # FastStream types quorum arguments as a TypedDict of the keys it knows; ours come from the topology's data.
    arguments = cast("QuorumQueueArgs", dict(declaration.arguments))
    return RabbitQueue(declaration.name, queue_type=QueueType.QUORUM, durable=True, arguments=arguments)


def service_queue(queue: topology.ServiceQueue) -> RabbitQueue:
    return rabbit_queue(queue.declaration())


async def declare(broker: RabbitBroker, declarations: list[topology.QueueDeclaration]) -> None:
    """Declare the exchanges, then each queue with its bindings (idempotent)."""
    exchanges = {
        topology.EVENTS_EXCHANGE: await broker.declare_exchange(EVENTS),
        topology.DEAD_LETTER_EXCHANGE: await broker.declare_exchange(DEAD_LETTERS),
    }
    for declaration in declarations:
        declared = await broker.declare_queue(rabbit_queue(declaration))
        for binding in declaration.bindings:
            await declared.bind(exchanges[binding.exchange], routing_key=binding.routing_key)


async def declare_topology(broker: RabbitBroker, queue: topology.ServiceQueue | None = None) -> None:
    """Declare the exchanges and, for a consuming service, its queue, bindings and dead-letter queue."""
    await declare(broker, topology.service_declarations(queue) if queue is not None else [])


async def declare_agency_queues(broker: RabbitBroker, codes: list[str]) -> None:
    """One queue per agency, bound to the events about its assignments, and their dead-letter queue."""
    await declare(broker, topology.agency_declarations(codes))


def document_publications(broker: RabbitBroker, events: list[type[Event]]) -> None:
    """Declare, for the AsyncAPI document, which events this service publishes (the outbox relay does
    the publishing; these publisher objects only describe the channels and their payloads)."""
    for event in events:
        agency_part = ".{agency_kind}.{agency_code}" if "agency" in event.model_fields else ""
        if not agency_part and event.__name__ in ("PlanRegistered", "PlanRejected"):
            agency_part = ".{issuer_kind}.{issuer_code}"  # routed by their issuer
        broker.publisher(
            exchange=EVENTS,
            routing_key=f"{event.entity}.{event.verb}{agency_part}",
            schema=event,
            title=f"{event.entity}.{event.verb}",
            description=(event.__doc__ or "").strip() or f"{event.__name__} event",
        )


def document_commands(broker: RabbitBroker, types: Mapping[str, type[BaseCommand]]) -> None:
    """Declare, for the AsyncAPI document, the commands agencies' systems send (tracking consumes them from its
    queue; the channels here carry their payload schemas, so a changed command model is drift-checked)."""
    for name, command in types.items():
        broker.publisher(
            exchange=EVENTS,
            routing_key=f"{name}.{{agency_kind}}.{{agency_code}}",
            schema=command,
            title=name,
            description=f"Sent by an agency's system as its own broker user (AMQP `user_id`), consumed by tracking; "
            f"answered with the resulting event or `command.rejected` on the agency's queue. {command.__name__}."
            if name.startswith("command.")
            else " ".join((command.__doc__ or name).split()),
        )


class EventPublisher:
    """Publishes persistent messages to the events exchange and waits for the broker's confirm."""

    def __init__(self, broker: RabbitBroker, service: str) -> None:
        self._broker = broker
        self._service = service

    async def publish(self, event: Event) -> None:
        await self.publish_raw(
            routing_key=event.routing_key(),
            body=event.model_dump_json().encode(),
            event_id=event.event_id,
            event_type=event.event_type,
            correlation_id=event.correlation_id,
        )

    async def publish_raw(
        self,
        *,
        routing_key: str,
        body: bytes,
        event_id: str,
        event_type: str,
        correlation_id: str,
        exchange: RabbitExchange = EVENTS,
        headers: dict[str, Any] | None = None,
    ) -> None:
        try:
            await self._broker.publish(
                body,
                exchange=exchange,
                routing_key=routing_key,
                mandatory=True,
                persist=True,
                message_id=event_id,
                correlation_id=correlation_id,
                content_type="application/json",
                message_type=event_type,
                headers=headers or {},
                timeout=10.0,
            )
        except Exception as exc:
            PUBLISH_FAILURES.labels(self._service).inc()
            raise PublishError(f"publish of {event_type} {event_id} to {routing_key!r} failed: {exc!r}") from exc
        MESSAGES_PUBLISHED.labels(self._service, event_type).inc()
