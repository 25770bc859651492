"""An operator re-applies the deployment's current ladder to open periods.

A period keeps the ladder it opened with unless an operator changes it: this is that change. The
matching open periods get the deployment's steps for their track, their next check is recomputed from
what they have already taken (decisions.reapplied_state), and the change is recorded on each period
(who, when, from which version to which). Periods are walked page by page, never all held at once; each
is written only if it did not change since it was read (a scan, a report, another operator), else read
again and retried.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field

from services.notifier.domain import OPEN
from services.notifier.repository import NotifierRepository
from services.notifier.rules.decisions import Rules, reapplied_state
from services.notifier.rules.ladder import deployment_track

log = structlog.get_logger()

ATTEMPTS = 3


class ReapplyRequest(BaseModel):
    """Which open periods get the deployment's current ladder; every filter given must match."""

    model_config = ConfigDict(extra="forbid")

    plan_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$", description="only this plan's")
    agency: str | None = Field(
        default=None, pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="only periods of the agency with this code"
    )
    include_plan_overrides: bool = Field(
        default=False, description="also replace the ladder of periods that follow their plan's own ladder"
    )
    reason: str = Field(default="", max_length=1_000, description="why, kept with the change on each period")


@dataclass
class ReapplyResult:
    change_id: str
    ladder_version: str
    changed: int
    conflicts: int  # periods that kept changing under this request and were left as they were


def selection(request: ReapplyRequest, version: str) -> dict[str, Any]:
    """The open periods this request changes: those not already on `version` from the deployment."""
    query: dict[str, Any] = {}
    if request.plan_id is not None:
        query["plan_id"] = request.plan_id
    if request.agency is not None:
        query["agency.code"] = request.agency
    if request.include_plan_overrides:
        query["$or"] = [{"ladder_version": {"$ne": version}}, {"ladder_source": "plan"}]
    else:
        query["ladder_version"] = {"$ne": version}
        query["ladder_source"] = {"$ne": "plan"}
    return query


class LadderReapplier:
    def __init__(self, repository: NotifierRepository, rules: Rules, batch_size: int = 500) -> None:
        self._repo = repository
        self._rules = rules
        self._batch = batch_size

    async def __call__(self, request: ReapplyRequest, by: str, now: datetime) -> ReapplyResult:
        version = self._rules.ladder.version
        query = selection(request, version)
        change_id = uuid.uuid4().hex
        changed = conflicts = 0
        after: str | None = None
        while page := await self._repo.open_page(query, after, self._batch):
            after = page[-1]["_id"]
            done, lost = await self._apply(page, query, request, change_id, by, now)
            changed += done
            conflicts += lost
        log.info(
            "ladder reapplied",
            change_id=change_id,
            ladder_version=version,
            changed=changed,
            conflicts=conflicts,
            by=by,
            plan_id=request.plan_id,
            agency=request.agency,
            include_plan_overrides=request.include_plan_overrides,
        )
        return ReapplyResult(change_id, version, changed, conflicts)

    async def _apply(
        self,
        page: list[dict[str, Any]],
        query: dict[str, Any],
        request: ReapplyRequest,
        change_id: str,
        by: str,
        now: datetime,
    ) -> tuple[int, int]:
        changed = 0
        for _ in range(ATTEMPTS):
            changed += await self._repo.replace_ladders(
                [self._change(p, change_id, by, request.reason, now) for p in page]
            )
            # Those that changed since they were read: read again (if still selected) and try once more.
            ids = [p["_id"] for p in page]
            page = await self._repo.open_page(
                {**query, "_id": {"$in": ids}, "ladder_change_id": {"$ne": change_id}}, None, len(ids)
            )
            if not page:
                return changed, 0
        return changed, len(page)

    def _change(
        self, period: dict[str, Any], change_id: str, by: str, reason: str, now: datetime
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        rules = self._rules
        ladder = deployment_track(rules.ladder, period["track"])
        done, next_check_at = reapplied_state(period, ladder.steps, now, rules.calendar, rules.window)
        # Written only if nothing moved since the read: a scan's claim or write, a report, an extension.
        unchanged = {
            "_id": period["_id"],
            "state": OPEN,
            "rev": period.get("rev", 0),
            "ladder_version": period.get("ladder_version"),
            "done": period.get("done"),
            "claimed_by": period.get("claimed_by"),
        }
        record = {
            "change_id": change_id,
            "at": now,
            "by": by,
            "reason": reason,
            "from_version": period.get("ladder_version"),
            "from_source": period.get("ladder_source", "deployment"),
            "to_version": ladder.version,
            "to_source": ladder.source,
        }
        # Clearing the claim makes a scan still holding this period drop its whole batch (its write checks
        # the claim), so nothing is decided on the old ladder after this change.
        update = {
            "$set": {
                **ladder.fields(),
                "done": done,
                "next_check_at": next_check_at,
                "claimed_by": None,
                "ladder_change_id": change_id,
            },
            "$push": {"ladder_changes": record},
        }
        return unchanged, update
