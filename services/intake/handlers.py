"""Intake's HTTP routes: thin — validate, call the domain, write plan and outbox in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import APIRouter, File, Form, HTTPException, Request, Response, UploadFile, status
from prometheus_client import Counter
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError
from starlette.datastructures import UploadFile as StarletteUpload

from services.intake.amendments import Amendment, UnsupportedAmendment, plan_amendment
from services.intake.documents import DocumentError, read_plan_document
from services.intake.documents.deadlines import DefaultReporting
from services.intake.documents.preview import preview
from services.intake.documents.readers import MAX_BYTES
from services.intake.documents.to_submission import to_submission
from services.intake.domain import PlanRejected, PlanSubmission, counts_from_receipt, register_plan
from services.intake.repository import PlanRepository
from shared.auth import IssuerOrOperator, Principal
from shared.clock import VIETNAM, Clock, as_utc
from shared.contracts import Event
from shared.directory import Directory
from shared.directory_store import DirectoryHolder
from shared.http import Identifier
from shared.mongo import in_transaction
from shared.outbox import Outbox

log = structlog.get_logger()

PLANS_INGESTED = Counter("dondoc_plans_ingested_total", "Plans registered by intake.", ["source"])
ASSIGNMENTS_CREATED = Counter(
    "dondoc_assignments_created_total", "Assignments created by intake, by agency kind.", ["agency_kind"]
)
PLANS_REJECTED = Counter("dondoc_plans_rejected_total", "Plans refused by intake, by reason.", ["reason"])
DOCUMENTS_READ = Counter("dondoc_plan_documents_total", "Plan documents read by intake, by outcome.", ["outcome"])

_UPLOAD_OR_JSON: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
            "application/json": {"schema": {"$ref": "#/components/schemas/PlanSubmission"}},
            "text/plain": {"schema": {"type": "string"}},
        },
    }
}


def _document_refused(exc: DocumentError) -> HTTPException:
    DOCUMENTS_READ.labels(exc.code).inc()
    return HTTPException(exc.http_status, detail=exc.as_dict())


async def _read_upload(upload: StarletteUpload, limit: int) -> bytes:
    # One byte past the limit is enough to know it is too large, without holding a huge file in memory.
    return await upload.read(limit + 1)


@dataclass
class IntakeDeps:
    client: AsyncMongoClient[dict[str, Any]]
    plans: PlanRepository
    outbox: Outbox
    directories: DirectoryHolder
    clock: Clock
    max_assignments: int
    default_reporting: DefaultReporting = "annual"
    max_document_bytes: int = MAX_BYTES

    @property
    def directory(self) -> Directory:
        """The agency directory as this replica last loaded it (kept current by `DirectoryHolder.follow`)."""
        return self.directories.directory


def _public_assignments(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: a[k] for k in ("assignment_id", "agency", "task")} for a in record["assignments"]]


def _may_act_for(principal: Principal, issuer_code: str) -> None:
    """An issuer submits and reads only its own plans; an operator any."""
    if principal.role == "issuer" and principal.code != issuer_code:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"this plan is issued by {issuer_code}, not by {principal.code}")


def build_router(deps: IntakeDeps) -> APIRouter:
    router = APIRouter(tags=["plans"])

    @router.post("/plans", status_code=status.HTTP_201_CREATED)
    async def submit_plan(
        submission: PlanSubmission, response: Response, principal: IssuerOrOperator
    ) -> dict[str, Any]:
        """Register a structured plan: one assignment per responsible agency is published. Submitted again,
        an unchanged plan publishes nothing (200); a corrected one publishes only the difference (200).
        An issuer's token submits only plans it issues; an operator's any."""
        today = deps.clock.now().astimezone(VIETNAM).date()
        try:
            record, events = register_plan(submission, deps.directory, today, deps.max_assignments)
        except PlanRejected as exc:
            PLANS_REJECTED.labels("unresolved").inc()
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=exc.problems) from exc
        _may_act_for(principal, str(record["issuer"]))
        plan_id = str(record["_id"])
        structlog.contextvars.bind_contextvars(plan_id=plan_id)
        record["registered_at"] = deps.clock.now()

        async def write(session: Any) -> None:
            await deps.plans.add(record, session)
            await deps.outbox.add(events, session)

        try:
            await in_transaction(deps.client, write)
        except DuplicateKeyError:
            record, events = await _as_first_received(submission, record, events)
            return await _submit_again(record, events, response)
        deps.outbox.wake()
        PLANS_INGESTED.labels("json").inc()
        for event in events[1:]:
            ASSIGNMENTS_CREATED.labels(event.agency.kind).inc()  # type: ignore[attr-defined]
        log.info("plan registered", assignments=len(events) - 1, number=submission.number)
        return {"plan_id": plan_id, "status": "registered", "assignments": _public_assignments(record)}

    async def _as_first_received(
        submission: PlanSubmission, record: dict[str, Any], events: list[Event]
    ) -> tuple[dict[str, Any], list[Event]]:
        """A plan submitted again was received when it was first registered: its deadlines counted from receipt
        run from that day, not from the day of the correction (else every correction would move them)."""
        if not counts_from_receipt(submission):
            return record, events
        stored = await deps.plans.stored(str(record["_id"]))
        if stored is None or stored.get("registered_at") is None:
            return record, events
        received_on = as_utc(stored["registered_at"]).astimezone(VIETNAM).date()
        if received_on == deps.clock.now().astimezone(VIETNAM).date():
            return record, events
        again, again_events = register_plan(submission, deps.directory, received_on, deps.max_assignments)
        if again["_id"] != record["_id"]:  # a plan without a date of issue is keyed by the year it came in
            return record, events
        return {**again, "registered_at": record["registered_at"]}, again_events

    async def _submit_again(record: dict[str, Any], events: list[Event], response: Response) -> dict[str, Any]:
        """The plan is known: publish only what the corrected version changes (nothing if it is the same)."""
        response.status_code = status.HTTP_200_OK

        async def amend(session: Any) -> Amendment:
            stored = await deps.plans.stored(str(record["_id"]), session)
            if stored is None:
                raise HTTPException(status.HTTP_409_CONFLICT, "the plan changed while this request ran; try again")
            version = int(stored.get("version") or 0)
            amendment = plan_amendment(stored, record, events, version + 1, deps.clock.now())
            if amendment.unchanged:
                return amendment
            record["registered_at"] = stored.get("registered_at")
            record["amended_at"] = deps.clock.now()
            if not await deps.plans.replace(record, version, session):
                raise HTTPException(status.HTTP_409_CONFLICT, "the plan changed while this request ran; try again")
            await deps.outbox.add(amendment.events, session)
            return amendment

        try:
            amendment = await in_transaction(deps.client, amend)
        except UnsupportedAmendment as exc:
            PLANS_REJECTED.labels("unsupported_amendment").inc()
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        if amendment.unchanged:
            log.info("plan submitted again unchanged")
            return {"plan_id": record["_id"], "status": "unchanged", "assignments": _public_assignments(record)}
        deps.outbox.wake()
        log.info(
            "plan amended",
            created=len(amendment.created),
            cancelled=len(amendment.cancelled),
            deadlines_changed=len(amendment.deadlines_changed),
            tasks_changed=len(amendment.tasks_changed),
        )
        return {
            "plan_id": record["_id"],
            "status": "amended",
            "created": amendment.created,
            "cancelled": amendment.cancelled,
            "deadlines_changed": amendment.deadlines_changed,
            "tasks_changed": amendment.tasks_changed,
            "assignments": _public_assignments(record),
        }

    @router.post("/plans/preview", openapi_extra=_UPLOAD_OR_JSON)
    async def preview_plan(request: Request, principal: IssuerOrOperator) -> dict[str, Any]:
        """Show what a plan document (.txt, .docx or JSON; a `file` upload or the request body) would publish:
        assignments with agency code, kind, clause, source line and task; deadlines with period, wording and
        instant; recipients; and every phrase that could not be resolved, with its line. Nothing is stored."""
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await request.form(max_files=1)
            upload = form.get("file")
            if not isinstance(upload, StarletteUpload):
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="gửi tệp kế hoạch trong trường file")
            data, name = await _read_upload(upload, deps.max_document_bytes), upload.filename or ""
        else:
            data = await request.body()
            name = "plan.json" if "json" in request.headers.get("content-type", "") else "plan.txt"
        today = deps.clock.now().astimezone(VIETNAM).date()
        try:
            document = await read_plan_document(
                data,
                name,
                deps.directory,
                today,
                max_bytes=deps.max_document_bytes,
                default_reporting=deps.default_reporting,
            )
        except DocumentError as exc:
            raise _document_refused(exc) from exc
        DOCUMENTS_READ.labels("previewed").inc()
        return preview(document, deps.directory, today, deps.max_assignments)

    @router.post("/plans/document", status_code=status.HTTP_201_CREATED)
    async def submit_plan_document(
        response: Response,
        principal: IssuerOrOperator,
        file: UploadFile = File(description="the plan: .txt (UTF-8 or UTF-16), .docx, or .json"),  # noqa: B008
        skip_unresolved: bool = Form(  # noqa: B008
            False, description="publish even though some bodies named in the plan are not in the directory"
        ),
    ) -> dict[str, Any]:
        """Register a plan document: parsed as `/plans/preview` shows it, then published like `POST /plans`.
        Refused (422) while it names bodies the directory does not know, unless `skip_unresolved` is true."""
        data = await _read_upload(file, deps.max_document_bytes)
        today = deps.clock.now().astimezone(VIETNAM).date()
        skipped: list[dict[str, str]] = []
        try:
            document = await read_plan_document(
                data,
                file.filename or "",
                deps.directory,
                today,
                default_reporting=deps.default_reporting,
                max_bytes=deps.max_document_bytes,
            )
            if isinstance(document, PlanSubmission):
                submission = document
            else:
                submission = to_submission(document, skip_unresolved=skip_unresolved)
                skipped = [u.model_dump() for u in document.unresolved] if skip_unresolved else []
        except DocumentError as exc:
            raise _document_refused(exc) from exc
        DOCUMENTS_READ.labels("submitted").inc()
        result = await submit_plan(submission, response, principal)
        log.info("plan document registered", file=file.filename, skipped=len(skipped))
        return {**result, "skipped": skipped}

    @router.get("/plans/{plan_id}")
    async def get_plan(plan_id: Identifier, principal: IssuerOrOperator) -> dict[str, Any]:
        """A registered plan and the assignments it created (its issuer's and operators' to read)."""
        plan = await deps.plans.get(plan_id)
        if plan is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no plan {plan_id}")
        _may_act_for(principal, str(plan["issuer"]))
        plan["plan_id"] = plan.pop("_id")
        return plan

    return router
