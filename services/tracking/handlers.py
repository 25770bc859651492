# No `from __future__ import annotations` here: FastAPI must see the route annotations, which use
# dependencies built inside build_router.
"""Tracking's HTTP routes: agencies acknowledge, report progress, submit reports and ask for more
time; issuers decide extensions; anyone with a token reads status and history."""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from services.tracking import domain, export
from services.tracking.actions import (
    ActionError,
    ActionResult,
    Actor,
    AssignmentActions,
    Role,
)
from services.tracking.auth import TokenStore, Unauthenticated
from services.tracking.repository import TrackingRepository
from shared.clock import Clock
from shared.commands import (
    AcknowledgeAssignment,
    Command,
    Deliverable,
    ReportProgress,
    RequestExtension,
    SubmitReport,
)
from shared.contracts import AgencyCode, PeriodKey
from shared.http import Identifier

_ERROR_STATUS = {
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


class ExtensionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: PeriodKey
    requested_due_at: datetime = Field(description="the deadline asked for, with its UTC offset")
    reason: str = Field(min_length=1, max_length=5_000)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=5_000)


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: AgencyCode = Field(description="the agency code (or operator name) the token acts as")
    role: Role
    label: str = Field(default="", max_length=200)


@dataclass
class TrackingDeps:
    repository: TrackingRepository
    actions: AssignmentActions
    tokens: TokenStore
    clock: Clock


def _public(assignment: dict[str, Any]) -> dict[str, Any]:
    out = dict(assignment)
    out["assignment_id"] = out.pop("_id")
    out.pop("version", None)
    return out


def build_router(deps: TrackingDeps) -> APIRouter:
    router = APIRouter()
    repo = deps.repository

    async def caller(authorization: Annotated[str | None, Header()] = None) -> Actor:
        try:
            return await deps.tokens.identify(authorization)
        except Unauthenticated as exc:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, str(exc), headers={"WWW-Authenticate": "Bearer"}
            ) from None

    Caller = Annotated[Actor, Depends(caller)]

    def requires(*roles: Role) -> Callable[[Actor], Awaitable[Actor]]:
        async def check(actor: Caller) -> Actor:
            if actor.role not in roles:
                raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the role {' or '.join(roles)}")
            return actor

        return check

    AgencyCaller = Annotated[Actor, Depends(requires("agency"))]
    Operator = Annotated[Actor, Depends(requires("operator"))]
    Decider = Annotated[Actor, Depends(requires("issuer", "operator"))]

    async def run(action: Awaitable[ActionResult]) -> dict[str, Any]:
        try:
            result = await action
        except ActionError as exc:
            raise HTTPException(_ERROR_STATUS[exc.kind], str(exc)) from None
        return {"duplicate": result.duplicate, "event": result.event}

    def command_id(key: str | None) -> str:
        return key or uuid.uuid4().hex

    async def apply(command: Command, actor: Actor) -> dict[str, Any]:
        return await run(deps.actions.apply(command, actor))

    @router.post("/assignments/{assignment_id}/acknowledge", tags=["agencies"])
    async def acknowledge(assignment_id: Identifier, actor: AgencyCaller, key: IdempotencyKey = None) -> dict[str, Any]:
        """The agency confirms it has received the assignment."""
        return await apply(AcknowledgeAssignment(command_id=command_id(key), assignment_id=assignment_id), actor)

    @router.post("/assignments/{assignment_id}/progress", tags=["agencies"])
    async def progress(
        assignment_id: Identifier, body: ProgressIn, actor: AgencyCaller, key: IdempotencyKey = None
    ) -> dict[str, Any]:
        """The agency reports how far the work has got (0–100 %) with a note."""
        command = ReportProgress(command_id=command_id(key), assignment_id=assignment_id, **body.model_dump())
        return await apply(command, actor)

    @router.post("/assignments/{assignment_id}/reports", tags=["agencies"])
    async def submit_report(
        assignment_id: Identifier, body: ReportIn, actor: AgencyCaller, key: IdempotencyKey = None
    ) -> dict[str, Any]:
        """The agency submits its report for one period; a second one for the same period is a revision."""
        command = SubmitReport(command_id=command_id(key), assignment_id=assignment_id, **body.model_dump())
        return await apply(command, actor)

    @router.post("/assignments/{assignment_id}/extensions", tags=["agencies"])
    async def request_extension(
        assignment_id: Identifier, body: ExtensionIn, actor: AgencyCaller, key: IdempotencyKey = None
    ) -> dict[str, Any]:
        """The agency asks for a later deadline for one period, with its reason."""
        command = RequestExtension(command_id=command_id(key), assignment_id=assignment_id, **body.model_dump())
        return await apply(command, actor)

    @router.post("/extensions/{request_id}/approve", tags=["issuers"])
    async def approve_extension(request_id: Identifier, body: DecisionIn, actor: Decider) -> dict[str, Any]:
        """The issuer approves: the requested deadline becomes the period's effective deadline."""
        return await run(deps.actions.decide_extension(request_id, True, actor, body.reason))

    @router.post("/extensions/{request_id}/refuse", tags=["issuers"])
    async def refuse_extension(request_id: Identifier, body: DecisionIn, actor: Decider) -> dict[str, Any]:
        """The issuer refuses: the deadline stays as it was."""
        return await run(deps.actions.decide_extension(request_id, False, actor, body.reason))

    @router.get("/assignments/{assignment_id}", tags=["queries"])
    async def get_assignment(assignment_id: Identifier, actor: Caller) -> dict[str, Any]:
        """One assignment's current record."""
        return _public(await _visible_assignment(assignment_id, actor))

    @router.get("/assignments/{assignment_id}/history", tags=["queries"])
    async def history(assignment_id: Identifier, actor: Caller) -> dict[str, Any]:
        """Every event about an assignment, oldest first: who did what, when, through which channel."""
        await _visible_assignment(assignment_id, actor)
        rows = await repo.history(assignment_id)
        for row in rows:
            row["event_id"] = row.pop("_id")
        return {"assignment_id": assignment_id, "events": rows}

    async def _visible_assignment(assignment_id: Identifier, actor: Actor) -> dict[str, Any]:
        assignment = await repo.get_assignment(assignment_id)
        if assignment is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no assignment {assignment_id}")
        may_see = actor.role == "operator" or actor.code in (assignment["agency"]["code"], assignment["issuer"]["code"])
        if not may_see:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"assignment {assignment_id} is not yours to read")
        return assignment

    async def _status(plan_id: Identifier, actor: Actor) -> dict[str, Any]:
        if actor.role == "agency":
            raise HTTPException(status.HTTP_403_FORBIDDEN, "a plan's status is for its issuer and operators")
        assignments = await repo.plan_assignments(plan_id)
        plan = await repo.plan(plan_id)
        if plan is None and not assignments:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no plan {plan_id}")
        if actor.role == "issuer" and plan is not None and plan["issuer"]["code"] != actor.code:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"plan {plan_id} was issued by another body")
        return {"plan_id": plan_id, "plan": plan, **domain.plan_status(assignments, deps.clock.now())}

    @router.get("/plans/{plan_id}/status", tags=["queries"])
    async def plan_status(plan_id: Identifier, actor: Caller) -> dict[str, Any]:
        """The plan's reporting status: done on time, done late, open, overdue — overall, per agency
        kind and per period, with each assignment."""
        return await _status(plan_id, actor)

    @router.get("/plans/{plan_id}/status.csv", tags=["queries"])
    async def plan_status_csv(plan_id: Identifier, actor: Caller) -> Response:
        """The plan's status as CSV, one row per body, one column per period, totals at the bottom."""
        body = export.to_csv(await _status(plan_id, actor))
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{plan_id}.csv"'},
        )

    @router.get("/plans/{plan_id}/status.xlsx", tags=["queries"])
    async def plan_status_xlsx(plan_id: Identifier, actor: Caller) -> Response:
        """The plan's status as an Excel workbook laid out the way offices report it."""
        body = export.to_xlsx(await _status(plan_id, actor))
        return Response(
            body,
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{plan_id}.xlsx"'},
        )

    @router.get("/agencies/{agency_code}/assignments", tags=["queries"])
    async def agency_assignments(
        agency_code: AgencyCode,
        actor: Caller,
        state: domain.AssignmentState | None = None,
        period: PeriodKey | None = None,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> dict[str, Any]:
        """An agency's assignments, optionally in one state or with one period, a page at a time."""
        if actor.role == "agency" and actor.code != agency_code:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "an agency reads only its own assignments")
        rows = await repo.agency_assignments(agency_code, state, period, offset, limit)
        return {"agency": agency_code, "offset": offset, "limit": limit, "items": [_public(r) for r in rows]}

    @router.post("/tokens", tags=["operators"], status_code=status.HTTP_201_CREATED)
    async def issue_token(body: TokenIn, actor: Operator) -> dict[str, Any]:
        """Issue a token for an agency, an issuer or an operator. The token is shown only in this answer."""
        token_id, token = await deps.tokens.issue(body.subject, body.role, deps.clock.now(), body.label)
        return {"token_id": token_id, "token": token, "subject": body.subject, "role": body.role}

    @router.get("/tokens/me", tags=["tokens"])
    async def who_am_i(actor: Caller) -> dict[str, Any]:
        """Who the token in the request belongs to. Intake and the notifier ask this (token introspection)
        and trust the answer for a short while (`AUTH_CACHE_SECONDS`)."""
        return {"subject": actor.code, "role": actor.role}

    @router.delete("/tokens/{token_id}", tags=["operators"])
    async def revoke_token(token_id: Identifier, actor: Operator) -> dict[str, Any]:
        """Revoke a token at once."""
        if not await deps.tokens.revoke(token_id, deps.clock.now()):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no live token {token_id}")
        return {"token_id": token_id, "revoked": True}

    return router
