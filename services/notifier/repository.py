"""Notifier's own database: tracked periods (with the next time each needs looking at), notices taken,
muted notices, operators' silences, and the e-mail outbox.

Work is claimed with a lease that lives in the field the scan is indexed on: claiming a due period moves
its `next_check_at` to the end of the lease and stamps a claim token. Another replica cannot see it as due
until the lease runs out, and a replica that died mid-run has its claims taken over when it does. The same
holds for e-mails through `next_attempt_at`.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.notifier.domain import ACKNOWLEDGED, CANCELLED, OPEN, SUBMITTED
from shared.mongo import in_transaction

PENDING = "pending"
SENT = "sent"
FAILED = "failed"


class NotifierRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.periods = db["periods"]
        self.processed = db["processed_events"]
        self.notices = db["notices"]
        self.suppressions = db["suppressions"]
        self.silences = db["silences"]
        self.emails = db["emails"]

    async def ensure_indexes(self) -> None:
        # Due work is found through (state, next_check_at): a scan costs what is due, not what exists.
        await self.periods.create_index([("state", ASCENDING), ("next_check_at", ASCENDING)])
        await self.periods.create_index("assignment_id")
        await self.emails.create_index([("status", ASCENDING), ("next_attempt_at", ASCENDING)])
        await self.notices.create_index("period_id")
        await self.suppressions.create_index("period_id")
        await self.suppressions.create_index("silence_id")  # releasing what a silence held back
        await self.silences.create_index("ends_at")

    async def mark_processed(self, event_id: str, event_type: str, at: datetime, session: AsyncClientSession) -> None:
        """Raises DuplicateKeyError when the event was processed before."""
        await self.processed.insert_one({"_id": event_id, "event_type": event_type, "at": at}, session=session)

    # --- the projection -------------------------------------------------------------------------------

    async def open_item(
        self, item_id: str, details: dict[str, Any], on_insert: dict[str, Any], session: AsyncClientSession
    ) -> None:
        # $setOnInsert for the state: a report or acknowledgement that arrived before the assignment wins.
        await self.periods.update_one(
            {"_id": item_id}, {"$set": details, "$setOnInsert": on_insert}, upsert=True, session=session
        )

    async def close_period(self, item_id: str, fields: dict[str, Any], session: AsyncClientSession) -> None:
        await self.periods.update_one(
            {"_id": item_id},
            {"$set": {"state": SUBMITTED, "next_check_at": None, "claimed_by": None, **fields}},
            upsert=True,
            session=session,
        )

    async def acknowledge(self, item_id: str, at: datetime, session: AsyncClientSession) -> None:
        await self.periods.update_one(
            {"_id": item_id, "state": {"$ne": CANCELLED}},
            {"$set": {"state": ACKNOWLEDGED, "acknowledged_at": at, "next_check_at": None, "claimed_by": None}},
            upsert=True,
            session=session,
        )

    async def cancel_assignment(self, assignment_id: str, session: AsyncClientSession) -> bool:
        """False when nothing of the assignment is known yet (its creation is still on the way)."""
        result = await self.periods.update_many(
            {"assignment_id": assignment_id, "state": OPEN},
            {"$set": {"state": CANCELLED, "next_check_at": None, "claimed_by": None}},
            session=session,
        )
        if result.matched_count:
            return True
        return await self.periods.count_documents({"assignment_id": assignment_id}, limit=1, session=session) > 0

    async def revise_task(self, assignment_id: str, task: str, plan_version: int, session: AsyncClientSession) -> bool:
        """Put a reworded task on the assignment's open items, unless a later revision is already there.
        False when nothing of the assignment is known yet."""
        await self.periods.update_many(
            {
                "assignment_id": assignment_id,
                "state": OPEN,
                "$or": [{"task_revision": {"$exists": False}}, {"task_revision": {"$lt": plan_version}}],
            },
            {"$set": {"task": task, "task_revision": plan_version}},
            session=session,
        )
        return await self.periods.count_documents({"assignment_id": assignment_id}, limit=1, session=session) > 0

    async def get(self, item_id: str, session: AsyncClientSession | None = None) -> dict[str, Any] | None:
        return await self.periods.find_one({"_id": item_id}, session=session)

    async def rebase(self, item_id: str, fields: dict[str, Any], session: AsyncClientSession) -> None:
        await self.periods.update_one({"_id": item_id}, {"$set": {**fields, "claimed_by": None}}, session=session)

    async def open_page(self, query: dict[str, Any], after: str | None, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` open periods matching `query`, in `_id` order after `after`: callers walk every match
        page by page (keyset, through the `_id` index) instead of holding them all."""
        page = {**query, "state": OPEN, **({"_id": {"$gt": after}} if after is not None else {})}
        return await self.periods.find(page).sort("_id", ASCENDING).limit(limit).to_list()

    async def replace_ladders(self, changes: list[tuple[dict[str, Any], dict[str, Any]]]) -> int:
        """Apply (filter, update) pairs in one round trip; returns how many matched."""
        if not changes:
            return 0
        result = await self.periods.bulk_write([UpdateOne(f, u) for f, u in changes], ordered=False)
        return result.matched_count

    # --- claiming due work ------------------------------------------------------------------------------

    async def due_periods(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        cursor = (
            self.periods.find({"state": OPEN, "next_check_at": {"$lte": now}})
            .sort("next_check_at", ASCENDING)
            .limit(limit)
        )
        return await cursor.to_list()

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> tuple[str, list[dict[str, Any]]]:
        """Claim up to `limit` due periods for this scan; returns the claim token and the claimed rows."""
        due = {"state": OPEN, "next_check_at": {"$lte": now}}
        candidates = await self.periods.find(due, {"_id": 1}).sort("next_check_at", ASCENDING).limit(limit).to_list()
        token = uuid.uuid4().hex
        if not candidates:
            return token, []
        # Every query here goes through an index (_id, or state+next_check_at): the cost is what is due.
        ids = {"_id": {"$in": [c["_id"] for c in candidates]}}
        claim = {"$set": {"next_check_at": now + lease, "claimed_by": token, "claimed_at": now}}
        # In a transaction of its own: a replica SIGKILLed inside its scan's transaction leaves that transaction's
        # writes on its periods until the server reaps it (transactionLifetimeLimitSeconds, 60 s). A plain update
        # waits behind them inside the server, and the MongoDB-wire stand-in reaps only when another transaction
        # comes along: an idle system sent no notice again (tests/e2e, the notifier killed mid-scan). A statement
        # in a transaction gets a write conflict at once instead, which the driver retries with backoff for up to
        # 120 s: the scan resumes once the dead transaction is reaped, 60 s after its last statement.
        await in_transaction(
            self.periods.database.client,
            lambda session: self.periods.update_many({**ids, **due}, claim, session=session),
        )
        return token, await self.periods.find({**ids, "claimed_by": token, "state": OPEN}).to_list()

    async def release(self, token: str, period_ids: list[str], now: datetime) -> None:
        """Give claims back (after a failed run) so they are due again at once."""
        await self.periods.update_many(
            {"_id": {"$in": period_ids}, "claimed_by": token, "state": OPEN},
            {"$set": {"next_check_at": now, "claimed_by": None}},
        )

    async def sent_keys_of(self, period_ids: list[str]) -> set[str]:
        """The keys of every notice already taken for these periods."""
        if not period_ids:
            return set()
        rows = await self.notices.find({"period_id": {"$in": period_ids}}, {"_id": 1}).to_list()
        return {row["_id"] for row in rows}

    async def active_silences(self, now: datetime) -> list[dict[str, Any]]:
        return await self.silences.find({"ends_at": {"$gt": now}, "starts_at": {"$lte": now}}).to_list()

    # --- e-mails ----------------------------------------------------------------------------------------

    async def claim_emails(self, now: datetime, limit: int, lease: timedelta) -> tuple[str, list[dict[str, Any]]]:
        claimable = {"status": PENDING, "next_attempt_at": {"$lte": now}}
        candidates = (
            await self.emails.find(claimable, {"_id": 1}).sort("next_attempt_at", ASCENDING).limit(limit).to_list()
        )
        token = uuid.uuid4().hex
        if not candidates:
            return token, []
        ids = {"_id": {"$in": [c["_id"] for c in candidates]}}
        claim = {"$set": {"next_attempt_at": now + lease, "claimed_by": token}}
        await self.emails.update_many({**ids, **claimable}, claim)
        rows = await self.emails.find({**ids, "claimed_by": token, "status": PENDING}).to_list()
        return token, sorted(rows, key=lambda r: r["created_at"])

    async def renew_emails(self, email_ids: list[str], token: str, until: datetime) -> set[str]:
        """Extend this replica's claim on the e-mails it has yet to send; returns those it still holds. The
        others expired and another replica took them: this one must not send them."""
        mine = {"_id": {"$in": email_ids}, "claimed_by": token, "status": PENDING}
        await self.emails.update_many(mine, {"$set": {"next_attempt_at": until}})
        return {row["_id"] for row in await self.emails.find(mine, {"_id": 1}).to_list()}

    async def finish_email(self, email_id: str, token: str, fields: dict[str, Any], attempted: bool = True) -> bool:
        """Record the outcome of a sending attempt, if this replica still holds the claim."""
        update: dict[str, Any] = {"$set": {**fields, "claimed_by": None}}
        if attempted:
            update["$inc"] = {"attempts": 1}
        result = await self.emails.update_one({"_id": email_id, "claimed_by": token}, update)
        return result.modified_count == 1
