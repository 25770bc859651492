"""The answer an agency gets for a command tracking cannot apply: `command.rejected.<kind>.<code>` on its own
queue, with the reason and the `command_id` it chose (docs/integration.md), written through the unit of work
and the outbox like every event, so it is sent once the refusal is decided and never twice (its audit row
marks it given). The command itself is still dead-lettered for the operators (services/tracking/consumers.py)."""

from __future__ import annotations

import uuid
from typing import get_args

import structlog
from pymongo.errors import DuplicateKeyError

from services.tracking.repository import TrackingRepository
from shared.contracts.commands import Command
from shared.contracts.events import AgencyKind, AgencyRef, CommandRejected
from shared.contracts.topology import DELIVERY_LIMIT
from shared.domain.clock import Clock
from shared.platform.unit_of_work import Transaction, UnitOfWork

log = structlog.get_logger()

_ANSWER_NAMESPACE = uuid.UUID("6b7e0f9e-3f52-4c1e-9d07-2a8f7c51b1d3")
REASONS = frozenset(get_args(CommandRejected.model_fields["reason"].annotation))
# An unknown assignment is answered at the latest on this delivery, well before the queue's own limit would
# dead-letter the command with no answer.
LAST_WAITING_DELIVERY = DELIVERY_LIMIT // 2


class CommandAnswers:
    def __init__(
        self, uow: UnitOfWork, repository: TrackingRepository, clock: Clock, unknown_assignment_wait_seconds: float
    ) -> None:
        self._uow = uow
        self._repository = repository
        self._clock = clock
        self._wait = unknown_assignment_wait_seconds

    def waited_enough(self, command: Command) -> bool:
        """Whether an unknown assignment id is now answered as such: its `assignment.created` may still be on the
        way, so the command waits (is retried) this long after it was sent, or this many deliveries."""
        waited = (self._clock.now() - command.sent_at).total_seconds()
        return waited >= self._wait or command.delivery_count + 1 >= LAST_WAITING_DELIVERY

    async def reject(self, command: Command, agency: str, reason: str, detail: str) -> None:
        """Tell the sender: publish `command.rejected` to its queue (once: the event id is the command's)."""
        kind = command.sender_kind
        if kind not in get_args(AgencyKind):
            log.warning("refused command not answered: its routing key names no agency kind", agency=agency)
            return
        answer = CommandRejected(
            event_id=uuid.uuid5(_ANSWER_NAMESPACE, f"{agency}|{command.command_type}|{command.command_id}").hex,
            correlation_id=command.command_id,
            agency=AgencyRef.model_validate({"code": agency, "kind": kind, "name": agency}),
            command_id=command.command_id,
            command_type=command.command_type,
            message_id=command.message_id,
            assignment_id=command.assignment_id,
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
