"""The answer an agency gets for a command tracking cannot apply: `command.rejected.<kind>.<code>` on its own
queue, with the reason and the `command_id` it chose (docs/integration.md), written through the unit of work
and the outbox like every event, so it is sent once the refusal is decided and never twice (its audit row
marks it given). The command itself is still dead-lettered for the operators (services/tracking/consumers.py)."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import get_args

import structlog
from pymongo.errors import DuplicateKeyError

from services.tracking.repository import TrackingRepository
from shared.contracts.commands import AGENCY_COMMAND_TYPES, Command
from shared.contracts.events import AgencyRef, CommandRejected, is_agency_kind
from shared.contracts.topology import DELIVERY_LIMIT
from shared.domain.clock import Clock
from shared.platform.deliveries import Delivery, InvalidMessage, sender_of
from shared.platform.unit_of_work import Transaction, UnitOfWork

log = structlog.get_logger()

_ANSWER_NAMESPACE = uuid.UUID("6b7e0f9e-3f52-4c1e-9d07-2a8f7c51b1d3")
REASONS = frozenset(get_args(CommandRejected.model_fields["reason"].annotation))
# An unknown assignment is answered at the latest on this delivery, well before the queue's own limit would
# dead-letter the command with no answer.
LAST_WAITING_DELIVERY = DELIVERY_LIMIT // 2


@dataclass(frozen=True)
class Refusal:
    """Who is answered about which command."""

    agency: str
    kind: str | None
    command_type: str
    command_id: str
    message_id: str | None


def _fields_of(body: bytes) -> dict[str, str]:
    """The string fields an unparsable command may still name (its command_id, its assignment_id)."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    if not isinstance(payload, dict):
        return {}
    return {
        key: value
        for key, value in payload.items()
        if key in ("command_id", "assignment_id") and isinstance(value, str)
    }


class CommandAnswers:
    def __init__(  # noqa: PLR0913 - the unit of work, the audit trail, the clock and two settings
        self,
        uow: UnitOfWork,
        repository: TrackingRepository,
        clock: Clock,
        unknown_assignment_wait_seconds: float,
        agency_user_prefix: str = "",
    ) -> None:
        self._uow = uow
        self._repository = repository
        self._prefix = agency_user_prefix
        self._clock = clock
        self._wait = unknown_assignment_wait_seconds

    def waited_enough(self, command: Command) -> bool:
        """Whether an unknown assignment id is now answered as such: its `assignment.created` may still be on the
        way, so the command waits (is retried) this long after it was sent, or this many deliveries."""
        waited = (self._clock.now() - command.sent_at).total_seconds()
        return waited >= self._wait or command.delivery_count + 1 >= LAST_WAITING_DELIVERY

    async def reject(self, command: Command, agency: str, reason: str, detail: str) -> None:
        """Tell the sender: publish `command.rejected` to its queue (once: the event id is the command's)."""
        await self._answer(
            Refusal(agency, command.sender_kind, command.command_type, command.command_id, command.message_id),
            command.assignment_id,
            reason,
            detail,
        )

    async def reject_unparsed(self, delivery: Delivery, error: InvalidMessage) -> None:
        """A command whose body does not match its contract (not JSON, an unknown field, a missing one): answered
        as `invalid` when its sender can be told (its broker user and routing key name an agency)."""
        parts = delivery.routing_key.split(".")
        if len(parts) != 4 or f"{parts[0]}.{parts[1]}" not in AGENCY_COMMAND_TYPES:
            return
        try:
            agency = sender_of(delivery.user_id, self._prefix)
        except InvalidMessage:
            return  # no agency to answer: dead-lettered for the operators only
        body = _fields_of(delivery.body)
        command_id = body.get("command_id") or delivery.message_id or hashlib.sha256(delivery.body).hexdigest()[:32]
        refusal = Refusal(agency, parts[2], f"{parts[0]}.{parts[1]}", command_id[:128], delivery.message_id)
        await self._answer(refusal, body.get("assignment_id", "")[:64], "invalid", str(error))

    async def _answer(self, refusal: Refusal, assignment_id: str, reason: str, detail: str) -> None:
        if not is_agency_kind(refusal.kind):
            log.warning("refused command not answered: its routing key names no agency kind", agency=refusal.agency)
            return
        key = f"{refusal.agency}|{refusal.command_type}|{refusal.command_id}"
        answer = CommandRejected(
            event_id=uuid.uuid5(_ANSWER_NAMESPACE, key).hex,
            correlation_id=refusal.command_id,
            agency=AgencyRef.model_validate({"code": refusal.agency, "kind": refusal.kind, "name": refusal.agency}),
            command_id=refusal.command_id,
            command_type=refusal.command_type,
            message_id=refusal.message_id,
            assignment_id=assignment_id,
            reason=reason if reason in REASONS else "invalid",
            detail=detail[:1000],
        )

        async def work(tx: Transaction) -> None:
            # The audit row marks the answer given: a redelivered command's second answer is a duplicate key.
            await self._repository.record_event(answer, tx.session, "amqp", "agency")
            tx.publish(answer)

        try:
            await self._uow.run(work)
        except DuplicateKeyError:
            return  # answered before: a redelivered command gets no second answer
        log.info("command rejected; sender told", reason=answer.reason, command_type=answer.command_type)
