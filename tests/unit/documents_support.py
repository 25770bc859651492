"""Shared helpers for the document tests: the sample directory, the real plan's path, a fixed calendar."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from shared.domain.calendar import WorkingCalendar
from shared.domain.directory import Directory

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "plans"
REAL_PLAN = ROOT / ".." / "shared" / "plans" / "ward-party-committee-plan-85.txt"
TODAY = date(2026, 1, 15)


def directory() -> Directory:
    return Directory.load(ROOT / "deploy" / "local" / "directory.yaml")


class WeekdaysOnly(WorkingCalendar):
    """A calendar with weekends and the listed holidays off, so tests do not depend on a library's data."""

    def __init__(self, holidays: set[date] | None = None) -> None:
        super().__init__()
        self.holidays = holidays or set()
        self.version = "test-weekdays"

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays
