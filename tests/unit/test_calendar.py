"""The Vietnamese working-day calendar: Tết, 2 September, swapped Saturdays, the override table, and the
Civil Code rule for durations."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from shared.domain.calendar import DEFAULT_OVERRIDES, CalendarError, WorkingCalendar, end_of_day, load_calendar


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return load_calendar(DEFAULT_OVERRIDES)


@pytest.mark.parametrize(
    ("last_before", "first_after", "off"),
    [
        (date(2024, 2, 7), date(2024, 2, 15), [date(2024, 2, d) for d in range(8, 15)]),  # Tết Giáp Thìn
        (date(2025, 1, 24), date(2025, 2, 3), [date(2025, 1, d) for d in range(27, 32)]),  # Tết Ất Tỵ
        (date(2026, 2, 13), date(2026, 2, 23), [date(2026, 2, d) for d in range(16, 21)]),  # Tết Bính Ngọ
        (date(2024, 8, 30), date(2024, 9, 4), [date(2024, 9, 2), date(2024, 9, 3)]),  # 2/9/2024
        (date(2025, 8, 29), date(2025, 9, 3), [date(2025, 9, 1), date(2025, 9, 2)]),  # 2/9/2025
    ],
)
def test_holidays_are_not_working_days(calendar, last_before: date, first_after: date, off: list[date]) -> None:
    assert calendar.is_working_day(last_before) and calendar.is_working_day(first_after)
    assert not any(calendar.is_working_day(day) for day in off)
    assert calendar.next_working_day(last_before) == first_after
    assert calendar.add_working_days(first_after, -1) == last_before


def test_weekends_are_off_and_a_swapped_saturday_is_a_working_day(calendar) -> None:
    assert not calendar.is_working_day(date(2024, 5, 11))  # an ordinary Saturday
    assert calendar.is_working_day(date(2024, 5, 4))  # worked to pay back Monday 29 April 2024
    assert not calendar.is_working_day(date(2024, 4, 29))
    # Friday 3 May 2024 + 1 working day is that Saturday, not Monday.
    assert calendar.next_working_day(date(2024, 5, 3)) == date(2024, 5, 4)
    assert calendar.add_working_days(date(2024, 4, 26), 1) == date(2024, 5, 2)  # 29/4-1/5 off


def test_the_override_table_wins_over_the_package(tmp_path: Path) -> None:
    table = tmp_path / "overrides.yaml"
    table.write_text(
        "overrides:\n"
        "  - {date: 2027-02-13, working: true, reason: thứ Bảy làm bù}\n"
        "  - {date: 2027-02-15, working: false, reason: nghỉ bù}\n",
        encoding="utf-8",
    )
    swapped = load_calendar(table)
    plain = WorkingCalendar()
    assert swapped.is_working_day(date(2027, 2, 13)) and not plain.is_working_day(date(2027, 2, 13))
    assert not swapped.is_working_day(date(2027, 2, 15)) and plain.is_working_day(date(2027, 2, 15))
    assert swapped.version != plain.version and swapped.version.startswith("holidays-")
    assert load_calendar(table).version == swapped.version  # the version names the table's content


def test_a_bad_override_table_says_what_is_wrong(tmp_path: Path) -> None:
    table = tmp_path / "overrides.yaml"
    table.write_text("overrides:\n  - {date: 2027-02-13, working: true}\n  - {date: 2027-02-13, working: false}\n")
    with pytest.raises(CalendarError, match="twice"):
        load_calendar(table)
    table.write_text("overrides: [{date: not-a-date, working: true}]\n")
    with pytest.raises(CalendarError, match="invalid"):
        load_calendar(table)
    with pytest.raises(CalendarError, match="cannot read"):
        load_calendar(tmp_path / "missing.yaml")


def test_durations_follow_the_civil_code(calendar) -> None:
    # 5 days from Monday 5 Feb 2024: the start is not counted, the last day (Sat 10 Feb, Tết) is not a
    # working day, so the period ends with the next working day, Thursday 15 Feb.
    assert calendar.duration_end(date(2024, 2, 5), 5, working_days=False) == date(2024, 2, 15)
    # 5 working days from the same Monday: 6, 7, 15, 16, 19 February.
    assert calendar.duration_end(date(2024, 2, 5), 5, working_days=True) == date(2024, 2, 19)
    # An ordinary case: 10 days from Wednesday 1 July 2026 end on Saturday 11 July → Monday 13 July.
    assert calendar.duration_end(date(2026, 7, 1), 10, working_days=False) == date(2026, 7, 13)
    assert calendar.duration_end(date(2026, 7, 1), 3, working_days=False) == date(2026, 7, 6)
    with pytest.raises(ValueError):
        calendar.duration_end(date(2026, 7, 1), -1, working_days=False)


def test_a_day_ends_at_midnight_vietnam_time() -> None:
    assert end_of_day(date(2026, 6, 30)) == datetime(2026, 6, 30, 16, 59, 59, 999000, tzinfo=UTC)
