"""Tracking's composition root."""

from __future__ import annotations

from fastapi import FastAPI

from services.tracking import status_metrics
from services.tracking.actions import AssignmentActions
from services.tracking.auth import TokenStore
from services.tracking.config import Settings
from services.tracking.consumers import (
    AcknowledgementsInBulk,
    AssignmentsInBulk,
    AuditOnlyInBulk,
    EventRecorder,
)
from services.tracking.handlers import TrackingDeps, build_router
from services.tracking.repository import TrackingRepository
from shared.broker import document_publications
from shared.clock import Clock, SystemClock
from shared.consumer import subscribe
from shared.contracts import (
    AssignmentAcknowledged,
    DeadlineExtended,
    ExtensionRefused,
    ExtensionRequested,
    ProgressReported,
    ReportSubmitted,
)
from shared.http import add_operational_routes
from shared.mongo import ping
from shared.outbox import Outbox
from shared.runtime import ServiceRuntime
from shared.topology import TRACKING_QUEUE

SERVICE = "tracking"
# Large plans arrive as bursts of assignment.created and agencies acknowledge in bursts: with up to
# `settings.prefetch` messages in flight, the bulk paths write them in batches that large (one database round
# trip per batch, instead of one per message). Every message is still acked alone, after the write that covers it.


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    clock = clock or SystemClock()
    runtime = ServiceRuntime(SERVICE, settings, queue=TRACKING_QUEUE, prefetch=settings.prefetch)
    document_publications(
        runtime.broker,
        [
            AssignmentAcknowledged,
            ProgressReported,
            ReportSubmitted,
            ExtensionRequested,
            ExtensionRefused,
            DeadlineExtended,
        ],
    )
    repository = TrackingRepository(runtime.db)
    outbox = Outbox(
        runtime.db,
        runtime.publisher,
        SERVICE,
        clock,
        settings.outbox_poll_seconds,
        lease_seconds=settings.outbox_lease_seconds,
    )
    actions = AssignmentActions(runtime.client, repository, outbox, clock)
    tokens = TokenStore(runtime.db)
    subscribe(
        runtime.broker,
        TRACKING_QUEUE,
        SERVICE,
        EventRecorder(runtime.client, repository, actions, settings.agency_user_prefix),
        runtime.publisher,
        description="Records every plan, assignment, report and escalation event in the audit trail, and "
        "applies agencies' commands (command.acknowledge|progress|report|extend.<kind>.<code>).",
        database_ready=lambda: ping(runtime.client),
        batch_handler=[
            AssignmentsInBulk(repository),
            AcknowledgementsInBulk(repository, actions, settings.agency_user_prefix),
            AuditOnlyInBulk(repository),
        ],
        batch_size=settings.prefetch,
    )

    async def prepare() -> None:
        await repository.ensure_indexes()
        await outbox.ensure_indexes()
        await tokens.ensure_indexes()
        if settings.operator_token is not None:
            await tokens.ensure(settings.operator_token.get_secret_value(), "operator", "operator", clock.now())

    lifespan = runtime.lifespan(
        prepare,
        lambda: {
            "outbox-relay": outbox.run(),
            "status-metrics": status_metrics.run(repository, clock, settings.status_metrics_seconds),
        },
    )
    app = FastAPI(title="dondoc tracking", version="1", lifespan=lifespan)
    app.state.runtime = runtime  # the contract generator reads the broker's channels from here
    app.include_router(build_router(TrackingDeps(repository, actions, tokens, clock)))
    add_operational_routes(app, runtime.readiness_checks(), settings=settings)
    return app
