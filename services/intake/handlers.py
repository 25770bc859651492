"""Intake's plan routes: thin — translate the request into a command, call the use case, map its typed
errors to status codes. The rules live in `domain`, the actions in `use_cases`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, File, Form, HTTPException, Request, Response, UploadFile, status
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile as StarletteUpload

from services.intake.documents import DocumentError, Entered
from services.intake.domain import PlanRejected, PlanSubmission, Text
from services.intake.use_cases.errors import AmendmentRefused, Conflict, Forbidden, NotFound
from services.intake.use_cases.plans import (
    PlanRegistration,
    PlanUseCases,
    ReadPlanDocument,
    RegisterPlan,
    SubmittedDocument,
    WithdrawPlan,
)
from services.intake.use_cases.ports import Actor
from shared.domain.wording import Wording, wording_of
from shared.platform.auth import IssuerOrOperator, Principal
from shared.platform.http import CONFLICT, Answer, Identifier

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
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "number": {"type": "string", "description": "the plan's number, entered by the clerk"},
                        "issued_on": {"type": "string", "description": "its date of issue: 10/01/2024 or 2024-01-10"},
                        "received_on": {"type": "string", "description": "the day it was received"},
                    },
                }
            },
            "application/json": {"schema": {"$ref": "#/components/schemas/PlanSubmission"}},
            "text/plain": {"schema": {"type": "string"}},
        },
    }
}


def actor(principal: Principal) -> Actor:
    return Actor(principal.role, principal.code)


@contextmanager
def refusals() -> Iterator[None]:
    """The use cases' typed errors as HTTP answers (each counted where a metric follows it)."""
    try:
        yield
    except PlanRejected as exc:
        PLANS_REJECTED.labels("unresolved").inc()
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=exc.worded) from exc
    except DocumentError as exc:
        DOCUMENTS_READ.labels(exc.code).inc()
        raise HTTPException(exc.http_status, detail=exc.as_dict()) from exc
    except Forbidden as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, wording_of(exc)) from exc
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=wording_of(exc)) from exc
    except Conflict as exc:
        if isinstance(exc, AmendmentRefused):
            PLANS_REJECTED.labels("unsupported_amendment").inc()
        raise HTTPException(status.HTTP_409_CONFLICT, wording_of(exc)) from exc


class Withdrawal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text | None = Field(
        default=None, description="why, as the cancelled bodies will read it (default: the plan was withdrawn)"
    )


async def _read_upload(upload: StarletteUpload, limit: int) -> bytes:
    # One byte past the limit is enough to know it is too large, without holding a huge file in memory.
    return await upload.read(limit + 1)


_NO_FILE = Wording(vi="gửi tệp kế hoạch trong trường file", en="send the plan's document in the field `file`")
_ENTERED_FIELDS = {
    "issued_on": Wording(vi="ngày ban hành (issued_on)", en="The date of issue (issued_on)"),
    "received_on": Wording(vi="ngày nhận (received_on)", en="The day of receipt (received_on)"),
}


def _entered(number: object = None, issued_on: object = None, received_on: object = None) -> Entered:
    """What the clerk entered in the form: the plan's number, date of issue and day of receipt (422 if a day is
    not one)."""
    days: dict[str, Any] = {}
    for key, value in (("issued_on", issued_on), ("received_on", received_on)):
        if isinstance(value, str) and value.strip():
            try:
                days[key] = Entered.day(value, _ENTERED_FIELDS[key])
            except ValueError as exc:
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=wording_of(exc)) from exc
    typed = number.strip() if isinstance(number, str) and number.strip() else None
    return Entered(number=typed, **days)


def _registration_body(result: PlanRegistration) -> Answer:
    body: dict[str, Any] = {"plan_id": result.plan_id, "status": result.status}
    if result.amendment is not None:
        amendment = result.amendment
        body.update(
            created=amendment.created,
            cancelled=amendment.cancelled,
            deadlines_changed=amendment.deadlines_changed,
            tasks_changed=amendment.tasks_changed,
            deliverables_changed=amendment.deliverables_changed,
            places_changed=amendment.places_changed,
        )
    body["assignments"] = [{k: a[k] for k in ("assignment_id", "agency", "task")} for a in result.assignments]
    return body


async def _register(
    plans: PlanUseCases,
    submission: PlanSubmission,
    response: Response,
    principal: Principal,
    document: SubmittedDocument | None = None,
) -> Answer:
    with refusals():
        result = await plans.register(RegisterPlan(submission, actor(principal), document))
    if result.status == "registered":
        PLANS_INGESTED.labels(document.reader if document is not None else "json").inc()
        for kind in result.created_kinds:
            ASSIGNMENTS_CREATED.labels(kind).inc()
    else:
        response.status_code = status.HTTP_200_OK
    return _registration_body(result)


def build_router(plans: PlanUseCases) -> APIRouter:
    router = APIRouter(tags=["plans"])
    _submission_routes(router, plans)
    _document_route(router, plans)
    _plan_routes(router, plans)
    return router


def _submission_routes(router: APIRouter, plans: PlanUseCases) -> None:
    @router.post("/plans", status_code=status.HTTP_201_CREATED, responses=CONFLICT)
    async def submit_plan(submission: PlanSubmission, response: Response, principal: IssuerOrOperator) -> Answer:
        """Register a structured plan: one assignment per responsible agency is published. Submitted again,
        an unchanged plan publishes nothing (200); a corrected one publishes only the difference (200).
        An issuer's token submits only plans it issues; an operator's any."""
        return await _register(plans, submission, response, principal)

    @router.post("/plans/preview", openapi_extra=_UPLOAD_OR_JSON)
    async def preview_plan(request: Request, principal: IssuerOrOperator) -> Answer:
        """Show what a plan document (.txt, .docx, .doc, PDF, a scan, or JSON; a `file` upload or the request body)
        would publish: assignments with agency code, kind, clause, source line and task; deadlines with period,
        wording and instant; recipients; and every phrase that could not be resolved, with its line. The form may
        carry the clerk's `number`, `issued_on` and `received_on`. Nothing is stored."""
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await request.form(max_files=1)
            upload = form.get("file")
            if not isinstance(upload, StarletteUpload):
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=_NO_FILE)
            data, name = await _read_upload(upload, plans.settings.max_document_bytes), upload.filename or ""
            entered = _entered(form.get("number"), form.get("issued_on"), form.get("received_on"))
        else:
            data = await request.body()
            name = "plan.json" if "json" in request.headers.get("content-type", "") else "plan.txt"
            entered = Entered()
        with refusals():
            shown = await plans.preview(data, name, entered)
        DOCUMENTS_READ.labels("previewed").inc()
        return shown


def _document_route(router: APIRouter, plans: PlanUseCases) -> None:
    @router.post("/plans/document", status_code=status.HTTP_201_CREATED, responses=CONFLICT)
    async def submit_plan_document(
        response: Response,
        principal: IssuerOrOperator,
        file: UploadFile = File(  # noqa: B008
            description="the plan: .txt (UTF-8 or UTF-16), .docx, .doc, PDF, a scan (PNG, JPEG, TIFF), or .json"
        ),
        skip_unresolved: bool = Form(  # noqa: B008
            False, description="publish even though some bodies named in the plan are not in the directory"
        ),
        no_deadline_lines: list[int] = Form(  # noqa: B008
            default_factory=list,
            description="lines of sentences the preview lists as unread deadlines that the clerk has checked and "
            "found to set no deadline (repeat the field for each line)",
        ),
        number: str | None = Form(  # noqa: B008
            None, description="the plan's number and symbol (85-KH/ĐU) when the document lacks it or it was misread"
        ),
        issued_on: str | None = Form(  # noqa: B008
            None, description="the plan's date of issue (10/01/2024 or 2024-01-10) when the document lacks it"
        ),
        received_on: str | None = Form(  # noqa: B008
            None,
            description="the day the plan was received (10/01/2024 or 2024-01-10): durations `kể từ ngày nhận được` "
            "run from it; without it, from the day intake registers the plan",
        ),
    ) -> Answer:
        """Register a plan document: parsed as `/plans/preview` shows it, then published like `POST /plans`.
        Refused (422) while it names bodies the directory does not know, unless `skip_unresolved` is true, and
        while a sentence about a deadline could not be read, unless its line is in `no_deadline_lines`."""
        data = await _read_upload(file, plans.settings.max_document_bytes)
        entered = _entered(number, issued_on, received_on)
        command = ReadPlanDocument(data, file.filename or "", skip_unresolved, tuple(no_deadline_lines), entered)
        with refusals():
            document = await plans.read_document(command)
        DOCUMENTS_READ.labels("submitted").inc()
        submitted = SubmittedDocument(data, file.filename or "", document.source, document.entered)
        result = await _register(plans, document.submission, response, principal, submitted)
        log.info("plan document registered", file=file.filename, skipped=len(document.skipped))
        return {**result, "skipped": document.skipped}


def _plan_routes(router: APIRouter, plans: PlanUseCases) -> None:
    @router.post("/plans/{plan_id}/withdraw", responses=CONFLICT)
    async def withdraw_plan(plan_id: Identifier, principal: IssuerOrOperator, body: Withdrawal | None = None) -> Answer:
        """Withdraw a registered plan: every assignment it made is cancelled (`assignment.cancelled`, with the
        reason given). Withdrawing it again changes nothing; a withdrawn plan cannot be submitted again (409)."""
        command = WithdrawPlan(plan_id, actor(principal), body.reason if body is not None else None)
        with refusals():
            withdrawal = await plans.withdraw(command)
        return {"plan_id": withdrawal.plan_id, "status": "withdrawn", "cancelled": withdrawal.cancelled}

    @router.get("/plans/{plan_id}")
    async def get_plan(plan_id: Identifier, principal: IssuerOrOperator) -> Answer:
        """A registered plan and the assignments it created (its issuer's and operators' to read)."""
        with refusals():
            plan = await plans.plan(plan_id, actor(principal))
        plan["plan_id"] = plan.pop("_id")
        return plan

    @router.get(
        "/plans/{plan_id}/document",
        response_class=Response,
        responses={200: {"description": "the document as submitted", "content": {"application/octet-stream": {}}}},
    )
    async def get_plan_document(plan_id: Identifier, principal: IssuerOrOperator) -> Response:
        """The document a plan was registered from (.txt, .docx, .doc, PDF, a scan, .json), byte for byte as submitted;
        `ETag` is its SHA-256, as `GET /plans/{id}` shows it under `document`. 404 for a plan submitted as JSON
        to `POST /plans`. Its issuer's and operators' to read."""
        with refusals():
            stored = await plans.document(plan_id, actor(principal))
        name = stored.record["name"] or f"{plan_id}"
        return Response(
            content=stored.data,
            media_type=stored.record["media_type"],
            headers={
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
                "ETag": f'"{stored.record["sha256"]}"',
                "X-Content-Type-Options": "nosniff",
            },
        )
