"""Notifier's HTTP routes: what is being watched, who would be notified at a given moment, the e-mail
outbox, operators' silences, and re-applying the deployment's ladder to open periods."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query

from services.notifier.escalation import EscalationScanner
from services.notifier.reapply import LadderReapplier, ReapplyRequest
from services.notifier.repository import NotifierRepository
from services.notifier.rules.silences import SilenceRequest, new_row
from shared.auth import Operator
from shared.clock import Clock, as_utc
from shared.http import Identifier


def _public(row: dict[str, Any], key: str) -> dict[str, Any]:
    return {key: row.pop("_id"), **row}


def build_router(
    repository: NotifierRepository, scanner: EscalationScanner, clock: Clock, reapply_batch: int = 500
) -> APIRouter:
    router = APIRouter(tags=["escalation"])
    reapplier = LadderReapplier(repository, scanner.rules, reapply_batch)

    @router.get("/escalations/preview")
    async def preview(
        operator: Operator,
        at: Annotated[datetime | None, Query(description="the moment to preview (ISO 8601); default now")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> dict[str, Any]:
        """Who would be notified about what at `at`, with the silences then in force; nothing is sent."""
        if at is not None and at.tzinfo is None:
            raise HTTPException(422, "`at` needs its UTC offset, e.g. 2026-07-01T08:00:00+07:00")
        moment = as_utc(at) if at is not None else clock.now()
        run = await scanner.plan(await repository.due_periods(moment, limit), moment)
        return {
            "at": moment,
            "emails": [
                {
                    "to": e["to"],
                    "to_name": e["to_name"],
                    "subject": e["subject"],
                    "text": e["text"],
                    "periods": e["period_ids"],
                    "notices": e["notice_keys"],
                }
                for e in run.emails
            ],
            "suppressed": [
                {"notice": m.notice.key, "silence_id": m.silence.id, "until": m.silence.ends_at}
                for d in run.decisions
                for m in d.muted
            ],
            "deferred_to_window": [d.period["_id"] for d in run.decisions if d.outside_window],
        }

    @router.post("/ladder/reapply")
    async def reapply_ladder(operator: Operator, request: ReapplyRequest | None = None) -> dict[str, Any]:
        """Give the matching open periods the deployment's current ladder (the one this notifier opens new
        periods with). Steps already sent are not sent again; each period records who changed its ladder,
        when, and from which version to which. Periods following their plan's own ladder keep it unless
        `include_plan_overrides` is true."""
        result = await reapplier(request or ReapplyRequest(), operator.code, clock.now())
        return {
            "change_id": result.change_id,
            "ladder_version": result.ladder_version,
            "changed": result.changed,
            "conflicts": result.conflicts,
        }

    @router.get("/assignments/{assignment_id}/periods")
    async def periods(assignment_id: Identifier, operator: Operator) -> dict[str, Any]:
        """The notifier's view of one assignment's reporting periods, acknowledgement window and next checks."""
        rows = await repository.periods.find({"assignment_id": assignment_id}, {"steps": 0}).to_list()
        return {"assignment_id": assignment_id, "periods": [_public(r, "period_id") for r in rows]}

    @router.get("/emails")
    async def emails(
        operator: Operator,
        status: Literal["pending", "sent", "failed"] | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        """The e-mail outbox, newest first: `?status=failed` lists what was given up (and why)."""
        query = {"status": status} if status else {}
        rows = await repository.emails.find(query, {"html": 0, "text": 0}).sort("created_at", -1).limit(limit).to_list()
        return {"emails": [_public(r, "email_id") for r in rows]}

    @router.post("/silences", status_code=201)
    async def create_silence(request: SilenceRequest, operator: Operator) -> dict[str, Any]:
        """Mute a plan, an agency or a ladder level for a time window; muted notices are kept, not lost."""
        row = new_row(request, clock.now())
        await repository.silences.insert_one(dict(row))
        return _public(row, "silence_id")

    @router.get("/silences")
    async def list_silences(
        operator: Operator,
        active: Annotated[bool, Query(description="only those not yet ended")] = True,
    ) -> dict[str, Any]:
        """Operators' silences."""
        query = {"ends_at": {"$gt": clock.now()}} if active else {}
        rows = await repository.silences.find(query).sort("starts_at", 1).to_list()
        return {"silences": [_public(r, "silence_id") for r in rows]}

    @router.delete("/silences/{silence_id}", status_code=204)
    async def delete_silence(silence_id: Identifier, operator: Operator) -> None:
        """End a silence now: what it held back goes out at the next scan if still due."""
        result = await repository.silences.delete_one({"_id": silence_id})
        if result.deleted_count != 1:
            raise HTTPException(404, f"no silence {silence_id!r}")
        held = await repository.suppressions.distinct("period_id", {"silence_id": silence_id, "released_at": None})
        if held:
            await repository.periods.update_many(
                {"_id": {"$in": held}, "state": "open", "claimed_by": None}, {"$set": {"next_check_at": clock.now()}}
            )

    return router
