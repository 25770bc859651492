"""The broker topology, in one place: exchanges, queues, bindings and their arguments.

One durable topic exchange carries every event, routed `<entity>.<verb>[.<agency-kind>.<agency-code>]`.
Each consuming service owns one quorum queue with an explicit delivery limit; messages that can
never be processed go to the service's dead-letter queue through one direct dead-letter exchange.
Each agency provisioned for AMQP reads its own queue `agency.<code>`, with the same limit; what it cannot
take goes to the one queue `agencies.dead-letter`.

Every queue declaration is produced here as data (`QueueDeclaration`: name, arguments, bindings), and both
the services (`shared/platform/broker.py`, at start-up) and the broker definitions file (`dondoc agencies definitions`)
declare from it, so the two cannot drift apart: a queue declared with other arguments than it has is refused
by the broker (PRECONDITION_FAILED).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# The broker user of agency X is f"{AGENCY_USER_PREFIX}{X}": the prefix keeps a service's own user, the broker's
# guest or an administrator from ever counting as the agency of the same name (tracking's consumers check it).
AGENCY_USER_PREFIX = "agency-"
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
class Binding:
    exchange: str
    routing_key: str


@dataclass(frozen=True)
class QueueDeclaration:
    """One queue as the broker must hold it. Every queue is durable; its arguments are fixed at creation."""

    name: str
    arguments: Mapping[str, object]
    bindings: tuple[Binding, ...]


# A dead-letter queue is read with basic.get by `dondoc dlq`, and on RabbitMQ before 4.3 every message returned
# unacked counts as a delivery: with a delivery limit (and no dead-letter exchange behind it) a dead letter
# would be dropped after that many looks. Existing dead-letter queues were declared with exactly these
# arguments, and a declaration with others is refused, so they stay as they are.
DEAD_LETTER_QUEUE_ARGUMENTS: Mapping[str, object] = {"x-queue-type": "quorum"}


@dataclass(frozen=True)
class ServiceQueue:
    name: str
    bindings: tuple[str, ...]
    delivery_limit: int = DELIVERY_LIMIT
    handler_attempts: int = HANDLER_ATTEMPTS
    extra_arguments: dict[str, object] = field(default_factory=dict)
    # Where its dead letters go: its own `<name>.dead-letter` unless several queues share one.
    dead_letter_key: str = ""

    @property
    def dead_letter_routing_key(self) -> str:
        return self.dead_letter_key or self.name

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.dead_letter_routing_key}.dead-letter"

    def arguments(self) -> dict[str, object]:
        return {
            "x-queue-type": "quorum",
            "x-delivery-limit": self.delivery_limit,
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": self.dead_letter_routing_key,
            **self.extra_arguments,
        }

    def declaration(self) -> QueueDeclaration:
        return QueueDeclaration(
            self.name, self.arguments(), tuple(Binding(EVENTS_EXCHANGE, key) for key in self.bindings)
        )

    def dead_letter_declaration(self) -> QueueDeclaration:
        return QueueDeclaration(
            self.dead_letter_queue,
            DEAD_LETTER_QUEUE_ARGUMENTS,
            (Binding(DEAD_LETTER_EXCHANGE, self.dead_letter_routing_key),),
        )


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
        "link.requested",  # a body asked for a new personal link: the notifier sends it to its registered address
    ),
)
SERVICE_QUEUES = {q.name: q for q in (TRACKING_QUEUE, NOTIFIER_QUEUE)}


def agency_routing_key(entity: str, verb: str, kind: str, code: str) -> str:
    return f"{entity}.{verb}.{kind}.{code}"


AGENCY_EVENT_ENTITIES = ("assignment", "report", "deadline", "extension", "escalation")


AGENCIES_DEAD_LETTER_KEY = "agencies"  # not `agency.…`: an agency's user may read `agency.<its code>`


def agency_queue(code: str) -> ServiceQueue:
    """The queue an agency's system consumes: every event about its own assignments (never its own commands)."""
    return ServiceQueue(
        name=f"agency.{code}",
        bindings=tuple(f"{entity}.*.*.{code}" for entity in AGENCY_EVENT_ENTITIES),
        dead_letter_key=AGENCIES_DEAD_LETTER_KEY,
    )


AGENCIES_DEAD_LETTER_QUEUE = f"{AGENCIES_DEAD_LETTER_KEY}.dead-letter"


def service_declarations(queue: ServiceQueue) -> list[QueueDeclaration]:
    """A consuming service's queue and its dead-letter queue."""
    return [queue.declaration(), queue.dead_letter_declaration()]


def agency_declarations(codes: Iterable[str]) -> list[QueueDeclaration]:
    """The agencies' queues and, when there is any, the dead-letter queue they share."""
    queues = [agency_queue(code) for code in codes]
    if not queues:
        return []
    return [q.declaration() for q in queues] + [queues[0].dead_letter_declaration()]


def all_declarations(agency_codes: Iterable[str] = ()) -> list[QueueDeclaration]:
    """Every queue of a deployment: the services' (with their dead-letter queues) and the agencies'."""
    declarations = [d for queue in SERVICE_QUEUES.values() for d in service_declarations(queue)]
    return declarations + agency_declarations(agency_codes)
