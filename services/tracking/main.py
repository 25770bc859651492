"""Tracking's composition root: builds the runtime, the repository, the token store, the unit of work and
the use cases, and hands them to the routes and the subscriber."""

from __future__ import annotations

from datetime import timedelta

import structlog
from fastapi import APIRouter, FastAPI

from services.tracking import status_metrics
from services.tracking.answers import CommandAnswers
from services.tracking.config import Settings
from services.tracking.consumers import AcknowledgementsInBulk, AssignmentsInBulk, AuditOnlyInBulk, EventRecorder
from services.tracking.file_routes import STREAMED_PATHS, build_file_router
from services.tracking.file_store import ReportFiles
from services.tracking.handlers import action_error, build_router
from services.tracking.link_routes import build_link_router
from services.tracking.links import LinkPolicy
from services.tracking.rate_limit import TokenBuckets
from services.tracking.repository import TrackingRepository
from services.tracking.tokens import LinkStore, TokenStore
from services.tracking.use_cases import ActionError, TrackingService
from services.tracking.use_cases.files import FileService
from services.tracking.use_cases.links import LinkService
from shared.contracts.commands import AGENCY_COMMAND_TYPES
from shared.contracts.events import (
    AssignmentAcknowledged,
    CommandRejected,
    DeadlineExtended,
    Event,
    ExtensionRefused,
    ExtensionRequested,
    LinkRequested,
    ProgressReported,
    ReportSubmitted,
)
from shared.contracts.topology import TRACKING_QUEUE
from shared.domain.clock import Clock, SystemClock
from shared.platform.auth import install
from shared.platform.broker import document_commands, document_publications
from shared.platform.client_address import networks
from shared.platform.consumer import subscribe
from shared.platform.http import add_operational_routes
from shared.platform.mongo import ping
from shared.platform.outbox import Outbox
from shared.platform.outbox_writer import OutboxWriter
from shared.platform.runtime import ServiceRuntime
from shared.platform.unit_of_work import MongoUnitOfWork

log = structlog.get_logger()

SERVICE = "tracking"
PUBLISHES: list[type[Event]] = [
    AssignmentAcknowledged,
    ProgressReported,
    ReportSubmitted,
    ExtensionRequested,
    ExtensionRefused,
    DeadlineExtended,
    CommandRejected,
    LinkRequested,
]


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    clock = clock or SystemClock()
    runtime = ServiceRuntime(SERVICE, settings, queue=TRACKING_QUEUE, prefetch=settings.prefetch)
    document_publications(runtime.broker, PUBLISHES)
    document_commands(runtime.broker, AGENCY_COMMAND_TYPES)
    repository = TrackingRepository(runtime.db)
    tokens = TokenStore(runtime.db, clock)
    links = LinkStore(runtime.db)
    outbox = Outbox(
        runtime.db,
        runtime.publisher,
        SERVICE,
        clock,
        settings.outbox_poll_seconds,
        lease_seconds=settings.outbox_lease_seconds,
    )
    writer = OutboxWriter(runtime.db, clock)
    uow = MongoUnitOfWork(runtime.client, writer, wake=outbox.wake)
    service = TrackingService(uow, repository, tokens, clock, timedelta(days=settings.token_ttl_days))
    policy = LinkPolicy(timedelta(days=settings.link_ttl_days), timedelta(hours=settings.session_ttl_hours))
    link_service = LinkService(uow, links, tokens, clock, policy)
    report_files = ReportFiles(runtime.db)
    files = FileService(repository, report_files, clock, settings.max_file_bytes)
    _subscribe(runtime, settings, (uow, service, repository, writer, outbox, clock))

    async def prepare() -> None:
        await repository.ensure_indexes()
        await outbox.ensure_indexes()
        await tokens.ensure_indexes()
        await links.ensure_indexes()
        await report_files.ensure_indexes()
        if settings.operator_token is not None:
            await tokens.ensure(settings.operator_token.get_secret_value(), "operator", "operator", clock.now())
        if not settings.agency_user_prefix:
            log.warning("agencies' commands over AMQP are off: TRACKING_AGENCY_USER_PREFIX is empty")

    lifespan = runtime.lifespan(
        prepare,
        lambda: {
            "outbox-relay": outbox.run(),
            "status-metrics": status_metrics.run(repository, clock, settings.status_metrics_seconds),
        },
    )
    app = FastAPI(title="dondoc tracking", version="1", lifespan=lifespan)
    app.state.runtime = runtime  # the contract generator reads the broker's channels from here
    install(app, tokens)
    app.include_router(build_router(service, files))
    app.include_router(_link_router(settings, link_service))
    uploads = TokenBuckets(settings.upload_rate_per_minute, settings.upload_rate_burst)
    app.include_router(build_file_router(files, settings.upload_timeout_seconds, uploads))
    app.add_exception_handler(ActionError, action_error)
    add_operational_routes(app, runtime.readiness_checks(), settings=settings, streamed=STREAMED_PATHS)
    return app


def _link_router(settings: Settings, link_service: LinkService) -> APIRouter:
    """The link routes, each of the two a secret opens with its own per-client rate limit."""
    rate = (settings.link_rate_per_minute, settings.link_rate_burst)
    proxies = networks(settings.trusted_proxies)
    return build_link_router(link_service, TokenBuckets(*rate), TokenBuckets(*rate), proxies)


def _subscribe(
    runtime: ServiceRuntime,
    settings: Settings,
    parts: tuple[MongoUnitOfWork, TrackingService, TrackingRepository, OutboxWriter, Outbox, Clock],
) -> None:
    """Tracking's one subscriber: every message alone through `EventRecorder`, and the bulk paths. Large plans
    arrive as bursts of assignment.created and agencies acknowledge in bursts: with up to `prefetch` messages in
    flight, the bulk paths write them in batches that large (one database round trip per batch, instead of one
    per message). Every message is still acked alone, after the write that covers it."""
    uow, service, repository, writer, outbox, clock = parts
    prefix, prefetch = settings.agency_user_prefix, settings.prefetch
    answers = CommandAnswers(uow, repository, clock, settings.unknown_assignment_wait_seconds, prefix)
    subscribe(
        runtime.broker,
        TRACKING_QUEUE,
        SERVICE,
        EventRecorder(uow, repository, service, prefix, answers),
        runtime.publisher,
        description="Records every plan, assignment, report and escalation event in the audit trail, and "
        "applies agencies' commands (command.acknowledge|progress|report|extend.<kind>.<code>).",
        database_ready=lambda: ping(runtime.client),
        batch_handler=[
            AssignmentsInBulk(repository),
            AcknowledgementsInBulk(repository, writer, outbox.wake, clock, prefix),
            AuditOnlyInBulk(repository),
        ],
        batch_size=prefetch,
        on_invalid=answers.reject_unparsed,
    )
