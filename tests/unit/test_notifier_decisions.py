"""The ladder walked on a fake clock: who gets which notice when, repeats and their cap, reminders that no
longer make sense, silences holding notices back and releasing them, and the sending window."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.notifier import domain
from services.notifier.config import DEFAULT_LADDER
from services.notifier.rules.decisions import PeriodDecision, Silence, decide, opening_state
from services.notifier.rules.recipients import Addressbook
from services.notifier.rules.schedule import SendingWindow
from shared.contracts.ladder import Ladder
from shared.domain.calendar import DEFAULT_OVERRIDES, end_of_day, load_calendar
from shared.domain.clock import VIETNAM, FakeClock
from shared.domain.directory import Directory
from shared.platform.settings import DEFAULT_DIRECTORY

CALENDAR = load_calendar(DEFAULT_OVERRIDES)
LADDER = Ladder.load(DEFAULT_LADDER)
WINDOW = SendingWindow(CALENDAR)
BOOK = Addressbook(Directory.load(DEFAULT_DIRECTORY))
AGENCY = "chi-bo-khu-1@hoa-an.example"
SUPERVISOR = "thuong-truc@hoa-an.example"
UPPER = "tuyengiao@quan-uy.example"


def vn(year: int, month: int, day: int, hour: int = 7, minute: int = 30) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VIETNAM).astimezone(UTC)


def assignment(assigned_at: datetime) -> dict[str, Any]:
    return {
        "assignment_id": "a1",
        "plan_id": "p1",
        "plan_number": "85-KH/ĐU",
        "plan_title": "Kế hoạch thử",
        "task": "Báo cáo kết quả",
        "issuer": {"code": "dang-uy", "kind": "office", "name": "Đảng ủy phường"},
        "agency": {"code": "chi-bo-khu-1", "kind": "party_cell", "name": "Chi bộ khu dân cư số 1"},
        "occurred_at": assigned_at,
    }


class Walk:
    """One tracked item driven through its ladder the way the scanner drives it, without a database."""

    def __init__(self, record: dict[str, Any], clock: FakeClock, window: SendingWindow = WINDOW) -> None:
        self.clock, self.window, self.silences = clock, window, list[Silence]()
        skipped, first = opening_state(record, clock.now(), CALENDAR, window)
        self.period = {"_id": "a1:2026-FY", **record, **domain.opened(skipped, first, clock.now())}
        self.sent: set[str] = set()
        self.log: list[tuple[datetime, str, str]] = []

    def check(self) -> PeriodDecision:
        now = self.clock.now()
        decision = decide(
            self.period, now, CALENDAR, self.window, BOOK.recipients_for(self.period), self.sent, self.silences
        )
        for notice in decision.sends:
            self.sent.add(notice.key)
            self.log.append((now, notice.occurrence.key, notice.recipient.address))
        self.period["done"] = [*self.period["done"], *decision.done]
        self.period["next_check_at"] = decision.next_check_at
        return decision

    def run_until(self, end: datetime) -> list[tuple[datetime, str, str]]:
        """Scan at every next check up to `end` (the ladder stops when the period stops being open)."""
        while self.period["next_check_at"] is not None and self.period["next_check_at"] <= end:
            self.clock.set(max(self.period["next_check_at"], self.clock.now()))
            self.check()
        self.clock.set(max(end, self.clock.now()))
        return self.log


def report_walk(due: date, opened: datetime, window: SendingWindow = WINDOW) -> Walk:
    clock = FakeClock(opened)
    deadline = {"period": "2026-FY", "due_at": end_of_day(due), "wording": "trước ngày 01 tháng 7"}
    return Walk(domain.report_period(assignment(opened), deadline, LADDER, CALENDAR.version), clock, window)


def test_every_report_step_reaches_its_audience_once_with_repeats_capped() -> None:
    walk = report_walk(date(2026, 6, 30), vn(2026, 3, 2))
    log = walk.run_until(vn(2026, 12, 31))
    assert log == [
        (vn(2026, 6, 23), "reminder-7d#1", AGENCY),
        (vn(2026, 6, 29), "reminder-1d#1", AGENCY),
        (vn(2026, 7, 1), "overdue#1", AGENCY),
        (vn(2026, 7, 1), "overdue#1", SUPERVISOR),
        (vn(2026, 7, 6), "level-1#1", SUPERVISOR),
        (vn(2026, 7, 6), "level-1#1", AGENCY),
        *[
            (moment, f"level-2#{n}", address)
            for n, moment in enumerate(
                [vn(2026, 7, 10), vn(2026, 7, 17), vn(2026, 7, 24), vn(2026, 7, 31), vn(2026, 8, 7)], start=1
            )
            for address in (UPPER, SUPERVISOR, AGENCY)
        ],
    ]
    assert walk.period["next_check_at"] is None  # the cap: nothing after the 4th repeat


def test_checking_again_at_the_same_moment_sends_nothing_twice() -> None:
    walk = report_walk(date(2026, 6, 30), vn(2026, 3, 2))
    walk.run_until(vn(2026, 7, 1))
    again = walk.check()
    assert again.sends == [] and len(walk.log) == 4


def test_a_deadline_seconds_away_skips_the_reminders() -> None:
    opened = vn(2026, 6, 30, 9, 0)
    clock = FakeClock(opened)
    deadline = {"period": "2026-DEMO", "due_at": opened + timedelta(seconds=8)}
    always = SendingWindow.parse("always", CALENDAR)
    walk = Walk(domain.report_period(assignment(opened), deadline, LADDER, CALENDAR.version), clock, always)
    assert walk.period["done"] == ["reminder-7d#1", "reminder-1d#1"]
    assert walk.period["next_check_at"] == opened + timedelta(seconds=8)
    assert walk.run_until(opened + timedelta(seconds=9)) == [
        (opened + timedelta(seconds=8), "overdue#1", AGENCY),
        (opened + timedelta(seconds=8), "overdue#1", SUPERVISOR),
    ]


def test_after_downtime_a_reminder_past_its_deadline_is_dropped_and_repeats_collapse() -> None:
    walk = report_walk(date(2026, 6, 30), vn(2026, 3, 2))
    walk.clock.set(vn(2026, 7, 20, 9, 0))  # the notifier was down from March to 20 July
    decision = walk.check()
    steps = sorted({n.occurrence.key for n in decision.sends})
    assert steps == ["level-1#1", "level-2#2", "overdue#1"]  # no reminders, one level-2 (the latest due)
    assert {"reminder-7d#1", "reminder-1d#1", "level-2#1"} <= set(decision.done)
    assert decision.next_check_at == vn(2026, 7, 24)


def test_a_late_registered_plan_is_overdue_at_once() -> None:
    walk = report_walk(date(2026, 6, 30), vn(2026, 7, 2, 10, 0))
    decision = walk.check()
    assert [n.occurrence.key for n in decision.sends] == ["overdue#1", "overdue#1"]


def test_outside_the_window_a_due_notice_waits_for_the_next_morning() -> None:
    walk = report_walk(date(2026, 6, 30), vn(2026, 3, 2))
    walk.run_until(vn(2026, 6, 30, 12, 0))
    walk.clock.set(vn(2026, 7, 3, 18, 0))  # a scan on Friday evening, with overdue and nothing sent yet
    decision = walk.check()
    assert decision.sends == [] and decision.outside_window
    assert decision.next_check_at == vn(2026, 7, 6)  # Monday 07:30


def test_a_level_silence_holds_notices_back_and_they_go_out_when_it_ends() -> None:
    walk = report_walk(date(2026, 6, 30), vn(2026, 3, 2))
    walk.silences = [Silence("s1", vn(2026, 7, 1, 0, 0), vn(2026, 7, 8, 0, 0), level=1)]
    walk.run_until(vn(2026, 7, 7, 12, 0))
    level_1 = [entry for entry in walk.log if entry[1] == "level-1#1"]
    assert level_1 == []
    assert walk.period["next_check_at"] == vn(2026, 7, 8)  # the first window after the silence
    assert "level-1#1" not in walk.period["done"]
    walk.run_until(vn(2026, 7, 8, 12, 0))
    assert [(when, address) for when, key, address in walk.log if key == "level-1#1"] == [
        (vn(2026, 7, 8), SUPERVISOR),
        (vn(2026, 7, 8), AGENCY),
    ]


def test_an_agency_or_plan_silence_mutes_only_what_it_names() -> None:
    walk = report_walk(date(2026, 6, 30), vn(2026, 3, 2))
    tet = (vn(2026, 6, 30, 0, 0), vn(2026, 7, 2, 0, 0))
    walk.silences = [Silence("s2", *tet, agency="thuong-truc"), Silence("s3", *tet, plan_id="another-plan")]
    walk.run_until(vn(2026, 7, 1, 12, 0))
    assert [(key, address) for _, key, address in walk.log if key == "overdue#1"] == [("overdue#1", AGENCY)]
    muted = walk.check().muted
    assert [(m.notice.recipient.address, m.silence.id) for m in muted] == [(SUPERVISOR, "s2")]
    walk.run_until(vn(2026, 7, 2, 12, 0))
    assert (vn(2026, 7, 2), "overdue#1", SUPERVISOR) in walk.log  # sent once the silence is over


def test_a_silence_on_the_agency_itself_mutes_notices_about_it() -> None:
    walk = report_walk(date(2026, 6, 30), vn(2026, 3, 2))
    walk.silences = [Silence("s4", vn(2026, 6, 1), vn(2026, 9, 1), agency="chi-bo-khu-1")]
    assert walk.run_until(vn(2026, 8, 31)) == []


def test_the_acknowledgement_ladder() -> None:
    assigned = vn(2026, 7, 1, 9, 0)  # Wednesday
    clock = FakeClock(assigned)
    walk = Walk(domain.acknowledgement_window(assignment(assigned), LADDER, CALENDAR.version), clock)
    assert walk.run_until(vn(2026, 7, 31)) == [
        (vn(2026, 7, 1, 9, 0), "assignment-notice#1", AGENCY),  # at once: the assignment notice
        (vn(2026, 7, 3, 9, 0), "ack-reminder#1", AGENCY),  # +2 working days
        (vn(2026, 7, 7, 9, 0), "ack-escalation#1", SUPERVISOR),  # +4 working days (the weekend skipped)
    ]
