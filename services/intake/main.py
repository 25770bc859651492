"""Intake's composition root: builds the runtime, repository, outbox and routes; nothing else."""

from __future__ import annotations

from fastapi import FastAPI

from services.intake.config import Settings
from services.intake.consumers import AgencyProvisioning, PlanSubmissions, intake_handler
from services.intake.directory_routes import build_directory_router
from services.intake.documents import DocumentLimits, guard
from services.intake.handlers import build_router
from services.intake.repository import PlanDocuments, PlanRepository
from services.intake.use_cases.directory import DirectoryUseCases
from services.intake.use_cases.plans import PlanSettings, PlanUseCases
from shared.contracts.commands import SubmitPlan
from shared.contracts.events import (
    AssignmentCancelled,
    AssignmentCreated,
    AssignmentRevised,
    DeadlineExtended,
    DirectoryUpdated,
    Event,
    PlanRegistered,
    PlanRejected,
)
from shared.contracts.topology import INTAKE_QUEUE
from shared.domain.calendar import load_calendar, use_deployment_calendar
from shared.domain.clock import Clock, SystemClock
from shared.domain.directory import Directory
from shared.platform.auth import TokenVerifier, install
from shared.platform.broker import declare_agency_queues, document_commands, document_publications
from shared.platform.consumer import subscribe
from shared.platform.deliveries import Handler
from shared.platform.directory_store import DirectoryHolder, DirectoryStore
from shared.platform.http import add_operational_routes
from shared.platform.mongo import ping
from shared.platform.outbox import Outbox
from shared.platform.outbox_writer import OutboxWriter
from shared.platform.runtime import ServiceRuntime
from shared.platform.unit_of_work import MongoUnitOfWork

SERVICE = "intake"
PUBLISHES: list[type[Event]] = [
    PlanRegistered,
    AssignmentCreated,
    AssignmentCancelled,
    AssignmentRevised,
    DeadlineExtended,
    DirectoryUpdated,
    PlanRejected,
]


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    clock = clock or SystemClock()
    # Deadlines counted in working days use the deployment's table, the one the notifier's sending window uses.
    use_deployment_calendar(load_calendar(settings.calendar_overrides_path))
    runtime = ServiceRuntime(SERVICE, settings, queue=INTAKE_QUEUE)
    guard.configure(DocumentLimits.from_settings(settings))  # documents are read in worker processes, within limits
    # DeadlineExtended: a corrected plan that moves a deadline publishes one, as an issuer's approval would.
    document_publications(runtime.broker, PUBLISHES)
    document_commands(runtime.broker, {"plan.submit": SubmitPlan})
    plans = PlanRepository(runtime.db)
    documents = PlanDocuments(runtime.db)
    directories = DirectoryHolder(DirectoryStore(runtime.db), Directory.load(settings.directory_path))
    outbox = Outbox(
        runtime.db,
        runtime.publisher,
        SERVICE,
        clock,
        settings.outbox_poll_seconds,
        lease_seconds=settings.outbox_lease_seconds,
    )
    uow = MongoUnitOfWork(runtime.client, OutboxWriter(runtime.db, clock), wake=outbox.wake)
    limits = PlanSettings(
        max_assignments=settings.max_assignments_per_plan,
        default_reporting=settings.default_reporting,
        max_plan_bytes=settings.max_plan_bytes,
    )

    async def prepare() -> None:
        # Agency queues are not declared here: `dondoc agencies provision` declares them for the agencies it
        # gives a broker user. Declared for every agency of the directory, they took minutes to start with
        # 10,000 agencies and filled, for agencies without a broker user, with messages nobody could read.
        await plans.ensure_indexes()
        await documents.ensure_indexes()
        await outbox.ensure_indexes()
        await directories.start(str(settings.directory_path), clock.now())

    lifespan = runtime.lifespan(
        prepare,
        lambda: {
            "outbox-relay": outbox.run(),
            "directory-refresh": directories.follow(settings.directory_refresh_seconds),
        },
    )
    app = FastAPI(title="dondoc intake", version="1", lifespan=lifespan)
    install(app, TokenVerifier(settings.operator_token, settings.auth_url, settings.auth_cache_seconds))
    app.state.runtime = runtime  # the contract generator reads the broker's channels from here
    plan_use_cases = PlanUseCases(uow, plans, directories, clock, limits, documents=documents)
    provisioning = AgencyProvisioning(lambda codes: declare_agency_queues(runtime.broker, codes))
    _subscribe(runtime, intake_handler(PlanSubmissions(plan_use_cases, uow, settings.agency_user_prefix), provisioning))
    app.include_router(build_router(plan_use_cases))
    app.include_router(build_directory_router(DirectoryUseCases(uow, directories, plans, clock)))
    add_operational_routes(app, runtime.readiness_checks(), settings.max_request_bytes, settings)
    return app


def _subscribe(runtime: ServiceRuntime, handler: Handler) -> None:
    subscribe(
        runtime.broker,
        INTAKE_QUEUE,
        SERVICE,
        handler,
        runtime.publisher,
        description="Registers the plans issuers' systems submit (plan.submit.<kind>.<code>); answers on the "
        "issuer's queue with plan.registered or plan.rejected. Declares the queue of an agency a directory.updated "
        "adds.",
        database_ready=lambda: ping(runtime.client),
    )
