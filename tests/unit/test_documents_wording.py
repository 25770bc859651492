"""Deadline wordings the parser had not met (issue #17): each class read from sentences written for the test, and
what cannot be read listed with its line, never left to the default in silence."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.intake.documents.deadlines import DeadlineReader
from services.intake.documents.parser import parse_text
from services.intake.documents.preview import preview
from services.intake.documents.to_submission import UnreadDeadlines, to_submission
from services.intake.domain import AfterReceipt, DeadlineIn, months_end, register_plan
from shared.contracts.events import AssignmentCreated
from tests.unit.documents_support import TODAY, WeekdaysOnly, directory

ISSUED = date(2024, 3, 4)  # a Monday


def reader() -> DeadlineReader:
    return DeadlineReader(2024, ISSUED, WeekdaysOnly(), received_on=date(2024, 3, 11))


def read(text: str) -> list[tuple[str, str, date]]:
    return [(d.kind, d.period, d.due) for d in reader().read(text, 5)]


# 1. An hour of a day: that instant (Vietnam time, stored in UTC), not the end of the day.


def test_before_an_hour_of_a_day_is_on_time_until_just_before_that_hour() -> None:
    (found,) = reader().read("Các chi bộ gửi báo cáo kết quả trước 17 giờ ngày 05/11/2024 về Văn phòng.", 5)
    assert (found.period, found.due) == ("2024-D11-05", date(2024, 11, 5))  # the day itself, not the day before
    assert found.effective == datetime(2024, 11, 5, 10, 0, tzinfo=UTC) - timedelta(microseconds=1)


@pytest.mark.parametrize(
    "text",
    ["Nộp hồ sơ chậm nhất 10h00 ngày 12/4/2024.", "Nộp hồ sơ chậm nhất ngày 12/4/2024 lúc 10 giờ."],
)
def test_at_the_latest_at_an_hour_includes_that_instant(text: str) -> None:
    (found,) = reader().read(text, 5)
    assert found.effective == datetime(2024, 4, 12, 3, 0, tzinfo=UTC)


# 2. Several dates in one clause.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Gửi báo cáo về Đảng ủy vào ngày 10/6 và ngày 10/12.",
            [("semiannual", "2024-H1", date(2024, 6, 10)), ("annual", "2024-FY", date(2024, 12, 10))],
        ),
        (
            "Báo cáo trước các ngày 20/6, 20/12 hằng năm.",
            [("semiannual", "2024-H1", date(2024, 6, 19)), ("annual", "2024-FY", date(2024, 12, 19))],
        ),
        (
            "Gửi báo cáo vào các ngày 15/3, 15/6, 15/9 và 15/12.",
            [("quarterly", f"2024-Q{q}", date(2024, 3 * q, 15)) for q in (1, 2, 3, 4)],
        ),
        (
            "Tổ chức ra quân vào ngày 10/5/2024 và ngày 20/5/2024.",
            [("date", "2024-D05-10", date(2024, 5, 10)), ("date", "2024-D05-20", date(2024, 5, 20))],
        ),
    ],
)
def test_each_date_of_a_list_is_a_deadline_with_its_own_period(text: str, expected: list[object]) -> None:
    assert read(text) == expected


# 3. Durations from the plan's issue or receipt (Civil Code arts. 147-148); from an event not in the plan: unread.


def test_days_from_signing_and_working_days_from_issue() -> None:
    # 15 days from Monday 4 March (not counted) end on Tuesday 19 March.
    assert read("Gửi kế hoạch trong thời hạn 15 ngày kể từ ngày ký.") == [
        ("duration", "2024-D03-19", date(2024, 3, 19))
    ]
    # 5 working days: 5, 6, 7, 8, 11 March.
    assert read("Lập danh sách 05 ngày làm việc kể từ ngày ban hành kế hoạch.") == [
        ("duration", "2024-D03-11", date(2024, 3, 11))
    ]


def test_months_end_on_the_same_day_or_the_last_day_of_the_month_then_the_next_working_day() -> None:
    assert read("Báo cáo kết quả trong một tháng kể từ ngày ban hành.") == [
        ("duration", "2024-D04-04", date(2024, 4, 4))
    ]
    calendar = WeekdaysOnly()
    assert months_end(date(2024, 1, 31), 1, calendar) == date(2024, 2, 29)  # no 31 February: its last day
    assert months_end(date(2024, 3, 30), 2, calendar) == date(2024, 5, 30)
    assert months_end(date(2024, 4, 13), 1, calendar) == date(2024, 5, 13)
    assert months_end(date(2024, 3, 11), 2, calendar) == date(2024, 5, 13)  # Saturday 11 May → Monday 13


def test_months_from_receipt_run_from_the_day_of_registration() -> None:
    (found,) = reader().read("Hoàn thành trong vòng 02 tháng kể từ ngày nhận được kế hoạch.", 5)
    assert (found.period, found.counted_from, found.months, found.due) == ("2024-R2M", "receipt", 2, date(2024, 5, 13))
    assert found.obligation == "complete"
    rule = DeadlineIn(period=found.period, after_receipt=AfterReceipt(months=2))
    # registered on Friday 31 January 2025: two months end on 31 March (no 31 February does not matter here)
    assert rule.to_contract(date(2025, 1, 31), WeekdaysOnly()).due_at.date() == date(2025, 3, 31)


def test_a_duration_from_an_event_the_plan_does_not_date_is_unread_not_guessed() -> None:
    deadlines = reader()
    assert deadlines.read("Báo cáo kết quả trong vòng 10 ngày sau khi kết thúc hoạt động.", 8) == []
    (unread,) = deadlines.unread
    assert unread.line == 8 and "kết thúc hoạt động" in unread.reason.vi and "kết thúc hoạt động" in unread.reason.en


def test_a_duration_from_issue_without_a_date_of_issue_is_unread() -> None:
    deadlines = DeadlineReader(2024, None, WeekdaysOnly())
    assert deadlines.read("Nộp danh sách trong thời hạn 15 ngày kể từ ngày ký.", 3) == []
    assert [u.line for u in deadlines.unread] == [3]


# 4. Recurring reports with their own periods.


def test_a_nine_month_report_is_not_the_first_half_year() -> None:
    assert read("Sơ kết 9 tháng, gửi báo cáo trước ngày 15/10.") == [("ninemonth", "2024-9M", date(2024, 10, 14))]
    assert read("Báo cáo 9 tháng đầu năm gửi trước ngày 20 tháng 9.") == [("ninemonth", "2024-9M", date(2024, 9, 19))]
    assert read("Báo cáo sơ kết 6 tháng gửi trước ngày 20 tháng 6.")[0][1] == "2024-H1"


def test_weekly_reports_one_per_iso_week_from_the_issue_on() -> None:
    found = reader().read("Báo cáo hằng tuần trước 16 giờ thứ Sáu.", 5)
    assert [d.period for d in found[:2]] == ["2024-W10", "2024-W11"] and len(found) == 43
    assert found[0].due == date(2024, 3, 8)
    assert found[0].effective == datetime(2024, 3, 8, 9, 0, tzinfo=UTC) - timedelta(microseconds=1)
    assert read("Gửi báo cáo hằng tuần vào thứ Hai.")[0] == ("weekly", "2024-W10", date(2024, 3, 4))


def test_monthly_quarterly_six_month_and_annual_keep_their_keys() -> None:
    assert read("báo cáo hằng tháng trước ngày 25")[0][:2] == ("monthly", "2024-03")
    assert read("báo cáo hằng quý trước ngày 20 của tháng cuối quý")[0][:2] == ("quarterly", "2024-Q1")
    assert read("báo cáo năm gửi trước ngày 15 tháng 12") == [("annual", "2024-FY", date(2024, 12, 14))]


# 5, 6, 7: the plan as a whole.

PLAN = """ĐẢNG BỘ PHƯỜNG HÒA AN
Số 12-KH/ĐU
{date_line}
 KẾ HOẠCH
 tổng vệ sinh môi trường{title_year}

I. MỤC ĐÍCH, YÊU CẦU
Giữ phường sạch đẹp{text_year}.

II. THỜI GIAN
Hoàn thành các hoạt động trong quý II.

III. TỔ CHỨC THỰC HIỆN
1. Hội Nông dân: Gửi báo cáo vào ngày 10/6 và ngày 10/12.
2. Công đoàn cơ sở: Báo cáo kết quả trong vòng 10 ngày sau khi kết thúc hoạt động.
3. Hội Liên hiệp Phụ nữ: Vận động hội viên tham gia.

Nơi nhận:
- Văn phòng Đảng ủy,

T/M ĐẢNG ỦY
BÍ THƯ
"""


def plan_text(
    date_line: str = "Phường Hòa An, ngày 04 tháng 3 năm 2024", title_year: str = "", text_year: str = ""
) -> str:
    return PLAN.format(date_line=date_line, title_year=title_year, text_year=text_year)


def test_a_schedule_section_binds_every_body_and_a_clause_its_own_bodies() -> None:
    plan = parse_text(plan_text(), directory(), TODAY, WeekdaysOnly())
    assert plan.title is not None and plan.title.text == "Kế hoạch tổng vệ sinh môi trường"  # line after KẾ HOẠCH
    assert [(d.period, d.obligation) for d in plan.deadlines] == [("2024-Q2", "complete")]
    by_body = {a.agency: [d.period for d in a.deadlines] for a in plan.assignments}
    assert by_body == {
        "hoi-nong-dan": ["2024-H1", "2024-FY", "2024-Q2"],
        "cong-doan": ["2024-Q2"],
        "hoi-phu-nu": ["2024-Q2"],
    }
    assert not plan.default_deadlines_applied


def test_an_unread_deadline_sentence_blocks_the_plan_until_the_clerk_resolves_its_line() -> None:
    plan = parse_text(plan_text(), directory(), TODAY, WeekdaysOnly())
    assert [(u.where, u.line) for u in plan.unresolved] == [("deadline", 15)]
    shown = preview(plan, directory(), TODAY, 1000)
    assert shown["ready"] is False and shown["problems"][0]["where"] == "deadline (line 15)"
    with pytest.raises(UnreadDeadlines, match="dòng 15") as refused:
        to_submission(plan, skip_unresolved=True)  # skipping unknown bodies does not skip this
    assert "no_deadline_lines=15" in refused.value.message
    submission = to_submission(plan, no_deadline_lines=[15])
    _, events = register_plan(submission, directory(), TODAY, 1000, WeekdaysOnly())
    union = next(e for e in events if isinstance(e, AssignmentCreated) and e.agency.code == "cong-doan")
    assert [d.period for d in union.deadlines] == ["2024-Q2"]


def test_the_preview_says_per_body_where_each_deadline_came_from() -> None:
    text = plan_text().replace("II. THỜI GIAN\nHoàn thành các hoạt động trong quý II.\n\n", "")
    text = text.replace("Báo cáo kết quả trong vòng 10 ngày sau khi kết thúc hoạt động", "Dọn vệ sinh")
    plan = parse_text(text, directory(), TODAY, WeekdaysOnly())
    sources = {s["agency"]: s for s in preview(plan, directory(), TODAY, 1000)["deadline_sources"]}
    assert sources["hoi-nong-dan"]["from_clause"] == ["2024-H1", "2024-FY"]
    assert sources["hoi-nong-dan"]["from_default"] == []  # the plan says when: no default for this body
    assert sources["cong-doan"]["from_default"] == ["2024-FY"] and sources["cong-doan"]["from_clause"] == []


@pytest.mark.parametrize(
    ("date_line", "title_year", "text_year", "year"),
    [
        ("Phường Hòa An, ngày 04 tháng 3 năm 2024", "", "", 2024),
        ("", " năm 2023", "", 2023),
        ("", "", " trong năm 2022", 2022),
    ],
)
def test_the_plans_year_from_its_date_line_title_or_text(
    date_line: str, title_year: str, text_year: str, year: int
) -> None:
    plan = parse_text(plan_text(date_line, title_year, text_year), directory(), TODAY, WeekdaysOnly())
    assert plan.year == year and not any(u.where == "year" for u in plan.unresolved)


def test_a_plan_with_no_year_anywhere_is_a_problem_not_the_clocks_year() -> None:
    plan = parse_text(plan_text(date_line=""), directory(), TODAY, WeekdaysOnly())
    assert any(u.where == "year" for u in plan.unresolved)
    with pytest.raises(UnreadDeadlines.__mro__[1], match="thiếu thông tin"):
        to_submission(plan, skip_unresolved=True, no_deadline_lines=[15])


# 8. The duration arithmetic against an independent day-by-day walk.


def walk(calendar: WeekdaysOnly, start: date, count: int, unit: str) -> date:
    if unit == "working":
        day, left = start, count
        while left:
            day += timedelta(days=1)
            left -= calendar.is_working_day(day)
        return day
    if unit == "days":
        day = start
        for _ in range(count):
            day += timedelta(days=1)
    else:  # months: walk to the same day of the month `count` months on, or that month's last day
        day, months = start, 0
        while months < count or day.day < min(start.day, _days_in(day)):
            day += timedelta(days=1)
            months += day.day == 1
            if months == count and day.day == min(start.day, _days_in(day)):
                break
    while not calendar.is_working_day(day):
        day += timedelta(days=1)
    return day


def _days_in(day: date) -> int:
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (following - timedelta(days=1)).day


@given(
    start=st.dates(date(2020, 1, 1), date(2030, 12, 31)),
    count=st.integers(0, 40),
    unit=st.sampled_from(["days", "working", "months"]),
    holidays=st.sets(st.dates(date(2020, 1, 1), date(2034, 12, 31)), max_size=30),
)
def test_duration_arithmetic_agrees_with_a_day_by_day_walk(
    start: date, count: int, unit: str, holidays: set[date]
) -> None:
    calendar = WeekdaysOnly(holidays)
    if unit == "months":
        computed = months_end(start, count, calendar)
    else:
        computed = calendar.duration_end(start, count, working_days=unit == "working")
    assert computed == walk(calendar, start, count, unit)


def test_an_hour_of_a_day_reaches_the_published_deadline() -> None:
    text = plan_text().replace(
        "Báo cáo kết quả trong vòng 10 ngày sau khi kết thúc hoạt động", "Nộp báo cáo trước 17 giờ ngày 05/11/2024"
    )
    submission = to_submission(parse_text(text, directory(), TODAY, WeekdaysOnly()))
    _, events = register_plan(submission, directory(), TODAY, 1000, WeekdaysOnly())
    union = next(e for e in events if isinstance(e, AssignmentCreated) and e.agency.code == "cong-doan")
    due = {d.period: d.due_at for d in union.deadlines}
    assert due["2024-D11-05"] == datetime(2024, 11, 5, 10, 0, tzinfo=UTC) - timedelta(
        milliseconds=1
    )  # published to the ms
