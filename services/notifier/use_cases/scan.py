"""The scan: claim the periods whose next check is due, decide each one's ladder steps, and queue one digest
e-mail per recipient — notices, muted notices, e-mails, period updates and events in one unit of work, so the
same (period, step, recipient) never gets two notices, even across restarts or several notifiers. The preview
runs the same decisions without writing anything."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from services.notifier.records import PENDING, EmailRow, NoticeRow, PeriodRow
from services.notifier.rules import messages
from services.notifier.rules.decisions import Muted, Notice, PeriodDecision, Rules, decide, stable_id
from services.notifier.rules.ladder import from_snapshot
from services.notifier.rules.recipients import Addressbook
from services.notifier.rules.schedule import Occurrence
from services.notifier.use_cases.commands import Run, ScanTaken
from services.notifier.use_cases.errors import ClaimLost
from services.notifier.use_cases.ports import Store, Wakeable
from shared.contracts.events import AgencyRef, EscalationSent
from shared.domain.clock import Clock, as_utc
from shared.platform.unit_of_work import Transaction, UnitOfWork

log = structlog.get_logger()


@dataclass(frozen=True)
class ScanLimits:
    batch_size: int
    lease: timedelta


class EscalationScan:
    def __init__(
        self,
        uow: UnitOfWork,
        store: Store,
        addressbook: Addressbook,
        rules: Rules,
        clock: Clock,
        mailer: Wakeable,
        limits: ScanLimits,
    ) -> None:
        self._uow = uow
        self._store = store
        self._book = addressbook
        self._clock = clock
        self._mailer = mailer
        self.rules = rules
        self.limits = limits

    async def plan(self, periods: list[PeriodRow], now: datetime) -> Run:
        """Decide every period at `now` and render the digests (no writes)."""
        silences = [record.rule() for record in await self._store.active_silences(now)]
        sent = await self._store.sent_keys_of([p["_id"] for p in periods])
        rules = self.rules
        decisions = [
            decide(period, now, rules.calendar, rules.window, self._book.recipients_for(period), sent, silences)
            for period in periods
        ]
        return Run(now, decisions, digests(decisions, now, self._book, rules.calendar.version))

    async def once(self) -> ScanTaken:
        """Take the due steps of every due period (up to one batch)."""
        now = self._clock.now()
        token, claimed = await self._store.claim_due(now, self.limits.batch_size, self.limits.lease)
        if not claimed:
            return ScanTaken(0)
        try:
            run = await self.plan(claimed, now)
            await self.write(run, token)
        except Exception as exc:
            await self._store.release(token, [p["_id"] for p in claimed], now)
            if not isinstance(exc, ClaimLost):
                raise
            log.info("scan batch changed under its claim; released for a rescan", periods=len(claimed), error=repr(exc))
            return ScanTaken(0)
        if run.emails:
            self._mailer.wake()
        taken = ScanTaken(
            claimed=len(claimed),
            queued=tuple(n.occurrence.step.name for d in run.decisions for n in d.sends),
            muted=tuple(m.notice.occurrence.step.name for d in run.decisions for m in d.muted),
            emails=len(run.emails),
        )
        log.info(
            "scan taken",
            periods=len(claimed),
            notices=len(taken.queued),
            suppressed=len(taken.muted),
            emails=len(run.emails),
        )
        return taken

    async def write(self, run: Run, token: str) -> None:
        """Store what `run` decided on the periods claimed under `token`, with its events, in one unit of work.
        Raises ClaimLost if any of them changed since the claim (nothing is written then)."""
        version = self.rules.calendar.version

        async def work(tx: Transaction) -> None:
            for decision in run.decisions:
                await self._store.settle_period(decision.period, token, settled(decision, run.now), tx.session)
                tx.publish(*escalation_events(decision, run.now, version))
            await self._store.add_notices(notice_rows(run, version), run.now, tx.session)
            for decision in run.decisions:
                for mute in decision.muted:
                    await self._store.record_muted(
                        mute.notice.key, mute.silence.id, first_muted(mute, run.now), run.now, tx.session
                    )
            await self._store.queue_emails(run.emails, tx.session)

        await self._uow.run(work)


def settled(decision: PeriodDecision, now: datetime) -> dict[str, Any]:
    """The period's fields after the decision: its next check, its handled occurrences, no claim."""
    update: dict[str, Any] = {"next_check_at": decision.next_check_at, "claimed_by": None, "checked_at": now}
    if decision.done:
        update["done"] = [*(decision.period.get("done") or []), *decision.done]
    return update


def notice_rows(run: Run, calendar_version: str) -> list[NoticeRow]:
    email_of = {key: email["_id"] for email in run.emails for key in email["notice_keys"]}
    return [
        _notice_row(decision.period, notice, email_of[notice.key], run.now, calendar_version)
        for decision in run.decisions
        for notice in decision.sends
    ]


def _notice_row(period: Mapping[str, Any], notice: Notice, email_id: str, now: datetime, version: str) -> NoticeRow:
    step = notice.occurrence.step
    return NoticeRow(
        _id=notice.key,
        period_id=period["_id"],
        rev=period.get("rev", 0),
        occurrence=notice.occurrence.key,
        step=step.name,
        level=step.level,
        address=notice.recipient.address,
        role=notice.recipient.role,
        copy=notice.recipient.copy,
        email_id=email_id,
        queued_at=now,
        calendar_version=version,
    )


def first_muted(mute: Muted, now: datetime) -> dict[str, Any]:
    """What a suppression record says the first time a notice is muted."""
    step = mute.notice.occurrence.step
    return {
        "period_id": mute.notice.key.split("|", 1)[0],
        "address": mute.notice.recipient.address,
        "step": step.name,
        "level": step.level,
        "first_muted_at": now,
        "released_at": None,
    }


def digests(decisions: list[PeriodDecision], now: datetime, book: Addressbook, version: str) -> list[EmailRow]:
    """One digest e-mail per recipient, listing every notice of this run addressed to it."""
    inbox: dict[str, list[Notice]] = defaultdict(list)
    periods = {d.period["_id"]: d.period for d in decisions}
    contacts = {d.period["_id"]: book.contact(d.period) for d in decisions}
    names: dict[str, str] = {}
    for decision in decisions:
        for notice in decision.sends:
            inbox[notice.recipient.address].append(notice)
            names[notice.recipient.address] = notice.recipient.name
    emails = []
    for address, notices in sorted(inbox.items()):
        marker = uuid.uuid4().hex  # random: nothing a plan or a directory says can be taken for a link's place
        digest = messages.render_digest(names[address], messages.items_for(notices, periods, contacts, now), marker)
        keys = sorted(n.key for n in notices)
        emails.append(
            EmailRow(
                _id=stable_id(*keys),
                to=address,
                to_name=names[address],
                subject=digest.subject,
                text=digest.text,
                html=digest.html,
                notice_keys=keys,
                period_ids=sorted({k.split("|", 1)[0] for k in keys}),
                status=PENDING,
                attempts=0,
                created_at=now,
                next_attempt_at=now,
                calendar_version=version,
                links=[link.to_row() for link in digest.links],
                link_marker=marker,
            )
        )
    return emails


def redigest(row: EmailRow, kept: list[str], periods: Mapping[str, Mapping[str, Any]], book: Addressbook) -> EmailRow:
    """A queued digest written again with only the notices `kept` (the others no longer apply: rules/outbox.py),
    as of when it was queued. The row as it was when a notice cannot be placed any more (its period, step or
    recipient gone): better the digest as queued than none."""
    at = as_utc(row["created_at"])
    notices = []
    for key in kept:
        period_id, _, occurrence, address = key.split("|", 3)
        period = periods.get(period_id)
        name, _, number = occurrence.rpartition("#")
        step = next((s for s in from_snapshot(period.get("steps") or []) if s.name == name), None) if period else None
        if period is None or step is None or not number.isdigit():
            return row
        recipient = next((r for r in book.recipients_for(period)(step) if r.address == address), None)
        if recipient is None:
            return row
        notices.append(Notice(key, Occurrence(step, int(number), at, at), recipient))
    involved = {key.split("|", 1)[0]: periods[key.split("|", 1)[0]] for key in kept}
    contacts = {period_id: book.contact(period) for period_id, period in involved.items()}
    marker = uuid.uuid4().hex
    digest = messages.render_digest(row["to_name"], messages.items_for(notices, involved, contacts, at), marker)
    links = [link.to_row() for link in digest.links]
    return {
        **row,
        "subject": digest.subject,
        "text": digest.text,
        "html": digest.html,
        "links": links,
        "link_marker": marker,
    }


def escalation_events(decision: PeriodDecision, now: datetime, calendar_version: str) -> list[EscalationSent]:
    """One `escalation.sent` per step occurrence taken for the period, naming all its recipients."""
    period = decision.period
    by_occurrence: dict[str, list[Notice]] = defaultdict(list)
    for notice in decision.sends:
        by_occurrence[notice.occurrence.key].append(notice)
    due_at = as_utc(period["due_at"]) if period.get("due_at") else None
    events = []
    for key, notices in by_occurrence.items():
        step, number = notices[0].occurrence.step, notices[0].occurrence.number
        recipients = sorted(n.recipient.address for n in notices)
        events.append(
            EscalationSent(
                event_id=stable_id(period["_id"], str(period.get("rev", 0)), key, *recipients),
                correlation_id=period["plan_id"],
                agency=AgencyRef.model_validate(period["agency"]),
                occurred_at=now,
                assignment_id=period["assignment_id"],
                plan_id=period["plan_id"],
                period=period.get("period"),
                step=step.name,
                recipients=recipients,
                overdue_by_seconds=max(0, int((now - due_at).total_seconds())) if due_at else 0,
                level=step.level,
                track=period["track"],
                occurrence=number,
                due_at=due_at,
                calendar_version=calendar_version,
                ladder_version=period.get("ladder_version", ""),
            )
        )
    return events
