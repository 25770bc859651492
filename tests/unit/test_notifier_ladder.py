"""The ladder as data and its schedule: every default step at its moment, repeats and their cap, the
sending window, and deadlines across Tết and 2 September (pure functions, no I/O)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from services.notifier.config import DEFAULT_LADDER
from services.notifier.rules.schedule import SendingWindow, schedule, skipped_at_open
from shared.contracts.ladder import Ladder, LadderError, Offset
from shared.domain.calendar import DEFAULT_OVERRIDES, end_of_day, load_calendar
from shared.domain.clock import VIETNAM

CALENDAR = load_calendar(DEFAULT_OVERRIDES)
LADDER = Ladder.load(DEFAULT_LADDER)
WINDOW = SendingWindow(CALENDAR)
ALWAYS = SendingWindow.parse("always", CALENDAR)


def vn(year: int, month: int, day: int, hour: int = 7, minute: int = 30) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VIETNAM).astimezone(UTC)


def sending_times(anchor: datetime, window: SendingWindow = WINDOW, track: str = "report") -> dict[str, datetime]:
    return {o.key: o.send_at for o in schedule(LADDER.track(track), anchor, CALENDAR, window)}  # type: ignore[arg-type]


def test_the_default_ladder_is_the_one_in_the_domain_notes() -> None:
    steps = {s.name: s for s in LADDER.steps}
    assert [s.name for s in LADDER.track("acknowledgement")] == ["assignment-notice", "ack-reminder", "ack-escalation"]
    assert (steps["assignment-notice"].at, steps["assignment-notice"].ask) == ("0", "notice")
    assert [s.name for s in LADDER.track("report")] == ["reminder-7d", "reminder-1d", "overdue", "level-1", "level-2"]
    assert (steps["ack-reminder"].at, steps["ack-reminder"].to) == ("+2wd", ("agency",))
    assert (steps["ack-escalation"].at, steps["ack-escalation"].to) == ("+4wd", ("supervisor",))
    assert (steps["overdue"].to, steps["overdue"].cc) == (("agency",), ("supervisor",))
    assert (steps["level-1"].at, steps["level-1"].to, steps["level-1"].level) == ("+3wd", ("supervisor",), 1)
    assert (steps["level-2"].at, steps["level-2"].to, steps["level-2"].level) == ("+7wd", ("upper_supervisor",), 2)
    assert steps["level-2"].repeat is not None and steps["level-2"].repeat.times == 4
    assert len(LADDER.version) == 12


def test_offsets_read_like_the_issue() -> None:
    assert Offset.parse("-7d") == Offset(-7, "d") and Offset.parse("+3wd") == Offset(3, "wd")
    assert Offset.parse("0") == Offset(0, "d") and str(Offset.parse("+4h")) == "+4h"
    with pytest.raises(ValueError):
        Offset.parse("3 weeks")


def test_a_bad_ladder_is_refused_with_its_file_name(tmp_path) -> None:
    path = tmp_path / "ladder.yaml"
    path.write_text("report:\n  - {name: x, at: soon, to: [agency], level: 0, ask: report}\n")
    with pytest.raises(LadderError, match="ladder.yaml"):
        Ladder.load(path)
    path.write_text("report:\n  - {name: x, at: '0', to: [boss], level: 0, ask: report}\n")
    with pytest.raises(LadderError):
        Ladder.load(path)


def test_every_report_step_in_an_ordinary_summer() -> None:
    # Due before 1 July 2026: the last moment is Tuesday 30 June 23:59:59 in Vietnam.
    times = sending_times(end_of_day(date(2026, 6, 30)))
    assert times["reminder-7d#1"] == vn(2026, 6, 23)  # brought forward into the day's window, never later
    assert times["reminder-1d#1"] == vn(2026, 6, 29)
    assert times["overdue#1"] == vn(2026, 7, 1)  # the deadline passes at midnight: the next window opens 07:30
    assert times["level-1#1"] == vn(2026, 7, 6)  # 3 working days after: end of Fri 3 July → Monday morning
    assert times["level-2#1"] == vn(2026, 7, 10)  # 7 working days: end of Thu 9 July → Friday morning
    # Weekly repeats while overdue, capped at 4 more.
    assert [times[f"level-2#{n}"] for n in range(2, 6)] == [
        vn(2026, 7, 17),
        vn(2026, 7, 24),
        vn(2026, 7, 31),
        vn(2026, 8, 7),
    ]
    assert "level-2#6" not in times


def test_without_a_window_steps_go_at_their_exact_moment() -> None:
    deadline = end_of_day(date(2026, 6, 30))
    times = sending_times(deadline, ALWAYS)
    assert times["overdue#1"] == deadline
    assert times["reminder-1d#1"] == vn(2026, 6, 29, 23, 59) + (deadline - vn(2026, 6, 30, 23, 59))


@pytest.mark.parametrize(
    ("due", "overdue", "level_1"),
    [
        # Due Wed 7 Feb 2024; Tết 8-14 Feb; working again Thu 15 Feb.
        (date(2024, 2, 7), vn(2024, 2, 15), vn(2024, 2, 20)),  # +3wd: 15, 16, 19 Feb → Tue 20 morning
        # Due Fri 24 Jan 2025; Tết 27 Jan - 1 Feb (and the weekends round it).
        (date(2025, 1, 24), vn(2025, 2, 3), vn(2025, 2, 6)),  # +3wd: 3, 4, 5 Feb → Thu 6 morning
        # Due Fri 13 Feb 2026; Tết 16-20 Feb.
        (date(2026, 2, 13), vn(2026, 2, 23), vn(2026, 2, 26)),  # +3wd: 23, 24, 25 Feb → Thu 26 morning
        # Due Fri 29 Aug 2025; National Day 1-2 September.
        (date(2025, 8, 29), vn(2025, 9, 3), vn(2025, 9, 8)),  # +3wd: 3, 4, 5 Sep → Mon 8 morning
        # Due Fri 3 May 2024; Saturday 4 May 2024 is a swapped working day.
        (date(2024, 5, 3), vn(2024, 5, 4), vn(2024, 5, 8)),  # +3wd: Sat 4, Mon 6, Tue 7 → Wed 8 morning
    ],
)
def test_deadlines_across_holidays_and_swapped_days(due: date, overdue: datetime, level_1: datetime) -> None:
    times = sending_times(end_of_day(due))
    assert times["overdue#1"] == overdue
    assert times["level-1#1"] == level_1


def test_a_reminder_before_a_holiday_is_brought_forward_to_the_last_working_day() -> None:
    # Due Thursday 15 Feb 2024 (first day after Tết): "one day before" is Wed 14 Feb, in Tết → Wed 7 Feb.
    times = sending_times(end_of_day(date(2024, 2, 15)))
    assert times["reminder-1d#1"] == vn(2024, 2, 7)


def test_acknowledgement_steps_count_working_days_from_the_assignment() -> None:
    assigned = vn(2026, 2, 12, 10, 0)  # Thursday before Tết 2026
    times = sending_times(assigned, track="acknowledgement")
    assert times["ack-reminder#1"] == vn(2026, 2, 23, 10, 0)  # Fri 13, then Mon 23 (Tết and weekends skipped)
    assert times["ack-escalation#1"] == vn(2026, 2, 25, 10, 0)


def test_reminders_already_past_when_the_period_opens_are_skipped_but_overdue_steps_are_not() -> None:
    now = vn(2026, 6, 30, 9, 0)
    deadline = now.replace(second=8)  # eight seconds away
    occurrences = schedule(LADDER.track("report"), deadline, CALENDAR, ALWAYS)
    assert skipped_at_open(occurrences, now) == ["reminder-7d#1", "reminder-1d#1"]
    late = schedule(LADDER.track("report"), vn(2026, 6, 1), CALENDAR, ALWAYS)  # opened a month after its deadline
    assert skipped_at_open(late, now) == ["reminder-7d#1", "reminder-1d#1"]  # overdue, level 1 and 2 stay


@pytest.mark.parametrize(
    ("instant", "opens"),
    [
        (vn(2026, 7, 1, 7, 29), vn(2026, 7, 1, 7, 30)),  # before opening
        (vn(2026, 7, 1, 7, 30), vn(2026, 7, 1, 7, 30)),  # open
        (vn(2026, 7, 1, 16, 59), vn(2026, 7, 1, 16, 59)),
        (vn(2026, 7, 1, 17, 0), vn(2026, 7, 2, 7, 30)),  # closed at 17:00
        (vn(2026, 7, 3, 18, 0), vn(2026, 7, 6, 7, 30)),  # Friday evening → Monday
        (vn(2026, 2, 13, 17, 30), vn(2026, 2, 23, 7, 30)),  # the eve of Tết 2026 → after Tết
        (vn(2024, 5, 3, 20, 0), vn(2024, 5, 4, 7, 30)),  # the swapped Saturday is a sending day
    ],
)
def test_the_sending_window(instant: datetime, opens: datetime) -> None:
    assert WINDOW.next_open(instant) == opens
    assert WINDOW.contains(instant) == (instant == opens)


def test_the_window_is_configurable() -> None:
    window = SendingWindow.parse("08:00-11:30", CALENDAR)
    assert (window.start, window.end) == (time(8, 0), time(11, 30))
    assert ALWAYS.always and ALWAYS.contains(vn(2026, 2, 17, 3, 0))
    for bad in ("17:00-07:30", "morning"):
        with pytest.raises(ValueError):
            SendingWindow.parse(bad, CALENDAR)
