from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.intake.documents.deadlines import DeadlineReader, default_deadlines
from shared.domain.calendar import WorkingCalendar
from tests.unit.documents_support import WeekdaysOnly


def read(text: str, year: int = 2023, issued_on: date | None = date(2023, 3, 22)) -> list[tuple[str, str, date]]:
    return [(d.kind, d.period, d.due) for d in DeadlineReader(year, issued_on, WeekdaysOnly()).read(text, 7)]


def test_semiannual_and_annual_reports_before_1_july_and_1_january() -> None:
    found = DeadlineReader(2023, date(2023, 3, 22), WeekdaysOnly()).read(
        "định kỳ thực hiện báo cáo 6 tháng (gửi trước ngày 01 tháng 7) và báo cáo năm (gửi trước ngày 01 tháng 01)", 9
    )
    assert [(d.kind, d.period, d.due) for d in found] == [
        ("semiannual", "2023-H1", date(2023, 6, 30)),
        ("annual", "2023-FY", date(2023, 12, 31)),
    ]
    assert found[0].wording == "báo cáo 6 tháng (gửi trước ngày 01 tháng 7)"
    assert found[1].wording == "báo cáo năm (gửi trước ngày 01 tháng 01)"
    assert found[0].line == 9
    # on time until 30 June 23:59:59.999 in Hanoi, stored in UTC
    assert found[0].effective == datetime(2023, 6, 30, 16, 59, 59, 999000, tzinfo=UTC)


def test_an_annual_report_due_early_in_the_year_falls_in_the_next_year() -> None:
    assert read("Báo cáo năm gửi trước ngày 15 tháng 01") == [("annual", "2023-FY", date(2024, 1, 14))]


@pytest.mark.parametrize(
    "text",
    [
        "hoàn thành trước ngày 15/12/2023",
        "trước ngày 15 tháng 12 năm 2023",
        "trước ngày 15-12-2023",
        "trước ngày 15.12.2023",
    ],
)
def test_explicit_dates_in_both_spellings(text: str) -> None:
    assert read(text) == [("date", "2023-D12-14", date(2023, 12, 14))]


def test_by_a_date_includes_that_day_and_a_past_day_without_year_is_next_year() -> None:
    assert read("chậm nhất ngày 30/6") == [("date", "2023-D06-30", date(2023, 6, 30))]
    assert read("nộp trước ngày 10 tháng 01") == [("date", "2024-D01-09", date(2024, 1, 9))]


def test_quarterly_recurring_periods_from_the_issue_date_on() -> None:
    assert read("định kỳ hằng quý báo cáo trước ngày 20 của tháng cuối quý") == [
        ("quarterly", "2023-Q2", date(2023, 6, 19)),
        ("quarterly", "2023-Q3", date(2023, 9, 19)),
        ("quarterly", "2023-Q4", date(2023, 12, 19)),
    ]
    assert read("báo cáo hằng quý trước ngày 05 của tháng đầu quý sau", issued_on=None)[-1] == (
        "quarterly",
        "2023-Q4",
        date(2024, 1, 4),
    )
    assert read("gửi báo cáo hằng quý", issued_on=None)[0] == ("quarterly", "2023-Q1", date(2023, 3, 31))


def test_monthly_recurring_periods() -> None:
    found = read("báo cáo hằng tháng trước ngày 25", year=2024, issued_on=date(2024, 10, 1))
    assert found == [
        ("monthly", "2024-10", date(2024, 10, 24)),
        ("monthly", "2024-11", date(2024, 11, 24)),
        ("monthly", "2024-12", date(2024, 12, 24)),
    ]


def test_within_a_month_or_a_quarter_is_due_at_its_end() -> None:
    assert read("hoàn thành trong tháng 3/2024") == [("within_period", "2024-03", date(2024, 3, 31))]
    assert read("hoàn thành trong tháng 2 năm 2024") == [("within_period", "2024-02", date(2024, 2, 29))]
    assert read("tổng kết trong quý IV/2023") == [("within_period", "2023-Q4", date(2023, 12, 31))]
    assert read("xong trong quý 3 năm 2024") == [("within_period", "2024-Q3", date(2024, 9, 30))]


def test_durations_follow_the_civil_code() -> None:
    # 22 March 2023 is a Wednesday; the starting day is not counted.
    assert read("trong thời hạn 05 ngày làm việc kể từ ngày ban hành") == [
        ("duration", "2023-D03-29", date(2023, 3, 29))
    ]
    # ten calendar days end on Saturday 1 April: the period runs on to Monday 3 April
    assert read("sau 10 ngày kể từ ngày ban hành") == [("duration", "2023-D04-03", date(2023, 4, 3))]


def test_working_days_skip_holidays_from_the_calendar() -> None:
    holiday = WeekdaysOnly({date(2023, 3, 23)})
    assert holiday.duration_end(date(2023, 3, 22), 1, working_days=True) == date(2023, 3, 24)
    vietnam = WorkingCalendar()
    assert not vietnam.is_working_day(date(2024, 9, 2))  # National Day
    assert not vietnam.is_working_day(date(2024, 2, 12))  # Tết
    assert WorkingCalendar({date(2024, 9, 2): True}).is_working_day(date(2024, 9, 2))  # override table
    assert vietnam.duration_end(date(2024, 4, 26), 2, working_days=True) == date(2024, 5, 3)


def test_the_default_is_the_annual_report_before_1_january() -> None:
    (deadline,) = default_deadlines(2023)
    assert (deadline.kind, deadline.period, deadline.due) == ("default", "2023-FY", date(2023, 12, 31))


def test_no_deadline_words_no_deadline() -> None:
    assert read("Thông báo Kết luận 264-TB/TW ngày 31/7/2009 của Bộ Chính trị; các mô hình (15/3)") == []


def test_the_deployment_chooses_the_default_semiannual_quarterly_or_none() -> None:
    assert [(d.period, d.due) for d in default_deadlines(2025, "semiannual")] == [
        ("2025-H1", date(2025, 6, 30)),
        ("2025-FY", date(2025, 12, 31)),
    ]
    quarters = default_deadlines(2025, "quarterly")
    assert [(d.period, d.due) for d in quarters] == [
        ("2025-Q1", date(2025, 3, 31)),
        ("2025-Q2", date(2025, 6, 30)),
        ("2025-Q3", date(2025, 9, 30)),
        ("2025-Q4", date(2025, 12, 31)),
    ]
    assert "trước ngày 01 tháng 04 năm 2025" in quarters[0].wording
    assert "trước ngày 01 tháng 01 năm 2026" in quarters[3].wording
    assert all(d.kind == "default" and "(mặc định)" in d.wording for d in quarters)
    assert default_deadlines(2025, "none") == []


def receipt(text: str, received_on: date | None) -> list[tuple[str, str, date, str | None, date | None]]:
    reader = DeadlineReader(2023, date(2023, 3, 22), WeekdaysOnly(), received_on=received_on)
    return [(d.kind, d.period, d.due, d.counted_from, d.start) for d in reader.read(text, 7)]


def test_a_duration_from_receipt_runs_from_the_day_the_plan_is_received_not_from_its_issue() -> None:
    # Received on Thursday 15 January 2026: ten days end on Sunday 25 January, so on Monday 26 January.
    text = "Gửi danh sách về Văn phòng trong vòng 10 ngày kể từ ngày nhận được Kế hoạch này."
    assert receipt(text, date(2026, 1, 15)) == [
        ("duration", "2023-R10D", date(2026, 1, 26), "receipt", date(2026, 1, 15))
    ]
    # The period is named by the rule: received another day, the same period with another last day.
    assert receipt(text, date(2026, 1, 19)) == [
        ("duration", "2023-R10D", date(2026, 1, 29), "receipt", date(2026, 1, 19))
    ]
    (found,) = DeadlineReader(2023, date(2023, 3, 22), WeekdaysOnly(), received_on=date(2026, 1, 15)).read(text, 7)
    assert found.wording == "trong vòng 10 ngày kể từ ngày nhận được Kế hoạch này"  # as written
    assert (found.days, found.working_days, found.calendar) == (10, False, "test-weekdays")


def test_working_days_from_receipt_and_other_wordings_of_receipt() -> None:
    # Friday 16 January 2026 is not counted; five working days end on Friday 23 January.
    assert receipt("trong thời hạn 05 ngày làm việc kể từ ngày nhận được kế hoạch", date(2026, 1, 16)) == [
        ("duration", "2023-R5WD", date(2026, 1, 23), "receipt", date(2026, 1, 16))
    ]
    assert receipt("báo cáo chậm nhất sau 3 ngày sau khi nhận được văn bản", date(2026, 1, 16))[0][1:4] == (
        "2023-R3D",
        date(2026, 1, 19),
        "receipt",
    )
    assert receipt("trong vòng 7 ngày kể từ ngày tiếp nhận", date(2026, 1, 16))[0][3] == "receipt"


def test_a_duration_from_issue_is_still_counted_from_the_date_of_issue() -> None:
    assert receipt("sau 10 ngày kể từ ngày ban hành", date(2026, 1, 15)) == [
        ("duration", "2023-D04-03", date(2023, 4, 3), "issue", date(2023, 3, 22))
    ]
