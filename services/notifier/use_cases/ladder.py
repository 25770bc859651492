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
from datetime import datetime
from typing import Any

import structlog

from services.notifier.domain import OPEN
from services.notifier.records import PeriodRow
from services.notifier.rules.decisions import Rules, reapplied_state
from services.notifier.rules.ladder import deployment_track
from services.notifier.use_cases.commands import LadderReapplied, ReapplyRequest
from services.notifier.use_cases.ports import Store
from shared.platform.unit_of_work import Transaction, UnitOfWork

log = structlog.get_logger()

Change = tuple[dict[str, Any], dict[str, Any]]  # (the period as it was read, the update)

ATTEMPTS = 3


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
    def __init__(self, uow: UnitOfWork, store: Store, rules: Rules, batch_size: int = 500) -> None:
        self._uow = uow
        self._repo = store
        self._rules = rules
        self._batch = batch_size

    async def __call__(self, request: ReapplyRequest, by: str, now: datetime) -> LadderReapplied:
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
        return LadderReapplied(change_id, version, changed, conflicts)

    async def _apply(
        self,
        page: list[PeriodRow],
        query: dict[str, Any],
        request: ReapplyRequest,
        change_id: str,
        by: str,
        now: datetime,
    ) -> tuple[int, int]:
        changed = 0
        for _ in range(ATTEMPTS):
            changes = [self._change(p, change_id, by, request.reason, now) for p in page]

            async def write(tx: Transaction, changes: list[Change] = changes) -> int:
                return await self._repo.replace_ladders(changes, tx.session)

            changed += await self._uow.run(write)
            # Those that changed since they were read: read again (if still selected) and try once more.
            ids = [p["_id"] for p in page]
            page = await self._repo.open_page(
                {**query, "_id": {"$in": ids}, "ladder_change_id": {"$ne": change_id}}, None, len(ids)
            )
            if not page:
                return changed, 0
        return changed, len(page)

    def _change(self, period: PeriodRow, change_id: str, by: str, reason: str, now: datetime) -> Change:
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
