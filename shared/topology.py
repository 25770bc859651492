"""The broker topology, in one place: exchanges, queues, bindings and their arguments.

One durable topic exchange carries every event, routed `<entity>.<verb>[.<agency-kind>.<agency-code>]`.
Each consuming service owns one quorum queue with an explicit delivery limit; messages that can
never be processed go to the service's dead-letter queue through one direct dead-letter exchange.
"""

from __future__ import annotations

from dataclasses import dataclass, field

EVENTS_EXCHANGE = "dondoc.events"
DEAD_LETTER_EXCHANGE = "dondoc.dead-letter"
# A handler that fails is given HANDLER_ATTEMPTS deliveries, then we dead-letter the message with the reason.
# The broker's own limit is only the backstop for a message that kills its consumer before any handler can
# answer. It is higher because RabbitMQ before 4.3 also counts every message a crashed consumer held: with
# 1,000 in flight, five crashes dead-lettered a thousand good messages (tests/chaos, scenario 2).
HANDLER_ATTEMPTS = 5
DELIVERY_LIMIT = 20

# Headers carried by a dead-lettered message (set by our consumers; the broker adds x-death).
REASON_HEADER = "x-dondoc-reason"
ERROR_CLASS_HEADER = "x-dondoc-error-class"
ORIGINAL_ROUTING_KEY_HEADER = "x-dondoc-original-routing-key"
ORIGINAL_QUEUE_HEADER = "x-dondoc-original-queue"
DEAD_LETTERED_AT_HEADER = "x-dondoc-dead-lettered-at"


@dataclass(frozen=True)
class ServiceQueue:
    name: str
    bindings: tuple[str, ...]
    delivery_limit: int = DELIVERY_LIMIT
    handler_attempts: int = HANDLER_ATTEMPTS
    extra_arguments: dict[str, object] = field(default_factory=dict)

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.name}.dead-letter"

    def arguments(self) -> dict[str, object]:
        return {
            "x-queue-type": "quorum",
            "x-delivery-limit": self.delivery_limit,
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": self.name,
            **self.extra_arguments,
        }


TRACKING_QUEUE = ServiceQueue(
    name="tracking",
    # Tracking keeps the audit trail: it records every plan, assignment, report and escalation event.
    # It also takes agencies' commands sent over AMQP.
    bindings=("plan.#", "assignment.#", "report.#", "escalation.#", "extension.#", "deadline.#", "command.#"),
)
NOTIFIER_QUEUE = ServiceQueue(
    name="notifier",
    bindings=(
        "assignment.created.#",
        "assignment.cancelled.#",
        "assignment.revised.#",
        "assignment.acknowledged.#",
        "report.submitted.#",
        "deadline.extended.#",
        "directory.updated",  # the notifier keeps its own copy of the agency directory
    ),
)
SERVICE_QUEUES = {q.name: q for q in (TRACKING_QUEUE, NOTIFIER_QUEUE)}


def agency_routing_key(entity: str, verb: str, kind: str, code: str) -> str:
    return f"{entity}.{verb}.{kind}.{code}"


AGENCY_EVENT_ENTITIES = ("assignment", "report", "deadline", "extension", "escalation")


def agency_queue(code: str) -> ServiceQueue:
    """The queue an agency's system consumes: every event about its own assignments (never its own commands)."""
    return ServiceQueue(
        name=f"agency.{code}",
        bindings=tuple(f"{entity}.*.*.{code}" for entity in AGENCY_EVENT_ENTITIES),
    )
