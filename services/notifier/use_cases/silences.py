"""Operators create and end silences. A silence records the operator whose token created it; ending one makes the
periods whose notices it held back due at once, so what is still due goes out at the next scan."""

from __future__ import annotations

import uuid

import structlog

from services.notifier.records import SilenceRecord
from services.notifier.use_cases.commands import CreateSilence, EndSilence
from services.notifier.use_cases.errors import SilenceNotFound
from services.notifier.use_cases.ports import Store
from shared.domain.clock import Clock
from shared.platform.unit_of_work import Transaction, UnitOfWork

log = structlog.get_logger()


async def create_silence(command: CreateSilence, uow: UnitOfWork, store: Store, clock: Clock) -> SilenceRecord:
    spec = command.request
    silence = SilenceRecord(
        id=uuid.uuid4().hex,
        plan_id=spec.plan_id,
        agency=spec.agency,
        level=spec.level,
        starts_at=spec.starts_at,
        ends_at=spec.ends_at,
        reason=spec.reason,
        created_by=command.created_by,
        created_at=clock.now(),
    )

    async def work(tx: Transaction) -> None:
        await store.add_silence(silence, tx.session)

    await uow.run(work)
    log.info("silence created", silence_id=silence.id, by=silence.created_by, plan_id=spec.plan_id, agency=spec.agency)
    return silence


async def end_silence(command: EndSilence, uow: UnitOfWork, store: Store, clock: Clock) -> list[str]:
    """Returns the periods looked at again; raises SilenceNotFound."""

    async def work(tx: Transaction) -> list[str]:
        if not await store.remove_silence(command.silence_id, tx.session):
            raise SilenceNotFound(command.silence_id)
        held = await store.held_by(command.silence_id, tx.session)
        await store.check_again(held, clock.now(), tx.session)
        return held

    held = await uow.run(work)
    log.info("silence ended", silence_id=command.silence_id, periods_released=len(held))
    return held
