"""Notifier's own database: tracked periods (with the next time each needs looking at), notices taken,
muted notices, operators' silences, and the e-mail outbox.

Work is claimed with a lease that lives in the field the scan is indexed on: claiming a due period moves
its `next_check_at` to the end of the lease and stamps a claim token. Another replica cannot see it as due
until the lease runs out, and a replica that died mid-run has its claims taken over when it does. The same
holds for e-mails through `next_attempt_at`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.notifier.domain import ACKNOWLEDGED, CANCELLED, OPEN, SUBMITTED, acknowledgement_id, period_id
from services.notifier.records import FAILED, PENDING, SENT, EmailRow, NoticeRow, PeriodRow, SilenceRecord
from services.notifier.use_cases.errors import AlreadyProcessed, ClaimLost
from shared.contracts.events import EscalationSent, Event
from shared.platform import tracing
from shared.platform.mongo import DUPLICATE_KEY, in_transaction
from shared.platform.tracing import TRACE_FIELD

__all__ = ["FAILED", "PENDING", "SENT", "NotifierRepository"]  # the e-mail states, for the tests and tools using them


class NotifierRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._db = db
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

    async def mark_processed(
        self, event_id: str, event_type: str, at: datetime, session: AsyncClientSession | None
    ) -> None:
        """Raises AlreadyProcessed when the event was processed before."""
        try:
            await self.processed.insert_one({"_id": event_id, "event_type": event_type, "at": at}, session=session)
        except DuplicateKeyError as exc:
            raise AlreadyProcessed(event_id) from exc

    async def write_gathered(self, writes: list[tuple[str, list[Any]]], session: AsyncClientSession | None) -> None:
        """Bulk writes gathered per collection (services/notifier/bulk.py), in the order given."""
        for name, operations in writes:
            await self._db[name].bulk_write(operations, ordered=True, session=session)

    # --- the projection -------------------------------------------------------------------------------

    async def open_item(
        self, item_id: str, details: dict[str, Any], on_insert: dict[str, Any], session: AsyncClientSession | None
    ) -> None:
        # $setOnInsert for the state: a report or acknowledgement that arrived before the assignment wins.
        # The trace of the event that opened it (when tracing is on) goes on to the e-mails it causes.
        await self.periods.update_one(
            {"_id": item_id},
            {"$set": details, "$setOnInsert": tracing.stamped(on_insert)},
            upsert=True,
            session=session,
        )

    async def close_period(self, item_id: str, fields: dict[str, Any], session: AsyncClientSession | None) -> None:
        await self.periods.update_one(
            {"_id": item_id},
            {"$set": {"state": SUBMITTED, "next_check_at": None, "claimed_by": None, **fields}},
            upsert=True,
            session=session,
        )

    async def acknowledge(self, item_id: str, at: datetime, session: AsyncClientSession | None) -> None:
        await self.periods.update_one(
            {"_id": item_id, "state": {"$ne": CANCELLED}},
            {"$set": {"state": ACKNOWLEDGED, "acknowledged_at": at, "next_check_at": None, "claimed_by": None}},
            upsert=True,
            session=session,
        )

    async def cancel_assignment(self, assignment_id: str, session: AsyncClientSession | None) -> bool:
        """False when nothing of the assignment is known yet (its creation is still on the way)."""
        result = await self.periods.update_many(
            {"assignment_id": assignment_id, "state": OPEN},
            {"$set": {"state": CANCELLED, "next_check_at": None, "claimed_by": None}},
            session=session,
        )
        if result.matched_count:
            return True
        return await self.periods.count_documents({"assignment_id": assignment_id}, limit=1, session=session) > 0

    async def revise(
        self, assignment_id: str, fields: dict[str, Any], plan_version: int, session: AsyncClientSession | None
    ) -> bool:
        """Put a corrected plan's `fields` (a reworded task, what to deliver) on the assignment's open items, unless
        a later revision is already there. False when nothing of the assignment is known yet."""
        await self.periods.update_many(
            {
                "assignment_id": assignment_id,
                "state": OPEN,
                "$or": [{"task_revision": {"$exists": False}}, {"task_revision": {"$lt": plan_version}}],
            },
            {"$set": {**fields, "task_revision": plan_version}, "$inc": {"content_rev": 1}},
            session=session,
        )
        return await self.periods.count_documents({"assignment_id": assignment_id}, limit=1, session=session) > 0

    async def get(self, item_id: str, session: AsyncClientSession | None = None) -> PeriodRow | None:
        return cast(PeriodRow | None, await self.periods.find_one({"_id": item_id}, session=session))

    async def rebase(self, item_id: str, fields: dict[str, Any], session: AsyncClientSession | None) -> None:
        await self.periods.update_one({"_id": item_id}, {"$set": {**fields, "claimed_by": None}}, session=session)

    async def amend(self, item_id: str, fields: dict[str, Any], session: AsyncClientSession | None) -> None:
        await self.periods.update_one({"_id": item_id}, {"$set": fields, "$inc": {"content_rev": 1}}, session=session)

    async def open_page(self, query: dict[str, Any], after: str | None, limit: int) -> list[PeriodRow]:
        """Up to `limit` open periods matching `query`, in `_id` order after `after`: callers walk every match
        page by page (keyset, through the `_id` index) instead of holding them all."""
        page = {**query, "state": OPEN, **({"_id": {"$gt": after}} if after is not None else {})}
        return cast(list[PeriodRow], await self.periods.find(page).sort("_id", ASCENDING).limit(limit).to_list())

    async def replace_ladders(
        self, changes: list[tuple[dict[str, Any], dict[str, Any]]], session: AsyncClientSession | None = None
    ) -> int:
        """Apply (filter, update) pairs in one round trip; returns how many matched."""
        if not changes:
            return 0
        result = await self.periods.bulk_write([UpdateOne(f, u) for f, u in changes], ordered=False, session=session)
        return result.matched_count

    # --- claiming due work ------------------------------------------------------------------------------

    async def due_periods(self, now: datetime, limit: int) -> list[PeriodRow]:
        cursor = (
            self.periods.find({"state": OPEN, "next_check_at": {"$lte": now}})
            .sort("next_check_at", ASCENDING)
            .limit(limit)
        )
        return cast(list[PeriodRow], await cursor.to_list())

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> tuple[str, list[PeriodRow]]:
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
        claimed = await self.periods.find({**ids, "claimed_by": token, "state": OPEN}).to_list()
        return token, cast(list[PeriodRow], claimed)

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

    # --- what a scan decided --------------------------------------------------------------------------

    async def settle_period(
        self, period: Mapping[str, Any], token: str, update: dict[str, Any], session: AsyncClientSession | None
    ) -> None:
        """Write a scan's decision on a period it claimed; raises ClaimLost if the period moved meanwhile."""
        result = await self.periods.update_one(
            {"_id": period["_id"], "claimed_by": token, "state": period["state"], "rev": period.get("rev", 0)},
            {"$set": update},
            session=session,
        )
        if result.matched_count != 1:
            raise ClaimLost(period["_id"])

    async def add_notices(self, notices: list[NoticeRow], now: datetime, session: AsyncClientSession | None) -> None:
        if not notices:
            return
        try:
            await self.notices.insert_many(cast(list[dict[str, Any]], notices), session=session)
        except BulkWriteError as exc:
            if any(error.get("code") != DUPLICATE_KEY for error in exc.details.get("writeErrors", [])):
                raise
            # A notice already taken: another replica took these periods after our lease ran out.
            raise ClaimLost("a notice of this batch was taken meanwhile") from exc
        # Notices muted earlier and sent now: their suppression record says when they went out.
        await self.suppressions.update_many(
            {"_id": {"$in": [n["_id"] for n in notices]}, "released_at": None},
            {"$set": {"released_at": now}},
            session=session,
        )

    async def record_muted(
        self, key: str, silence_id: str, on_insert: dict[str, Any], now: datetime, session: AsyncClientSession | None
    ) -> None:
        await self.suppressions.update_one(
            {"_id": key},
            {"$set": {"silence_id": silence_id, "last_muted_at": now}, "$setOnInsert": on_insert},
            upsert=True,
            session=session,
        )

    async def queue_emails(self, emails: list[EmailRow], session: AsyncClientSession | None) -> None:
        if emails:
            if tracing.enabled():
                await self._trace_emails(emails, session)
            await self.emails.insert_many(cast(list[dict[str, Any]], emails), session=session)

    async def _trace_emails(self, emails: list[EmailRow], session: AsyncClientSession | None) -> None:
        """Give each e-mail the trace of the first of its periods that has one (the plan's, from `open_item`): its
        sending then belongs to the trace of the request that made the plan (shared/platform/tracing.py)."""
        period_ids = sorted({period_id for email in emails for period_id in email.get("period_ids", [])})
        query = {"_id": {"$in": period_ids}, TRACE_FIELD: {"$exists": True}}
        found = await self.periods.find(query, {TRACE_FIELD: 1}, session=session).to_list()
        traces = {row["_id"]: row[TRACE_FIELD] for row in found}
        for email in emails:
            trace = next((traces[p] for p in email.get("period_ids", []) if p in traces), None)
            if trace:
                email[TRACE_FIELD] = trace

    async def escalation_traces(
        self, events: Sequence[Event], session: AsyncClientSession | None
    ) -> dict[str, Mapping[str, str]]:
        """The trace each `escalation.sent` belongs to: its period's (the plan's, from `open_item`), by event id.
        The outbox writer stamps their rows with it (shared/platform/outbox_writer.py `TraceOrigins`), so a
        scan's escalations join their plans' traces instead of starting traces of their own."""
        items = {
            event.event_id: acknowledgement_id(event.assignment_id)
            if event.track == "acknowledgement"
            else period_id(event.assignment_id, event.period or "")
            for event in events
            if isinstance(event, EscalationSent)
        }
        if not items:
            return {}
        query = {"_id": {"$in": sorted(set(items.values()))}, TRACE_FIELD: {"$exists": True}}
        found = await self.periods.find(query, {TRACE_FIELD: 1}, session=session).to_list()
        traces = {row["_id"]: row[TRACE_FIELD] for row in found}
        return {event_id: traces[item] for event_id, item in items.items() if item in traces}

    # --- silences ---------------------------------------------------------------------------------------

    async def add_silence(self, silence: SilenceRecord, session: AsyncClientSession | None) -> None:
        await self.silences.insert_one(silence.to_row(), session=session)

    async def remove_silence(self, silence_id: str, session: AsyncClientSession | None) -> bool:
        result = await self.silences.delete_one({"_id": silence_id}, session=session)
        return result.deleted_count == 1

    async def held_by(self, silence_id: str, session: AsyncClientSession | None) -> list[str]:
        """The periods with notices this silence holds back now."""
        return await self.suppressions.distinct(
            "period_id", {"silence_id": silence_id, "released_at": None}, session=session
        )

    async def check_again(self, period_ids: list[str], now: datetime, session: AsyncClientSession | None) -> None:
        """Make open, unclaimed periods due at `now` (what a silence held back goes out at the next scan)."""
        if period_ids:
            await self.periods.update_many(
                {"_id": {"$in": period_ids}, "state": "open", "claimed_by": None},
                {"$set": {"next_check_at": now}},
                session=session,
            )

    async def list_silences(self, active_at: datetime | None) -> list[SilenceRecord]:
        query = {"ends_at": {"$gt": active_at}} if active_at is not None else {}
        rows = await self.silences.find(query).sort("starts_at", ASCENDING).to_list()
        return [SilenceRecord.from_row(row) for row in rows]

    async def active_silences(self, now: datetime) -> list[SilenceRecord]:
        rows = await self.silences.find({"ends_at": {"$gt": now}, "starts_at": {"$lte": now}}).to_list()
        return [SilenceRecord.from_row(row) for row in rows]

    # --- what operators look at -------------------------------------------------------------------------

    async def periods_of(self, assignment_id: str) -> list[dict[str, Any]]:
        """An assignment's periods and acknowledgement window, without their ladder snapshots."""
        return await self.periods.find({"assignment_id": assignment_id}, {"steps": 0}).to_list()

    async def list_emails(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        """The e-mail outbox, newest first, without the bodies."""
        query = {"status": status} if status else {}
        cursor = self.emails.find(query, {"html": 0, "text": 0}).sort("created_at", -1).limit(limit)
        return await cursor.to_list()

    async def periods_by_id(self, period_ids: list[str]) -> dict[str, PeriodRow]:
        """The periods queued e-mails are about: whether they still apply, and what writing one again needs."""
        if not period_ids:
            return {}
        rows = await self.periods.find({"_id": {"$in": period_ids}}, {"ladder_changes": 0}).to_list()
        return {row["_id"]: cast(PeriodRow, row) for row in rows}

    async def count_pending_emails(self) -> int:
        return await self.emails.count_documents({"status": PENDING})

    # --- e-mails ----------------------------------------------------------------------------------------

    async def claim_emails(self, now: datetime, limit: int, lease: timedelta) -> tuple[str, list[EmailRow]]:
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
        return token, cast(list[EmailRow], sorted(rows, key=lambda r: r["created_at"]))

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
