"""A notifier assembled in-process on the real database, driven by a fake clock: projector, scanner and
mailer, without a broker (the outbox rows are written, not relayed). Shared by the notifier's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from pydantic import SecretStr

from deploy.local.infra import free_port
from deploy.local.smtp_sink import MailFolder
from services.notifier.config import DEFAULT_LADDER, Settings
from services.notifier.consumers import PeriodProjector
from services.notifier.escalation import scan_once
from services.notifier.handlers import build_router
from services.notifier.mailer import Mailer
from services.notifier.repository import NotifierRepository
from services.notifier.rules.decisions import Rules
from services.notifier.rules.recipients import Addressbook
from services.notifier.rules.schedule import SendingWindow
from services.notifier.use_cases.bundle import NotifierUseCases
from services.notifier.use_cases.scan import ScanLimits, redigest
from shared.contracts.events import AssignmentCreated, ReportingDeadline
from shared.contracts.ladder import Ladder
from shared.domain.calendar import DEFAULT_OVERRIDES, load_calendar
from shared.domain.clock import FakeClock
from shared.domain.directory import Directory
from shared.platform.auth import TokenIdentifier, TokenVerifier, install
from shared.platform.http import add_operational_routes
from shared.platform.mongo import make_client
from shared.platform.outbox_writer import OutboxWriter
from shared.platform.settings import DEFAULT_DIRECTORY
from shared.platform.unit_of_work import MongoUnitOfWork
from tests.conftest import random_ref
from tests.integration.conftest import OPERATOR, OPERATOR_TOKEN

DIRECTORY = Directory.load(DEFAULT_DIRECTORY)
CALENDAR = load_calendar(DEFAULT_OVERRIDES)


class RelayNotWoken:
    """The outbox relay is not run here: its rows are written and stay pending."""

    wakes = 0

    def wake(self) -> None:
        self.wakes += 1


@dataclass
class Notifier:
    repository: NotifierRepository
    use_cases: NotifierUseCases
    projector: PeriodProjector
    mailer: Mailer
    clock: FakeClock
    rules: Rules

    def http(self, headers: dict[str, str] | None = None, verifier: TokenIdentifier | None = None) -> httpx.AsyncClient:
        """The notifier's routes over HTTP, with the service's error answers and body limits; tokens checked by
        `verifier` (default: the bootstrap operator token alone), requests sent with `headers` (default: OPERATOR)."""
        app = FastAPI(title="dondoc notifier")
        install(app, verifier or TokenVerifier(SecretStr(OPERATOR_TOKEN), auth_url=None))
        app.include_router(build_router(self.use_cases))
        add_operational_routes(app, {})  # the error answers and body limits, as the service's app has them
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://notifier",
            headers=OPERATOR if headers is None else headers,
        )

    async def scan_once(self) -> int:
        return await scan_once(self.use_cases.scan)

    async def scan_all(self) -> int:
        total = 0
        while taken := await self.scan_once():
            total += taken
        return total


@asynccontextmanager
async def notifier(
    mongo_url: str,
    database: str,
    clock: FakeClock,
    smtp_port: int = 1,
    window: str = "always",
    ladder: Ladder | None = None,
    directory: Any = None,
    contact: str = "",
    scan_batch: int = 50,
    reapply_batch: int = 500,
    **settings: Any,
) -> AsyncIterator[Notifier]:
    """One notifier replica; several may share a database (each has its own client)."""
    client = make_client(mongo_url)
    db = client[database]
    repository = NotifierRepository(db)
    await repository.ensure_indexes()
    rules = Rules(ladder or Ladder.load(DEFAULT_LADDER), CALENDAR, SendingWindow.parse(window, CALENDAR))
    config = Settings(**{"smtp_port": smtp_port, "smtp_timeout_seconds": 5, "mail_retry_base_seconds": 0, **settings})
    book = Addressbook(directory or DIRECTORY, contact)
    mailer = Mailer(repository, config, clock, revise=partial(redigest, book=book))
    use_cases = NotifierUseCases(
        # As services/notifier/main.py: an escalation's outbox row carries its plan's trace.
        MongoUnitOfWork(client, OutboxWriter(db, clock, repository.escalation_traces), wake=RelayNotWoken().wake),
        repository,
        book,
        rules,
        clock,
        mailer,
        ScanLimits(scan_batch, timedelta(seconds=60)),
        reapply_batch,
    )
    try:
        yield Notifier(repository, use_cases, PeriodProjector(use_cases), mailer, clock, rules)
    finally:
        await client.close()


async def steps_taken(n: Notifier, assignment_id: str) -> list[tuple[str, str]]:
    """The (occurrence, address) of every notice taken for one assignment's periods."""
    rows = await n.repository.notices.find({"period_id": {"$regex": f"^{assignment_id}:"}}).to_list()
    return sorted((row["occurrence"], row["address"]) for row in rows)


async def drop(mongo_url: str, database: str) -> None:
    client = make_client(mongo_url)
    await client.drop_database(database)
    await client.close()


def created(
    agency: str,
    due_at: datetime,
    at: datetime,
    plan_id: str | None = None,
    number: str = "85-KH/ĐU",
    title: str = "Kế hoạch tổng kết công tác dân vận năm 2026",
    period: str = "2026-FY",
) -> AssignmentCreated:
    plan = plan_id or random_ref("plan-")
    return AssignmentCreated(
        occurred_at=at,
        correlation_id=plan,
        agency=DIRECTORY.get(agency).ref(),
        assignment_id=random_ref("a"),
        plan_id=plan,
        plan_number=number,
        plan_title=title,
        issuer=DIRECTORY.get("dang-uy").ref(),
        task=f"Báo cáo kết quả thực hiện của {DIRECTORY.get(agency).name}.",
        deadlines=[ReportingDeadline(period=period, due_at=due_at, wording="gửi trước ngày 01 tháng 7")],
    )


class ScriptedServer(MailFolder):
    """An SMTP server that answers DATA with the scripted codes first, then accepts (250) and stores."""

    def __init__(self, folder: Path, script: list[str], forever: str | None = None) -> None:
        super().__init__(folder)
        self.script = list(script)
        self.forever = forever
        self.attempts = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.attempts += 1
        if self.forever:
            return self.forever
        if self.script:
            return self.script.pop(0)
        return await super().handle_DATA(server, session, envelope)


@asynccontextmanager
async def smtp_server(
    folder: Path,
    script: list[str] = (),
    forever: str | None = None,  # type: ignore[assignment]
) -> AsyncIterator[tuple[int, ScriptedServer]]:
    port = free_port()
    handler = ScriptedServer(folder, list(script), forever)
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, handler
    finally:
        controller.stop()
