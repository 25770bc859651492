"""Notifier's composition root."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from fastapi import FastAPI

from services.notifier.bulk import ProjectionInBulk
from services.notifier.config import Settings
from services.notifier.consumers import NewLinkSender, PeriodProjector, dispatch, handlers
from services.notifier.directory_copy import DirectoryFollower
from services.notifier.escalation import run_scans
from services.notifier.handlers import build_router
from services.notifier.mailer import Mailer
from services.notifier.repository import NotifierRepository
from services.notifier.rules.decisions import Rules
from services.notifier.rules.recipients import Addressbook
from services.notifier.rules.schedule import SendingWindow
from services.notifier.use_cases.bundle import NotifierUseCases
from services.notifier.use_cases.scan import ScanLimits, redigest
from shared.contracts.events import EscalationSent
from shared.contracts.ladder import Ladder
from shared.contracts.topology import NOTIFIER_QUEUE
from shared.domain.calendar import load_calendar
from shared.domain.clock import Clock, SystemClock
from shared.domain.directory import Directory
from shared.platform.auth import TokenVerifier, install
from shared.platform.broker import document_publications
from shared.platform.consumer import subscribe
from shared.platform.directory_store import DirectoryHolder, DirectoryStore
from shared.platform.http import add_operational_routes
from shared.platform.mongo import ping
from shared.platform.outbox import Outbox
from shared.platform.outbox_writer import OutboxWriter
from shared.platform.runtime import ServiceRuntime
from shared.platform.unit_of_work import MongoUnitOfWork

SERVICE = "notifier"


@dataclass
class Parts:
    runtime: ServiceRuntime
    repository: NotifierRepository
    directories: DirectoryHolder
    outbox: Outbox
    mailer: Mailer
    use_cases: NotifierUseCases


def assemble(settings: Settings, clock: Clock) -> Parts:
    runtime = ServiceRuntime(SERVICE, settings, queue=NOTIFIER_QUEUE, prefetch=settings.prefetch)
    repository = NotifierRepository(runtime.db)
    directories = DirectoryHolder(DirectoryStore(runtime.db), Directory.load(settings.directory_path))
    outbox = Outbox(
        runtime.db,
        runtime.publisher,
        SERVICE,
        clock,
        settings.outbox_poll_seconds,
        lease_seconds=settings.outbox_lease_seconds,
    )
    calendar = load_calendar(settings.calendar_overrides_path)
    window = SendingWindow.parse(settings.sending_window, calendar)
    book = Addressbook(directories, settings.contact)
    mailer = Mailer(repository, settings, clock, window, revise=partial(redigest, book=book))
    use_cases = NotifierUseCases(
        MongoUnitOfWork(runtime.client, OutboxWriter(runtime.db, clock), wake=outbox.wake),
        repository,
        book,
        Rules(Ladder.load(settings.ladder_path), calendar, window),
        clock,
        mailer,
        ScanLimits(settings.scan_batch_size, timedelta(seconds=settings.scan_lease_seconds)),
    )
    return Parts(runtime, repository, directories, outbox, mailer, use_cases)


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    clock = clock or SystemClock()
    parts = assemble(settings, clock)
    runtime, directories, outbox = parts.runtime, parts.directories, parts.outbox
    subscribe(
        runtime.broker,
        NOTIFIER_QUEUE,
        SERVICE,
        dispatch(
            handlers(PeriodProjector(parts.use_cases), DirectoryFollower(directories), NewLinkSender(parts.use_cases))
        ),
        runtime.publisher,
        description="Keeps the notifier's projection of reporting periods from assignment and report events, "
        "and sends a body a new personal link when one is asked for (link.requested).",
        database_ready=lambda: ping(runtime.client),
        batch_handler=ProjectionInBulk(parts.use_cases.uow, parts.repository, parts.use_cases.rules),
        batch_size=settings.prefetch,
    )
    document_publications(runtime.broker, [EscalationSent])

    async def prepare() -> None:
        await parts.repository.ensure_indexes()
        await outbox.ensure_indexes()
        await directories.start(str(settings.directory_path), clock.now())

    loops = {
        "outbox-relay": outbox.run,
        "mailer": parts.mailer.run,
        "escalation-scan": lambda: run_scans(parts.use_cases.scan, settings.scan_interval_seconds),
        "directory-refresh": lambda: directories.follow(settings.directory_refresh_seconds),
    }
    app = FastAPI(
        title="dondoc notifier",
        version="1",
        lifespan=runtime.lifespan(prepare, lambda: {k: f() for k, f in loops.items()}),
    )
    install(app, TokenVerifier(settings.operator_token, settings.auth_url, settings.auth_cache_seconds))
    app.state.runtime = runtime  # the contract generator reads the broker's channels from here
    app.state.directories = directories
    app.include_router(build_router(parts.use_cases))
    add_operational_routes(app, runtime.readiness_checks(), settings=settings)
    return app
