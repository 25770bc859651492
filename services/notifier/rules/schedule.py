"""When each ladder step of a period falls, and the sending window that decides when it actually goes out.

Pure functions of (steps, anchors, calendar, window): the schedule is recomputed whenever it is needed,
so nothing but the period's anchors, its ladder snapshot and the set of occurrences already handled is
stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from shared.contracts.ladder import Offset, Step
from shared.domain.calendar import WorkingCalendar
from shared.domain.clock import VIETNAM, as_utc

_WINDOW = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


class WindowError(ValueError):
    """A sending window is 'always' or 'HH:MM-HH:MM' (Vietnam time, start before end)."""


@dataclass(frozen=True)
class SendingWindow:
    """Working days between `start` and `end` local time; `start is None` means always open."""

    calendar: WorkingCalendar
    start: time | None = time(7, 30)
    end: time | None = time(17, 0)

    @classmethod
    def parse(cls, text: str, calendar: WorkingCalendar) -> SendingWindow:
        if text.strip().lower() in ("always", "off", "none", "24/7"):
            return cls(calendar, None, None)
        match = _WINDOW.match(text.strip())
        if match is None:
            raise WindowError(f"sending window {text!r} is not 'always' or 'HH:MM-HH:MM'")
        start, end = time(int(match[1]), int(match[2])), time(int(match[3]), int(match[4]))
        if start >= end:
            raise WindowError(f"sending window {text!r}: the start must be before the end")
        return cls(calendar, start, end)

    @property
    def always(self) -> bool:
        return self.start is None or self.end is None

    def contains(self, instant: datetime) -> bool:
        if self.start is None or self.end is None:
            return True
        local = as_utc(instant).astimezone(VIETNAM)
        return self.calendar.is_working_day(local.date()) and self.start <= local.time() < self.end

    def _opening(self, day: date) -> datetime:
        return as_utc(datetime.combine(day, self.start or time(0), tzinfo=VIETNAM))

    def next_open(self, instant: datetime) -> datetime:
        """`instant` if the window is open then, else the start of the next window."""
        if self.contains(instant) or self.start is None:
            return as_utc(instant)
        local = as_utc(instant).astimezone(VIETNAM)
        day = local.date()
        if not (self.calendar.is_working_day(day) and local.time() < self.start):
            day = self.calendar.next_working_day(day)
        return self._opening(day)

    def last_open_before(self, instant: datetime) -> datetime:
        """`instant` if the window is open then, else the start of the latest window opening before it:
        a reminder is brought forward, never sent after the moment it announces."""
        if self.contains(instant) or self.start is None:
            return as_utc(instant)
        local = as_utc(instant).astimezone(VIETNAM)
        day = local.date()
        if not (self.calendar.is_working_day(day) and local.time() >= self.start):
            day = self.calendar.add_working_days(day, -1)
        return self._opening(day)


@dataclass(frozen=True)
class Occurrence:
    """One sending of one step: the step's `number`-th time (1 = first, 2.. = repeats)."""

    step: Step
    number: int
    at: datetime  # the moment the rule names
    send_at: datetime  # the moment it goes out, inside the sending window

    @property
    def key(self) -> str:
        return f"{self.step.name}#{self.number}"


def schedule(steps: list[Step], anchor: datetime, calendar: WorkingCalendar, window: SendingWindow) -> list[Occurrence]:
    """Every occurrence of `steps` from `anchor` (the assignment or the deadline), in sending order."""
    found: list[Occurrence] = []
    for step in steps:
        first = step.offset.apply(anchor, calendar)
        moments = [first]
        if step.repeat is not None:
            every = Offset.parse(step.repeat.every)
            moments += [every.apply(first, calendar, times=n) for n in range(1, step.repeat.times + 1)]
        for number, moment in enumerate(moments, start=1):
            send_at = window.last_open_before(moment) if step.before_deadline else window.next_open(moment)
            found.append(Occurrence(step, number, moment, send_at))
    return sorted(found, key=lambda o: (o.send_at, o.step.level, o.key))


def skipped_at_open(occurrences: list[Occurrence], opened_at: datetime) -> list[str]:
    """Occurrences that make no sense for a period opened at `opened_at`: reminders and acknowledgement
    chasers whose moment had already passed (a reminder "one week ahead" of a deadline that is seconds
    away). Steps after a deadline are kept: a plan registered late is still overdue."""
    opened = as_utc(opened_at)
    return [o.key for o in occurrences if o.send_at < opened and (o.step.before_deadline or o.step.track != "report")]


def ceil_ms(instant: datetime) -> datetime:
    """Rounded up to the millisecond: MongoDB keeps milliseconds, and a check stored a hair before its
    moment would find nothing due and be taken again at once."""
    extra = instant.microsecond % 1000
    return instant + timedelta(microseconds=1000 - extra) if extra else instant


def next_check(pending: list[datetime], now: datetime) -> datetime | None:
    """The earliest moment still ahead of `now` among `pending` ones (or None: the ladder is done)."""
    ahead = [as_utc(moment) for moment in pending if as_utc(moment) > now]
    return ceil_ms(min(ahead)) if ahead else None


def days_between(later: datetime, earlier: datetime) -> int:
    """Whole calendar days from `earlier` to `later` (0 when not later)."""
    return max(0, (as_utc(later) - as_utc(earlier)) // timedelta(days=1))
