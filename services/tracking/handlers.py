# No `from __future__ import annotations` here: FastAPI must see the route annotations, which use
# dependencies built inside build_router.
"""Tracking's HTTP routes: agencies acknowledge, report progress, submit reports and ask for more
time; issuers decide extensions; anyone with a token reads what `domain.read_scope` lets it read. Each route
translates the request into a use case's command (`use_cases`) and its errors into status codes; the caller is
identified by `shared.platform.auth` (the token store is installed as the app's identifier in main.py)."""

import uuid
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Header, HTTPException, Query, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from services.tracking import domain, export
from services.tracking.token_routes import token_routes
from services.tracking.use_cases import (
    ActionError,
    ActionResult,
    AgencyQuery,
    DecideExtension,
    ExtensionQuery,
    TrackingService,
)
from services.tracking.use_cases.files import MAX_FILES_PER_REPORT as MAX_DELIVERABLES
from services.tracking.use_cases.files import FileService
from services.tracking.use_cases.messages import ExtensionState
from shared.contracts.commands import AcknowledgeAssignment, ReportProgress, RequestExtension, SubmitReport
from shared.contracts.events import AgencyCode, Deliverable, PeriodKey
from shared.domain.wording import Wording, wording_of
from shared.platform.auth import AgencyOnly, AnyRole, IssuerOrOperator
from shared.platform.http import CONFLICT, Answer, Identifier
from shared.platform.problems import answer_problem

T = TypeVar("T")
Identifier_ = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]

_ERROR_STATUS = {
    "gone": status.HTTP_410_GONE,
    "too_large": status.HTTP_413_CONTENT_TOO_LARGE,
    "unsupported": status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    "not_found": status.HTTP_404_NOT_FOUND,
    "forbidden": status.HTTP_403_FORBIDDEN,
    "conflict": status.HTTP_409_CONFLICT,
    "refused": status.HTTP_409_CONFLICT,
    "invalid": status.HTTP_422_UNPROCESSABLE_CONTENT,
}
# Identifiers are validated by pattern before they reach a query: never an object, never an operator.
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[A-Za-z0-9_.:-]{1,128}$",
        description="optional; a request repeated with the same key is applied once",
    ),
]


class ProgressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    percent: int = Field(ge=0, le=100, description="share of the task done")
    note: str = Field(default="", max_length=5_000)


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: PeriodKey
    note: str = Field(default="", max_length=5_000)
    deliverables: list[Deliverable] = Field(default_factory=list, max_length=20)
    file_ids: list[Identifier_] = Field(
        default_factory=list, max_length=20, description="files uploaded to this assignment (POST …/files)"
    )


class ExtensionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: PeriodKey
    requested_due_at: datetime = Field(description="the deadline asked for, with its UTC offset")
    reason: str = Field(min_length=1, max_length=5_000)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=5_000)


def _public(assignment: Any, now: datetime) -> Answer:
    """A record as the API answers it: each period with its status in the four states (`domain.period_status`, the
    one place of that rule, so that no reader restates it)."""
    out = dict(assignment)
    out["assignment_id"] = out.pop("_id")
    out.pop("version", None)
    out["periods"] = {
        key: {**period, "status": domain.period_status(period, now)} for key, period in out.get("periods", {}).items()
    }
    return out


def error_status(exc: ActionError) -> int:
    """The HTTP status of a use case's typed error."""
    return _ERROR_STATUS[exc.kind]


async def action_error(request: Request, exc: Exception) -> Response:
    """A use case's typed error that reached the app, as a problem (shared/platform/problems.py): its status,
    `detail` and the members it adds (`reason`, `limit`). Installed on the app in main.py."""
    if not isinstance(exc, ActionError):
        raise exc
    members: dict[str, Any] = dict(exc.details)
    return answer_problem(request.scope, _ERROR_STATUS[exc.kind], wording_of(exc), **members)


@contextmanager
def _answering() -> Iterator[None]:
    """A use case's typed error as its status code."""
    try:
        yield
    except ActionError as exc:
        if exc.details:
            raise  # answered by `action_error`, with its fields
        raise HTTPException(_ERROR_STATUS[exc.kind], wording_of(exc)) from None


async def _answer(action: Awaitable[T]) -> T:
    with _answering():
        return await action


def _action(result: ActionResult) -> Answer:
    return {"duplicate": result.duplicate, "event": result.event}


def _command_id(key: str | None) -> str:
    return key or uuid.uuid4().hex


def _download(body: bytes, media_type: str, file_name: str) -> Response:
    return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{file_name}"'})


def build_router(service: TrackingService, files: FileService) -> APIRouter:
    router = APIRouter()
    _agency_routes(router, service, files)
    _issuer_routes(router, service)
    _query_routes(router, service)
    _extension_query_route(router, service)
    token_routes(router, service)
    return router


def _agency_routes(router: APIRouter, service: TrackingService, files: FileService) -> None:
    @router.post("/assignments/{assignment_id}/acknowledge", tags=["agencies"], responses=CONFLICT)
    async def acknowledge(assignment_id: Identifier, actor: AgencyOnly, key: IdempotencyKey = None) -> Answer:
        """The agency confirms it has received the assignment."""
        command = AcknowledgeAssignment(command_id=_command_id(key), assignment_id=assignment_id)
        return _action(await _answer(service.acknowledge(command, actor, "http")))

    @router.post("/assignments/{assignment_id}/progress", tags=["agencies"], responses=CONFLICT)
    async def progress(
        assignment_id: Identifier, body: ProgressIn, actor: AgencyOnly, key: IdempotencyKey = None
    ) -> Answer:
        """The agency reports how far the work has got (0–100 %) with a note."""
        command = ReportProgress(command_id=_command_id(key), assignment_id=assignment_id, **body.model_dump())
        return _action(await _answer(service.report_progress(command, actor, "http")))

    @router.post("/assignments/{assignment_id}/reports", tags=["agencies"], responses=CONFLICT)
    async def submit_report(
        assignment_id: Identifier, body: ReportIn, actor: AgencyOnly, key: IdempotencyKey = None
    ) -> Answer:
        """The agency submits its report for one period; a second one for the same period is a revision. Files
        uploaded to the assignment and named in `file_ids` become deliverables beside those given as they are."""
        uploaded = await files.deliverables(assignment_id, body.file_ids, actor) if body.file_ids else []
        deliverables = [*body.deliverables, *uploaded]
        if len(deliverables) > MAX_DELIVERABLES:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                Wording(
                    vi=f"Mỗi báo cáo kèm tối đa {MAX_DELIVERABLES} tệp.",
                    en=f"a report delivers at most {MAX_DELIVERABLES} files",
                ),
            )
        command = SubmitReport(
            command_id=_command_id(key),
            assignment_id=assignment_id,
            period=body.period,
            note=body.note,
            deliverables=deliverables,
        )
        return _action(await _answer(service.submit_report(command, actor, "http")))

    @router.post("/assignments/{assignment_id}/extensions", tags=["agencies"], responses=CONFLICT)
    async def request_extension(
        assignment_id: Identifier, body: ExtensionIn, actor: AgencyOnly, key: IdempotencyKey = None
    ) -> Answer:
        """The agency asks for a later deadline for one period, with its reason."""
        command = RequestExtension(command_id=_command_id(key), assignment_id=assignment_id, **body.model_dump())
        return _action(await _answer(service.request_extension(command, actor, "http")))


def _issuer_routes(router: APIRouter, service: TrackingService) -> None:
    @router.post("/extensions/{request_id}/approve", tags=["issuers"], responses=CONFLICT)
    async def approve_extension(request_id: Identifier, body: DecisionIn, actor: IssuerOrOperator) -> Answer:
        """The issuer approves: the requested deadline becomes the period's effective deadline."""
        command = DecideExtension(request_id, approve=True, reason=body.reason)
        return _action(await _answer(service.decide_extension(command, actor, "http")))

    @router.post("/extensions/{request_id}/refuse", tags=["issuers"], responses=CONFLICT)
    async def refuse_extension(request_id: Identifier, body: DecisionIn, actor: IssuerOrOperator) -> Answer:
        """The issuer refuses: the deadline stays as it was."""
        command = DecideExtension(request_id, approve=False, reason=body.reason)
        return _action(await _answer(service.decide_extension(command, actor, "http")))


def _extension_query_route(router: APIRouter, service: TrackingService) -> None:
    @router.get("/extensions", tags=["queries"])
    async def extension_requests(
        reader: AnyRole,
        state: ExtensionState | None = None,
        plan_id: Identifier | None = None,
        agency: AgencyCode | None = None,
        assignment_id: Identifier | None = None,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> Answer:
        """Extension requests, oldest first, a page at a time; `state=pending` lists those awaiting a decision. An
        agency reads only its own (its token decides; another `agency` is 403), an issuer those of its own plans,
        an operator every one. Each carries `request_id`, the id `POST /extensions/{request_id}/approve|refuse`
        takes."""
        query = ExtensionQuery(state, plan_id, agency, assignment_id, offset, limit)
        rows = await _answer(service.extension_requests(query, reader))
        return {"offset": offset, "limit": limit, "items": rows}


def _query_routes(router: APIRouter, service: TrackingService) -> None:
    @router.get("/assignments/{assignment_id}", tags=["queries"])
    async def get_assignment(assignment_id: Identifier, reader: AnyRole) -> Answer:
        """One assignment's current record. A plan read from a document adds `provenance`: where the document
        assigns the task, one place per clause naming the body (`section`, `section_title`, `clause`, `page`,
        `line`, as in `assignment.created`), and `deliverables_required`; both are absent otherwise and in records
        kept before they were."""
        return _public(await _answer(service.assignment(assignment_id, reader)), service.now())

    @router.get("/assignments/{assignment_id}/history", tags=["queries"])
    async def history(assignment_id: Identifier, reader: AnyRole) -> Answer:
        """Every event about an assignment, oldest first: who did what, when, through which channel."""
        return {"assignment_id": assignment_id, "events": await _answer(service.history(assignment_id, reader))}

    @router.get("/plans/{plan_id}/status", tags=["queries"])
    async def plan_status(plan_id: Identifier, reader: AnyRole) -> Answer:
        """The plan's reporting status: done on time, done late, open, overdue — overall, per agency
        kind and per period, with each assignment."""
        return await _answer(service.plan_status(plan_id, reader))

    @router.get("/plans/{plan_id}/status.csv", tags=["queries"])
    async def plan_status_csv(plan_id: Identifier, reader: AnyRole) -> Response:
        """The plan's status as CSV, one row per body, one column per period, totals at the bottom."""
        body = export.to_csv(await _answer(service.plan_status(plan_id, reader)))
        return _download(body, "text/csv; charset=utf-8", f"{plan_id}.csv")

    @router.get("/plans/{plan_id}/status.xlsx", tags=["queries"])
    async def plan_status_xlsx(plan_id: Identifier, reader: AnyRole) -> Response:
        """The plan's status as an Excel workbook laid out the way offices report it."""
        body = export.to_xlsx(await _answer(service.plan_status(plan_id, reader)))
        return _download(body, export.XLSX_MEDIA_TYPE, f"{plan_id}.xlsx")

    @router.get("/agencies/{agency_code}/assignments", tags=["queries"])
    async def agency_assignments(
        agency_code: AgencyCode,
        reader: AnyRole,
        state: domain.AssignmentState | None = None,
        period: PeriodKey | None = None,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> Answer:
        """An agency's assignments, optionally in one state or with one period, a page at a time (an issuer
        sees only those of its own plans)."""
        query = AgencyQuery(agency_code, state, period, offset, limit)
        rows = await _answer(service.agency_assignments(query, reader))
        now = service.now()
        return {"agency": agency_code, "offset": offset, "limit": limit, "items": [_public(r, now) for r in rows]}
