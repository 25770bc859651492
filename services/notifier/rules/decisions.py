"""What to do with one period at one moment: which notices go to whom, which are muted, which are done,
and when to look again. Pure: the scanner writes what this decides, the preview only shows it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.notifier.rules.ladder import from_snapshot, snapshot
from services.notifier.rules.schedule import Occurrence, SendingWindow, ceil_ms, next_check, schedule, skipped_at_open
from shared.contracts.ladder import Ladder, Role, Step
from shared.domain.calendar import WorkingCalendar
from shared.domain.clock import as_utc


@dataclass(frozen=True)
class Rules:
    """What decisions are made with: the deployment's ladder (for new periods whose plan has none of its
    own, and what an operator re-applies), the calendar, the window."""

    ladder: Ladder
    calendar: WorkingCalendar
    window: SendingWindow


@dataclass(frozen=True)
class Recipient:
    address: str
    name: str  # the display name of the agency that owns the address
    agency_code: str
    role: Role  # its relation to the agency the notice is about
    copy: bool  # in `cc` of the step: informed, asked to follow up


@dataclass(frozen=True)
class Silence:
    """An operator's mute: every field given must match (plan, agency, ladder level)."""

    id: str
    starts_at: datetime
    ends_at: datetime
    plan_id: str | None = None
    agency: str | None = None  # matches the agency a notice is about, or the one receiving it
    level: int | None = None

    def mutes(self, period: Mapping[str, Any], step: Step, recipient: Recipient, now: datetime) -> bool:
        if not (as_utc(self.starts_at) <= now < as_utc(self.ends_at)):
            return False
        if self.plan_id is not None and self.plan_id != period["plan_id"]:
            return False
        if self.agency is not None and self.agency not in (period["agency"]["code"], recipient.agency_code):
            return False
        return self.level is None or self.level == step.level


@dataclass(frozen=True)
class Notice:
    """One (period, step occurrence, recipient): the unit that is sent exactly once."""

    key: str
    occurrence: Occurrence
    recipient: Recipient


@dataclass(frozen=True)
class Muted:
    notice: Notice
    silence: Silence


@dataclass
class PeriodDecision:
    period: Mapping[str, Any]
    sends: list[Notice] = field(default_factory=list)
    muted: list[Muted] = field(default_factory=list)
    done: list[str] = field(default_factory=list)  # occurrence keys handled for good by this decision
    next_check_at: datetime | None = None
    outside_window: bool = False


def notice_key(period_id: str, revision: int, occurrence_key: str, address: str) -> str:
    return f"{period_id}|r{revision}|{occurrence_key}|{address}"


def stable_id(*parts: str) -> str:
    """A deterministic identifier (e-mail rows, Message-IDs, event ids) from the notices it stands for."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def anchor_of(period: Mapping[str, Any]) -> datetime:
    return as_utc(period["due_at"] if period["track"] == "report" else period["assigned_at"])


def occurrences(period: Mapping[str, Any], calendar: WorkingCalendar, window: SendingWindow) -> list[Occurrence]:
    return schedule(from_snapshot(period["steps"]), anchor_of(period), calendar, window)


def decide(
    period: Mapping[str, Any],
    now: datetime,
    calendar: WorkingCalendar,
    window: SendingWindow,
    recipients_of: Callable[[Step], list[Recipient]],
    already_sent: set[str],
    silences: list[Silence],
) -> PeriodDecision:
    decision = PeriodDecision(period)
    done = set(period.get("done") or [])
    pending = [o for o in occurrences(period, calendar, window) if o.key not in done]
    due = [o for o in pending if o.send_at <= now]
    if due and not window.contains(now):
        # Due, but outside working hours (a late scan, or the window changed): wait for the next window.
        decision.outside_window = True
        decision.next_check_at = ceil_ms(window.next_open(now))
        return decision
    latest_repeat = {o.step.name: o.number for o in due}
    waits: list[datetime] = []
    for occurrence in due:
        step = occurrence.step
        stale = step.before_deadline and now >= anchor_of(period)
        if stale or occurrence.number < latest_repeat[step.name]:
            decision.done.append(occurrence.key)  # a reminder after the deadline, or a repeat overtaken
            continue
        complete = True
        for recipient in recipients_of(step):
            key = notice_key(period["_id"], period.get("rev", 0), occurrence.key, recipient.address)
            if key in already_sent:
                continue
            notice = Notice(key, occurrence, recipient)
            silence = next((s for s in silences if s.mutes(period, step, recipient, now)), None)
            if silence is not None:
                decision.muted.append(Muted(notice, silence))
                waits.append(window.next_open(as_utc(silence.ends_at)))
                complete = False
            else:
                decision.sends.append(notice)
        if complete:
            decision.done.append(occurrence.key)
    ahead = [o.send_at for o in pending if o.send_at > now]
    decision.next_check_at = next_check([*ahead, *waits], now)
    return decision


def opening_state(
    period: Mapping[str, Any], opened_at: datetime, calendar: WorkingCalendar, window: SendingWindow
) -> tuple[list[str], datetime | None]:
    """For a period being opened (or re-based on a new deadline): the occurrences skipped from the
    start, and the first check."""
    occ = occurrences(period, calendar, window)
    skipped = skipped_at_open(occ, opened_at)
    remaining = [o.send_at for o in occ if o.key not in skipped]
    return skipped, (ceil_ms(min(remaining)) if remaining else None)


def reapplied_state(
    period: Mapping[str, Any], steps: list[Step], now: datetime, calendar: WorkingCalendar, window: SendingWindow
) -> tuple[list[str], datetime | None]:
    """For an open period an operator gives new ladder `steps` at `now`: the occurrences handled for good,
    and the next check.

    What was handled stays handled, and the period keeps its revision, so a step already sent (same name,
    same occurrence) is never sent again to the same recipient. Of the new occurrences, those that make no
    sense for when the period opened are skipped as at opening, and so are reminders whose moment passed
    before the change (a "7 days ahead" reminder is not sent 3 days ahead because the policy changed),
    unless the old ladder already owed them. Escalations the new ladder makes due go out at the next scan.
    """
    done = list(period.get("done") or [])
    handled = set(done)
    owed = {o.key for o in occurrences(period, calendar, window) if o.key not in handled and o.send_at <= now}
    new = occurrences({**period, "steps": snapshot(steps)}, calendar, window)
    skipped = set(skipped_at_open(new, as_utc(period.get("opened_at") or period["assigned_at"])))
    skipped |= {o.key for o in new if o.step.before_deadline and o.send_at < now and o.key not in owed}
    done += [o.key for o in new if o.key in skipped and o.key not in handled]
    remaining = [o.send_at for o in new if o.key not in handled and o.key not in skipped]
    return done, (ceil_ms(min(remaining)) if remaining else None)
