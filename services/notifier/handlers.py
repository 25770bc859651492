"""Notifier's HTTP routes: what is being watched, who would be notified at a given moment, the e-mail
outbox, operators' silences, and re-applying the deployment's ladder to open periods. Each route translates
the request into a use case's command and its result or error into the answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query

from services.notifier.rules.silences import SilenceRequest
from services.notifier.use_cases.bundle import NotifierUseCases
from services.notifier.use_cases.commands import (
    CreateSilence,
    EndSilence,
    PreviewEscalations,
    ReapplyLadder,
    ReapplyRequest,
)
from services.notifier.use_cases.errors import MomentWithoutOffset, SilenceNotFound
from shared.domain.wording import Wording
from shared.platform.auth import Operator
from shared.platform.http import Answer, Identifier


def _public(row: dict[str, Any], key: str) -> Answer:
    return {key: row.pop("_id"), **row}


def build_router(use_cases: NotifierUseCases) -> APIRouter:
    router = APIRouter(tags=["escalation"])
    _watching(router, use_cases)
    _ladder_and_outbox(router, use_cases)
    _silences(router, use_cases)
    return router


def _watching(router: APIRouter, use_cases: NotifierUseCases) -> None:
    @router.get("/escalations/preview")
    async def preview(
        operator: Operator,
        at: Annotated[datetime | None, Query(description="the moment to preview (ISO 8601); default now")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> Answer:
        """Who would be notified about what at `at`, with the silences then in force; nothing is sent."""
        try:
            found = await use_cases.preview(PreviewEscalations(at, limit))
        except MomentWithoutOffset as exc:
            raise HTTPException(
                422,
                Wording(
                    vi="Thời điểm `at` cần ghi rõ múi giờ, ví dụ 2026-07-01T08:00:00+07:00.",
                    en="`at` needs its UTC offset, e.g. 2026-07-01T08:00:00+07:00",
                ),
            ) from exc
        return {
            "at": found.at,
            "emails": [
                {
                    "to": e["to"],
                    "to_name": e["to_name"],
                    "subject": e["subject"],
                    "text": e["text"],
                    "periods": e["period_ids"],
                    "notices": e["notice_keys"],
                }
                for e in found.emails
            ],
            "suppressed": [
                {"notice": s.notice, "silence_id": s.silence_id, "until": s.until} for s in found.suppressed
            ],
            "deferred_to_window": found.deferred_to_window,
        }

    @router.get("/assignments/{assignment_id}/periods")
    async def periods(assignment_id: Identifier, operator: Operator) -> Answer:
        """The notifier's view of one assignment's reporting periods, acknowledgement window and next checks."""
        rows = await use_cases.periods_of(assignment_id)
        return {"assignment_id": assignment_id, "periods": [_public(r, "period_id") for r in rows]}


def _ladder_and_outbox(router: APIRouter, use_cases: NotifierUseCases) -> None:
    @router.post("/ladder/reapply")
    async def reapply_ladder(operator: Operator, request: ReapplyRequest | None = None) -> Answer:
        """Give the matching open periods the deployment's current ladder (the one this notifier opens new
        periods with). Steps already sent are not sent again; each period records who changed its ladder,
        when, and from which version to which. Periods following their plan's own ladder keep it unless
        `include_plan_overrides` is true."""
        result = await use_cases.reapply_ladder(ReapplyLadder(request or ReapplyRequest(), by=operator.code))
        return {
            "change_id": result.change_id,
            "ladder_version": result.ladder_version,
            "changed": result.changed,
            "conflicts": result.conflicts,
        }

    @router.get("/emails")
    async def emails(
        operator: Operator,
        status: Literal["pending", "sent", "failed", "dropped"] | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Answer:
        """The e-mail outbox, newest first: `?status=failed` lists what was given up (and why); `?status=dropped`
        what was not sent because it no longer applied (`dropped_reason`)."""
        return {"emails": [_public(r, "email_id") for r in await use_cases.emails(status, limit)]}


def _silences(router: APIRouter, use_cases: NotifierUseCases) -> None:
    @router.post("/silences", status_code=201)
    async def create_silence(request: SilenceRequest, operator: Operator) -> Answer:
        """Mute a plan, an agency or a ladder level for a time window; muted notices are kept, not lost. The
        silence records the operator whose token made the request as `created_by`."""
        silence = await use_cases.create_silence(CreateSilence(request, created_by=operator.code))
        return silence.public()

    @router.get("/silences")
    async def list_silences(
        operator: Operator,
        active: Annotated[bool, Query(description="only those not yet ended")] = True,
    ) -> Answer:
        """Operators' silences."""
        return {"silences": [s.public() for s in await use_cases.list_silences(active)]}

    @router.delete("/silences/{silence_id}", status_code=204)
    async def delete_silence(silence_id: Identifier, operator: Operator) -> None:
        """End a silence now: what it held back goes out at the next scan if still due."""
        try:
            await use_cases.end_silence(EndSilence(silence_id))
        except SilenceNotFound as exc:
            raise HTTPException(
                404,
                Wording(
                    vi=f"Không có lệnh tạm dừng thông báo nào mang mã {silence_id}.", en=f"no silence {silence_id}"
                ),
            ) from exc
