"""The notifier's use cases with their dependencies, as the entry points (routes, consumer, scan loop, CLI through
HTTP) call them. Built once, by the composition root (main.py) or a test's harness."""

from __future__ import annotations

from typing import Any

from services.notifier.records import SilenceRecord
from services.notifier.rules.decisions import Rules
from services.notifier.rules.recipients import Addressbook
from services.notifier.use_cases import silences
from services.notifier.use_cases.commands import (
    CreateSilence,
    EndSilence,
    LadderReapplied,
    Preview,
    PreviewEscalations,
    ReapplyLadder,
    ScanTaken,
)
from services.notifier.use_cases.ladder import LadderReapplier
from services.notifier.use_cases.new_link import send_new_link
from services.notifier.use_cases.ports import Store, Wakeable
from services.notifier.use_cases.preview import preview
from services.notifier.use_cases.projection import project
from services.notifier.use_cases.scan import EscalationScan, ScanLimits
from shared.contracts.events import Event, LinkRequested
from shared.domain.clock import Clock
from shared.platform.unit_of_work import UnitOfWork


class NotifierUseCases:
    def __init__(
        self,
        uow: UnitOfWork,
        store: Store,
        addressbook: Addressbook,
        rules: Rules,
        clock: Clock,
        mailer: Wakeable,
        limits: ScanLimits,
        reapply_batch: int = 500,
    ) -> None:
        self.uow = uow
        self.store = store
        self.rules = rules
        self.clock = clock
        self.addressbook = addressbook
        self._mailer = mailer
        self.scan = EscalationScan(uow, store, addressbook, rules, clock, mailer, limits)
        self._reapplier = LadderReapplier(uow, store, rules, reapply_batch)

    async def project(self, event: Event) -> bool:
        """False: the event was projected before."""
        return await project(event, self.uow, self.store, self.rules)

    async def send_new_link(self, event: LinkRequested) -> bool:
        """False: the request was answered before."""
        return await send_new_link(event, self.uow, self.store, self.addressbook, self._mailer)

    async def scan_due(self) -> ScanTaken:
        return await self.scan.once()

    async def preview(self, command: PreviewEscalations) -> Preview:
        return await preview(command, self.store, self.scan, self.clock)

    async def create_silence(self, command: CreateSilence) -> SilenceRecord:
        return await silences.create_silence(command, self.uow, self.store, self.clock)

    async def end_silence(self, command: EndSilence) -> list[str]:
        return await silences.end_silence(command, self.uow, self.store, self.clock)

    async def list_silences(self, active: bool) -> list[SilenceRecord]:
        return await self.store.list_silences(self.clock.now() if active else None)

    async def reapply_ladder(self, command: ReapplyLadder) -> LadderReapplied:
        return await self._reapplier(command.request, command.by, self.clock.now())

    async def periods_of(self, assignment_id: str) -> list[dict[str, Any]]:
        return await self.store.periods_of(assignment_id)

    async def emails(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        return await self.store.list_emails(status, limit)
