"""The Vietnamese working-day calendar every service counts working days with.

A day is a working day unless it is a weekend day or a public holiday — the `holidays` package's Vietnam
list (lunar Tết included, plus the swaps it already knows) — with an override table on top for what the
Government decides each year and no library knows in advance (extra days off, working Saturdays).

Small API, on purpose (the document parser uses it too):

    calendar = load_calendar(Path("deploy/local/calendar-overrides.yaml"))   # or WorkingCalendar()
    calendar.is_working_day(date)              # bool
    calendar.next_working_day(date)            # first working day strictly after
    calendar.add_working_days(date, n)         # n working days later (n < 0: earlier); the start is not counted
    calendar.duration_end(date, n, working_days=True|False)   # Civil Code arts. 147-148: the last day
    end_of_day(date)                           # 24:00 of that day in Vietnam, as a UTC instant
    calendar.version                           # "holidays-0.108+overrides-1a2b3c4d5e6f": record it with decisions

Which override table a deployment uses is one shared setting, `CALENDAR_OVERRIDES_PATH` (`shared/platform/settings.py`),
so intake (deadlines counted in working days) and the notifier (the sending window) agree on every day. A
service's composition root loads it and hands it to `use_deployment_calendar`; code that was given no calendar
asks `deployment_calendar()`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import holidays
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.domain.clock import VIETNAM

DEFAULT_OVERRIDES = Path(__file__).resolve().parents[2] / "deploy" / "local" / "calendar-overrides.yaml"


class CalendarError(ValueError):
    """The override table cannot be used as it is; the message says which file and what is wrong."""


class Override(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    date: date
    working: bool = Field(description="true: a working day (a swapped Saturday); false: a day off")
    reason: str = ""


class OverrideFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overrides: list[Override] = []


LAST_MILLISECOND = time(23, 59, 59, 999_000)


def end_of_day(day: date) -> datetime:
    """The last instant of `day` in Vietnam ("24:00"), in UTC — the same convention as every due_at. To the
    millisecond (23:59:59.999), the precision every instant is written and stored with
    (`shared.contracts.events.format_instant`)."""
    return datetime.combine(day, LAST_MILLISECOND, tzinfo=VIETNAM).astimezone(UTC)


def local_date(instant: datetime) -> date:
    """The calendar date of an instant in Vietnam."""
    return instant.astimezone(VIETNAM).date()


class WorkingCalendar:
    """Weekends and the package's Vietnamese holidays, corrected by the override table."""

    name = "vn-holidays"

    def __init__(self, overrides: Mapping[date, bool] | None = None, source: bytes = b"") -> None:
        self._overrides = dict(overrides or {})
        self._holidays = holidays.country_holidays("VN")
        digest = hashlib.sha256(source or repr(sorted(self._overrides.items())).encode()).hexdigest()[:12]
        self.version = f"holidays-{holidays.__version__}+overrides-{digest}"

    def is_working_day(self, day: date) -> bool:
        if day in self._overrides:
            return self._overrides[day]
        # The package knows weekends, holidays and the swapped working Saturdays it has been told about.
        return bool(self._holidays.is_working_day(day))

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`."""
        return self.add_working_days(day, 1)

    def add_working_days(self, day: date, count: int) -> date:
        """The day `count` working days after `day` (before it when negative); `day` itself is not counted.
        With `count == 0`, `day` itself."""
        step = timedelta(days=1 if count >= 0 else -1)
        left = abs(count)
        while left:
            day += step
            if self.is_working_day(day):
                left -= 1
        return day

    def duration_end(self, start: date, days: int, working_days: bool) -> date:
        """The last day of a period of `days` (working) days from `start` (Civil Code arts. 147-148): the
        starting day is not counted, and a last day that is not a working day moves to the next working
        day. The period ends at `end_of_day()` of the day returned."""
        if days < 0:
            raise ValueError("a duration is not negative")
        if working_days:
            return self.add_working_days(start, days)
        last = start + timedelta(days=days)
        return last if self.is_working_day(last) else self.next_working_day(last)


def load_calendar(path: Path | None = DEFAULT_OVERRIDES) -> WorkingCalendar:
    """The calendar with the override table at `path` (None: no overrides)."""
    if path is None:
        return WorkingCalendar()
    try:
        source = path.read_bytes()
        parsed = OverrideFile.model_validate(yaml.safe_load(source) or {})
    except OSError as exc:
        raise CalendarError(f"cannot read the calendar override table {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise CalendarError(f"the calendar override table {path} is not valid YAML: {exc}") from exc
    except ValidationError as exc:
        raise CalendarError(f"the calendar override table {path} is invalid: {exc}") from exc
    days = [o.date for o in parsed.overrides]
    if len(days) != len(set(days)):
        raise CalendarError(f"the calendar override table {path} lists a date twice")
    return WorkingCalendar({o.date: o.working for o in parsed.overrides}, source=source)


_deployment: list[WorkingCalendar] = []  # the one set by the composition root: one deployment per process


def use_deployment_calendar(calendar: WorkingCalendar) -> WorkingCalendar:
    """Make `calendar` (loaded from the deployment's CALENDAR_OVERRIDES_PATH) the one `deployment_calendar()`
    gives; returns it."""
    _deployment[:] = [calendar]
    return calendar


def deployment_calendar() -> WorkingCalendar:
    """The deployment's calendar; the bundled override table until a composition root set one."""
    if not _deployment:
        _deployment.append(load_calendar())
    return _deployment[0]
