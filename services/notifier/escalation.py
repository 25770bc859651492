"""The periodic scan: claim the periods whose next check is due, decide each one's ladder steps, and queue
one digest e-mail per recipient — notices, muted notices, e-mails, period updates and events in one
transaction, so the same (period, step, recipient) never gets two notices, even across restarts or
several notifiers. The preview runs the same decisions without writing anything."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from prometheus_client import Counter, Gauge, Histogram
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from services.notifier.repository import PENDING, NotifierRepository
from services.notifier.rules import messages
from services.notifier.rules.decisions import PeriodDecision, Rules, decide, stable_id
from services.notifier.rules.recipients import Addressbook
from services.notifier.rules.silences import from_row
from shared.clock import Clock, as_utc
from shared.contracts import AgencyRef, EscalationSent
from shared.mongo import in_transaction
from shared.outbox import Outbox

log = structlog.get_logger()

NOTICES = Counter(
    "dondoc_notices_total", "Ladder notices, by step and result (queued, suppressed).", ["step", "result"]
)
SCAN_SECONDS = Histogram("dondoc_notifier_scan_seconds", "Duration of one due-period scan.")
LAST_SCAN = Gauge("dondoc_notifier_last_scan_timestamp_seconds", "When the last scan finished successfully.")


class ClaimLost(Exception):
    """A period changed under our claim (a report, an extension, or another replica after our lease)."""


class Wakeable:
    def wake(self) -> None: ...


@dataclass
class Run:
    """What one scan decided: the decisions, and the digests they make per recipient."""

    now: datetime
    decisions: list[PeriodDecision]
    emails: list[dict[str, Any]]


class EscalationScanner:
    def __init__(
        self,
        client: AsyncMongoClient[dict[str, Any]],
        repository: NotifierRepository,
        addressbook: Addressbook,
        outbox: Outbox,
        mailer: Wakeable,
        clock: Clock,
        rules: Rules,
        interval_seconds: float,
        batch_size: int,
        lease_seconds: float = 120.0,
    ) -> None:
        self._client = client
        self._repo = repository
        self._book = addressbook
        self._outbox = outbox
        self._mailer = mailer
        self._clock = clock
        self._rules = rules
        self._interval = interval_seconds
        self._batch = batch_size
        self._lease = timedelta(seconds=lease_seconds)

    @property
    def rules(self) -> Rules:
        return self._rules

    async def run(self) -> None:
        while True:
            started = time.perf_counter()
            try:
                while await self.scan_once() == self._batch:
                    pass
                LAST_SCAN.set(time.time())
            except Exception:  # noqa: BLE001 - the next scan retries; nothing was half-written
                log.exception("escalation scan failed")
            SCAN_SECONDS.observe(time.perf_counter() - started)
            await asyncio.sleep(self._interval)

    async def plan(self, periods: list[dict[str, Any]], now: datetime) -> Run:
        """Decide every period at `now` and render the digests (no writes)."""
        silences = [from_row(row) for row in await self._repo.active_silences(now)]
        sent = await self._repo.sent_keys_of([p["_id"] for p in periods])
        decisions = [
            decide(
                period, now, self._rules.calendar, self._rules.window, self._book.recipients_for(period), sent, silences
            )
            for period in periods
        ]
        return Run(now, decisions, self._digests(decisions, now))

    def _digests(self, decisions: list[PeriodDecision], now: datetime) -> list[dict[str, Any]]:
        inbox: dict[str, list[Any]] = defaultdict(list)
        periods = {d.period["_id"]: d.period for d in decisions}
        contacts = {d.period["_id"]: self._book.contact(d.period) for d in decisions}
        names: dict[str, str] = {}
        for decision in decisions:
            for notice in decision.sends:
                inbox[notice.recipient.address].append(notice)
                names[notice.recipient.address] = notice.recipient.name
        emails = []
        for address, notices in sorted(inbox.items()):
            digest = messages.render_digest(names[address], messages.items_for(notices, periods, contacts, now))
            keys = sorted(n.key for n in notices)
            emails.append(
                {
                    "_id": stable_id(*keys),
                    "to": address,
                    "to_name": names[address],
                    "subject": digest.subject,
                    "text": digest.text,
                    "html": digest.html,
                    "notice_keys": keys,
                    "period_ids": sorted({k.split("|", 1)[0] for k in keys}),
                    "status": PENDING,
                    "attempts": 0,
                    "created_at": now,
                    "next_attempt_at": now,
                    "calendar_version": self._rules.calendar.version,
                }
            )
        return emails

    async def scan_once(self) -> int:
        """Take the due steps of every due period (up to one batch); returns how many periods were claimed."""
        now = self._clock.now()
        token, claimed = await self._repo.claim_due(now, self._batch, self._lease)
        if not claimed:
            return 0
        try:
            run = await self.plan(claimed, now)
            await in_transaction(self._client, lambda session: self._write(run, token, session))
        except (DuplicateKeyError, ClaimLost) as exc:
            log.info("scan batch changed under its claim; released for a rescan", periods=len(claimed), error=repr(exc))
            await self._repo.release(token, [p["_id"] for p in claimed], now)
            return 0
        except Exception:
            await self._repo.release(token, [p["_id"] for p in claimed], now)
            raise
        sends = sum(len(d.sends) for d in run.decisions)
        muted = sum(len(d.muted) for d in run.decisions)
        for decision in run.decisions:
            for notice in decision.sends:
                NOTICES.labels(notice.occurrence.step.name, "queued").inc()
            for mute in decision.muted:
                NOTICES.labels(mute.notice.occurrence.step.name, "suppressed").inc()
        log.info("scan taken", periods=len(claimed), notices=sends, suppressed=muted, emails=len(run.emails))
        if run.emails:
            self._mailer.wake()
        if sends:
            self._outbox.wake()
        return len(claimed)

    async def _write(self, run: Run, token: str, session: Any) -> None:
        repo, now = self._repo, run.now
        email_of = {key: email["_id"] for email in run.emails for key in email["notice_keys"]}
        notices, muted, events = [], [], []
        for decision in run.decisions:
            period = decision.period
            for notice in decision.sends:
                step = notice.occurrence.step
                notices.append(
                    {
                        "_id": notice.key,
                        "period_id": period["_id"],
                        "rev": period.get("rev", 0),
                        "occurrence": notice.occurrence.key,
                        "step": step.name,
                        "level": step.level,
                        "address": notice.recipient.address,
                        "role": notice.recipient.role,
                        "copy": notice.recipient.copy,
                        "email_id": email_of[notice.key],
                        "queued_at": now,
                        "calendar_version": self._rules.calendar.version,
                    }
                )
            for mute in decision.muted:
                muted.append(mute)
            events += self._events(decision, now)
            update: dict[str, Any] = {"next_check_at": decision.next_check_at, "claimed_by": None, "checked_at": now}
            if decision.done:
                update["done"] = [*(period.get("done") or []), *decision.done]
            result = await repo.periods.update_one(
                {"_id": period["_id"], "claimed_by": token, "state": period["state"], "rev": period.get("rev", 0)},
                {"$set": update},
                session=session,
            )
            if result.matched_count != 1:
                raise ClaimLost(period["_id"])
        if notices:
            await repo.notices.insert_many(notices, session=session)
            # Notices muted earlier and sent now: their suppression record says when they went out.
            await repo.suppressions.update_many(
                {"_id": {"$in": [n["_id"] for n in notices]}, "released_at": None},
                {"$set": {"released_at": now}},
                session=session,
            )
        for mute in muted:
            notice, step = mute.notice, mute.notice.occurrence.step
            await repo.suppressions.update_one(
                {"_id": notice.key},
                {
                    "$set": {"silence_id": mute.silence.id, "last_muted_at": now},
                    "$setOnInsert": {
                        "period_id": notice.key.split("|", 1)[0],
                        "address": notice.recipient.address,
                        "step": step.name,
                        "level": step.level,
                        "first_muted_at": now,
                        "released_at": None,
                    },
                },
                upsert=True,
                session=session,
            )
        if run.emails:
            await repo.emails.insert_many(run.emails, session=session)
        await self._outbox.add(events, session)

    def _events(self, decision: PeriodDecision, now: datetime) -> list[EscalationSent]:
        period = decision.period
        by_occurrence: dict[str, list[Any]] = defaultdict(list)
        for notice in decision.sends:
            by_occurrence[notice.occurrence.key].append(notice)
        events = []
        for key, notices in by_occurrence.items():
            occurrence = notices[0].occurrence
            recipients = sorted(n.recipient.address for n in notices)
            due_at = as_utc(period["due_at"]) if period.get("due_at") else None
            events.append(
                EscalationSent(
                    event_id=stable_id(period["_id"], str(period.get("rev", 0)), key, *recipients),
                    correlation_id=period["plan_id"],
                    agency=AgencyRef.model_validate(period["agency"]),
                    occurred_at=now,
                    assignment_id=period["assignment_id"],
                    plan_id=period["plan_id"],
                    period=period.get("period"),
                    step=occurrence.step.name,
                    recipients=recipients,
                    overdue_by_seconds=max(0, int((now - due_at).total_seconds())) if due_at else 0,
                    level=occurrence.step.level,
                    track=period["track"],
                    occurrence=occurrence.number,
                    due_at=due_at,
                    calendar_version=self._rules.calendar.version,
                    ladder_version=period.get("ladder_version", ""),
                )
            )
        return events
