"""Notifier's composition root."""

from __future__ import annotations

from fastapi import FastAPI

from services.notifier.bulk import ProjectionInBulk
from services.notifier.config import Settings
from services.notifier.consumers import PeriodProjector
from services.notifier.decisions import Rules
from services.notifier.directory_copy import DirectoryFollower
from services.notifier.escalation import EscalationScanner
from services.notifier.handlers import build_router
from services.notifier.ladder import Ladder
from services.notifier.mailer import Mailer
from services.notifier.recipients import Addressbook
from services.notifier.repository import NotifierRepository
from services.notifier.schedule import SendingWindow
from shared.auth import TokenVerifier, install
from shared.broker import document_publications
from shared.calendar import load_calendar
from shared.clock import Clock, SystemClock
from shared.consumer import by_event_type, subscribe
from shared.contracts import DirectoryUpdated, EscalationSent
from shared.directory import Directory
from shared.directory_store import DirectoryHolder, DirectoryStore
from shared.http import add_operational_routes
from shared.mongo import ping
from shared.outbox import Outbox
from shared.runtime import ServiceRuntime
from shared.topology import NOTIFIER_QUEUE

SERVICE = "notifier"


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    clock = clock or SystemClock()
    runtime = ServiceRuntime(SERVICE, settings, queue=NOTIFIER_QUEUE, prefetch=settings.prefetch)
    repository = NotifierRepository(runtime.db)
    directories = DirectoryHolder(DirectoryStore(runtime.db), Directory.load(settings.directory_path))
    follow_directory = DirectoryFollower(directories)
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
    mailer = Mailer(repository, settings, clock, window)
    rules = Rules(Ladder.load(settings.ladder_path), calendar, window)
    scanner = EscalationScanner(
        runtime.client,
        repository,
        Addressbook(directories, settings.contact),
        outbox,
        mailer,
        clock,
        rules,
        settings.scan_interval_seconds,
        settings.scan_batch_size,
        settings.scan_lease_seconds,
    )
    subscribe(
        runtime.broker,
        NOTIFIER_QUEUE,
        SERVICE,
        by_event_type({DirectoryUpdated: follow_directory}, default=PeriodProjector(runtime.client, repository, rules)),
        runtime.publisher,
        description="Keeps the notifier's projection of reporting periods from assignment and report events.",
        database_ready=lambda: ping(runtime.client),
        batch_handler=ProjectionInBulk(runtime.client, repository, rules),
        batch_size=settings.prefetch,
    )

    document_publications(runtime.broker, [EscalationSent])

    async def prepare() -> None:
        await repository.ensure_indexes()
        await outbox.ensure_indexes()
        await directories.start(str(settings.directory_path), clock.now())

    lifespan = runtime.lifespan(
        prepare,
        lambda: {
            "outbox-relay": outbox.run(),
            "mailer": mailer.run(),
            "escalation-scan": scanner.run(),
            "directory-refresh": directories.follow(settings.directory_refresh_seconds),
        },
    )
    app = FastAPI(title="dondoc notifier", version="1", lifespan=lifespan)
    install(app, TokenVerifier(settings.operator_token, settings.auth_url, settings.auth_cache_seconds))
    app.state.runtime = runtime  # the contract generator reads the broker's channels from here
    app.state.directories = directories
    app.include_router(build_router(repository, scanner, clock))
    add_operational_routes(app, runtime.readiness_checks(), settings=settings)
    return app
