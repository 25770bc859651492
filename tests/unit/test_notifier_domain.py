"""The notifier's pure parts: durations in Vietnamese, the digest (subject, grouping, order, local time), the
tracked items it builds from events, and when it first and next looks at them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.notifier import domain
from services.notifier.config import DEFAULT_LADDER
from services.notifier.rules.decisions import opening_state
from services.notifier.rules.messages import Item, describe_duration, local_time, render_digest
from services.notifier.rules.schedule import SendingWindow, ceil_ms, next_check
from shared.contracts.ladder import Ladder
from shared.domain.calendar import DEFAULT_OVERRIDES, load_calendar
from shared.domain.clock import VIETNAM

CALENDAR = load_calendar(DEFAULT_OVERRIDES)
LADDER = Ladder.load(DEFAULT_LADDER)
WINDOW = SendingWindow(CALENDAR)

NOW = datetime(2027, 7, 5, 2, 0, tzinfo=UTC)  # Monday 5 July 2027, 09:00 in Vietnam
H1_DUE = datetime(2027, 6, 30, 16, 59, 59, 999_999, tzinfo=UTC)  # 30/06/2027 23:59 in Vietnam


def ref(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


# --- durations --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(0), "0 giây"),
        (timedelta(seconds=-30), "0 giây"),
        (timedelta(seconds=59), "59 giây"),
        (timedelta(seconds=60), "1 phút"),
        (timedelta(hours=1, minutes=1, seconds=1), "1 giờ 1 phút"),
        (timedelta(days=1), "1 ngày"),
        (timedelta(days=2, seconds=5), "2 ngày 5 giây"),
        (timedelta(days=1, hours=1, minutes=1, seconds=1), "1 ngày 1 giờ"),
        (timedelta(days=45, hours=23, minutes=59), "45 ngày 23 giờ"),
        (timedelta(minutes=5, microseconds=900_000), "5 phút"),
    ],
)
def test_durations_use_the_two_largest_units_that_are_not_zero(delta: timedelta, words: str) -> None:
    assert describe_duration(delta) == words


def test_local_time_is_vietnam_time() -> None:
    assert local_time(H1_DUE) == "23:59 ngày 30/06/2027"
    assert local_time(datetime(2027, 1, 1, 17, 30, tzinfo=UTC)) == "00:30 ngày 02/01/2027"
    assert local_time(datetime(2027, 1, 1, 17, 30)) == "00:30 ngày 02/01/2027"  # naive from MongoDB = UTC


# --- the digest -------------------------------------------------------------------------------------------


def item(**changes: Any) -> Item:
    values: dict[str, Any] = dict(
        period_id=f"{ref('a')}:2027-H1",
        plan_id="p-15",
        plan_number="15-KH/ĐU",
        plan_title="Kế hoạch hưởng ứng tuần lễ phòng chống dịch sốt xuất huyết",
        task="Tổ chức diệt bọ gậy tại các hộ gia đình.",
        agency_name="Chi bộ khu dân cư số 2",
        track="report",
        period="2027-H1",
        anchor=H1_DUE,
        wording="gửi trước ngày 01 tháng 7",
        step="overdue",
        level=0,
        ask="report",
        role="agency",
        copy=False,
        contact="",
        now=NOW,
    )
    values.update(changes)
    return Item(**values)


def test_a_one_item_subject_names_the_plan_number_and_the_agency() -> None:
    digest = render_digest("Chi bộ khu dân cư số 2", [item()])
    assert digest.subject == "[Đôn đốc] Quá hạn báo cáo – Kế hoạch số 15-KH/ĐU – Chi bộ khu dân cư số 2"


def test_a_one_item_subject_for_an_escalation_and_for_a_reminder() -> None:
    escalated = render_digest("Thường trực Đảng ủy", [item(level=1, role="supervisor", ask="explain")])
    assert escalated.subject == (
        "[Đôn đốc] Đôn đốc cấp 1: quá hạn báo cáo – Kế hoạch số 15-KH/ĐU – Chi bộ khu dân cư số 2"
    )
    ahead = render_digest("Chi bộ khu dân cư số 2", [item(anchor=NOW + timedelta(days=3, hours=5))])
    assert ahead.subject == "[Đôn đốc] Nhắc hạn báo cáo – Kế hoạch số 15-KH/ĐU – Chi bộ khu dân cư số 2"
    assert "Tình trạng: còn 3 ngày đến hạn, chưa nhận được báo cáo." in ahead.text
    soon = render_digest("x", [item(anchor=NOW + timedelta(hours=7, minutes=20))])
    assert "Tình trạng: còn 7 giờ 20 phút đến hạn, chưa nhận được báo cáo." in soon.text


def test_a_digest_of_several_items_counts_them_and_the_overdue_ones() -> None:
    items = [
        item(),
        item(plan_id="p-3", plan_number="3-KH/UBND", anchor=NOW - timedelta(days=10)),
        item(anchor=NOW + timedelta(days=2)),
        item(track="acknowledgement", period=None, anchor=NOW - timedelta(days=6), ask="acknowledge"),
    ]
    assert render_digest("Chi bộ khu dân cư số 2", items).subject == (
        "[Đôn đốc] 4 nội dung cần đôn đốc (2 quá hạn báo cáo)"
    )


def test_the_body_greets_groups_by_plan_and_puts_the_most_overdue_first() -> None:
    recipient = "Thường trực Đảng ủy phường"
    digest = render_digest(
        recipient,
        [
            item(agency_name="Chi bộ khu dân cư số 2", anchor=NOW - timedelta(days=1, hours=2), role="supervisor"),
            item(
                plan_id="p-ahead",
                plan_number="40-KH/ĐU",
                plan_title="Kế hoạch hội thao mừng Xuân",
                anchor=NOW + timedelta(days=5),
                agency_name="Đoàn Thanh niên phường",
                role="supervisor",
            ),
            item(
                plan_id="p-3",
                plan_number="3-KH/UBND",
                plan_title="Kế hoạch tổng vệ sinh môi trường",
                anchor=NOW - timedelta(days=10),
                agency_name="Hội Cựu chiến binh phường",
                role="supervisor",
            ),
            item(agency_name="Chi bộ khu dân cư số 8", anchor=NOW - timedelta(days=4), role="supervisor"),
        ],
    )
    lines = digest.text.splitlines()

    assert lines[0] == "Kính gửi: Thường trực Đảng ủy phường."
    assert lines[2] == "Hệ thống đôn đốc trân trọng thông báo tình hình thực hiện các nhiệm vụ dưới đây:"
    headings = [line for line in lines if line.startswith("Kế hoạch số")]
    assert headings == [
        "Kế hoạch số 3-KH/UBND: Kế hoạch tổng vệ sinh môi trường",
        "Kế hoạch số 15-KH/ĐU: Kế hoạch hưởng ứng tuần lễ phòng chống dịch sốt xuất huyết",
        "Kế hoạch số 40-KH/ĐU: Kế hoạch hội thao mừng Xuân",
    ]
    numbered = [line.strip() for line in lines if line.startswith("  ") and ". " in line[:6]]
    assert numbered == [
        "1. Hội Cựu chiến binh phường — nhiệm vụ: Tổ chức diệt bọ gậy tại các hộ gia đình.",
        "1. Chi bộ khu dân cư số 8 — nhiệm vụ: Tổ chức diệt bọ gậy tại các hộ gia đình.",
        "2. Chi bộ khu dân cư số 2 — nhiệm vụ: Tổ chức diệt bọ gậy tại các hộ gia đình.",
        "1. Đoàn Thanh niên phường — nhiệm vụ: Tổ chức diệt bọ gậy tại các hộ gia đình.",
    ]
    assert "     Tình trạng: đã quá hạn 4 ngày, chưa nhận được báo cáo." in lines
    assert "     Tình trạng: đã quá hạn 1 ngày, chưa nhận được báo cáo." in lines
    assert "     Đề nghị đồng chí chỉ đạo, đôn đốc đơn vị thực hiện." in lines
    assert lines[-3:] == ["Đây là thư tự động, vui lòng không trả lời thư này.", "Trân trọng,", "Hệ thống đôn đốc"]
    # the HTML carries the same content in the same order
    assert digest.html.index("3-KH/UBND") < digest.html.index("15-KH/ĐU") < digest.html.index("40-KH/ĐU")
    assert '<html lang="vi">' in digest.html and "Kính gửi: <strong>Thường trực Đảng ủy phường</strong>" in digest.html


def test_the_deadline_is_shown_as_written_and_in_vietnam_time() -> None:
    text = render_digest("Chi bộ khu dân cư số 2", [item()]).text
    assert "     Thời hạn: “gửi trước ngày 01 tháng 7” — hạn cuối 23:59 ngày 30/06/2027 (kỳ báo cáo 2027-H1)." in text
    assert "16:59" not in text  # never UTC


def test_an_acknowledgement_item_shows_when_it_was_assigned_in_vietnam_time() -> None:
    assigned = datetime(2027, 6, 28, 18, 15, tzinfo=UTC)  # 01:15 on 29 June in Vietnam
    digest = render_digest(
        "Đoàn Thanh niên phường",
        [
            item(
                track="acknowledgement",
                period=None,
                anchor=assigned,
                ask="acknowledge",
                step="ack-reminder",
                agency_name="Đoàn Thanh niên phường",
            ),
        ],
    )
    assert digest.subject == "[Đôn đốc] Đề nghị xác nhận nhận nhiệm vụ – Kế hoạch số 15-KH/ĐU – Đoàn Thanh niên phường"
    assert "Tình trạng: chưa xác nhận đã nhận nhiệm vụ (giao lúc 01:15 ngày 29/06/2027)." in digest.text
    assert "Đề nghị đơn vị xác nhận đã nhận nhiệm vụ trên hệ thống đôn đốc." in digest.text
    assert "Thời hạn:" not in digest.text


def test_contacts_are_listed_once_each_in_order_and_copies_are_marked() -> None:
    digest = render_digest(
        "Ủy ban nhân dân phường",
        [
            item(contact="Văn phòng Đảng ủy (vp@hoa-an.example)", copy=True, role="agency"),
            item(contact="Thường trực (tt@hoa-an.example)"),
            item(contact="Văn phòng Đảng ủy (vp@hoa-an.example)"),
        ],
    )
    contacts = [line for line in digest.text.splitlines() if line.startswith("Mọi vướng mắc")]
    assert contacts == [
        "Mọi vướng mắc xin liên hệ: Thường trực (tt@hoa-an.example).",
        "Mọi vướng mắc xin liên hệ: Văn phòng Đảng ủy (vp@hoa-an.example).",
    ]
    assert digest.text.count("Gửi để biết và phối hợp đôn đốc.") == 1


def test_names_are_escaped_in_the_html_but_not_in_the_text() -> None:
    digest = render_digest("Tổ <dân> phố & khu", [item(agency_name='Chi bộ "A" <1>')])
    assert "Kính gửi: Tổ <dân> phố & khu." in digest.text
    assert "Tổ &lt;dân&gt; phố &amp; khu" in digest.html and "<dân>" not in digest.html
    assert "Chi bộ &quot;A&quot; &lt;1&gt;" in digest.html


# --- tracked items built from events ----------------------------------------------------------------------


def created(assignment_id: str, assigned_at: datetime = datetime(2027, 6, 4, 9, 0, tzinfo=UTC)) -> dict[str, Any]:
    """An `assignment.created` event as the notifier consumer sees it (dumped to python)."""
    return {
        "assignment_id": assignment_id,
        "plan_id": "p-15",
        "plan_number": "15-KH/ĐU",
        "plan_title": "Kế hoạch thử",
        "task": "Báo cáo kết quả.",
        "issuer": {"code": "dang-uy", "kind": "office", "name": "Đảng ủy phường Hòa An"},
        "agency": {"code": "ubnd", "kind": "ubnd", "name": "Ủy ban nhân dân phường Hòa An"},
        "occurred_at": assigned_at,
    }


def test_item_ids_name_the_assignment_and_the_period_or_the_acknowledgement() -> None:
    assignment_id = ref("a")
    assert domain.period_id(assignment_id, "2027-H1") == f"{assignment_id}:2027-H1"
    assert domain.acknowledgement_id(assignment_id) == f"{assignment_id}:ack"


def test_a_reporting_period_carries_its_anchor_and_a_snapshot_of_the_report_ladder() -> None:
    assignment_id = ref("a")
    period = domain.report_period(
        created(assignment_id), {"period": "2027-H1", "due_at": H1_DUE, "wording": "trước 01/7"}, LADDER, "cal-7"
    )
    assert period["track"] == "report"
    assert period["assignment_id"] == assignment_id
    assert (period["period"], period["due_at"], period["wording"]) == ("2027-H1", H1_DUE, "trước 01/7")
    assert period["assigned_at"] == datetime(2027, 6, 4, 9, 0, tzinfo=UTC)
    assert [s["name"] for s in period["steps"]] == ["reminder-7d", "reminder-1d", "overdue", "level-1", "level-2"]
    assert period["ladder_version"] == LADDER.version and len(LADDER.version) == 12
    assert period["calendar_version"] == "cal-7"
    assert period["agency"]["code"] == "ubnd" and period["plan_number"] == "15-KH/ĐU"


def test_an_acknowledgement_window_has_no_period_and_the_acknowledgement_steps() -> None:
    window = domain.acknowledgement_window(created(ref("a")), LADDER, "cal-7")
    assert window["track"] == "acknowledgement"
    assert window["period"] is None and window["due_at"] is None
    assert [s["name"] for s in window["steps"]] == ["assignment-notice", "ack-reminder", "ack-escalation"]
    assert window["deadlines"] == []  # none in this event
    due = {"period": "2027-H1", "due_at": H1_DUE, "wording": "trước ngày 01/7"}
    with_deadline = domain.acknowledgement_window({**created(ref("a")), "deadlines": [due]}, LADDER, "cal-7")
    assert with_deadline["deadlines"] == [due]  # the assignment's, listed by the assignment notice


def test_an_opened_item_starts_open_at_revision_zero_with_its_first_check() -> None:
    at, first = datetime(2027, 6, 4, 9, 0, tzinfo=UTC), datetime(2027, 6, 8, 9, 0, tzinfo=UTC)
    assert domain.opened(["reminder-7d#1"], first, at) == {
        "state": "open",
        "rev": 0,
        "done": ["reminder-7d#1"],
        "next_check_at": first,
        "opened_at": at,
    }


# --- first and next checks --------------------------------------------------------------------------------


def report_item(assignment_id: str) -> dict[str, Any]:
    return domain.report_period(created(assignment_id), {"period": "2027-H1", "due_at": H1_DUE}, LADDER, "c")


def test_the_first_check_of_a_period_opened_early_is_the_week_ahead_reminder_in_working_hours() -> None:
    skipped, first = opening_state(report_item(ref("a")), datetime(2027, 6, 1, tzinfo=UTC), CALENDAR, WINDOW)
    assert skipped == []
    # 7 days before 23:59 on Wed 30 June is 23:59 on Wed 23 June: brought forward to 07:30 that day
    assert first == datetime(2027, 6, 23, 7, 30, tzinfo=VIETNAM)


def test_a_period_opened_the_day_before_skips_the_reminders_and_first_checks_when_overdue() -> None:
    opened_at = datetime(2027, 6, 30, 8, 0, tzinfo=VIETNAM)
    skipped, first = opening_state(report_item(ref("a")), opened_at, CALENDAR, WINDOW)
    assert skipped == ["reminder-7d#1", "reminder-1d#1"]
    # the deadline passes at midnight; the overdue notice waits for the window: Thu 1 July, 07:30
    assert first == datetime(2027, 7, 1, 7, 30, tzinfo=VIETNAM)


def test_an_acknowledgement_window_first_checks_at_once_then_two_working_days_after_the_assignment() -> None:
    friday_4pm = datetime(2027, 6, 4, 16, 0, tzinfo=VIETNAM)
    window = domain.acknowledgement_window(created(ref("a"), friday_4pm.astimezone(UTC)), LADDER, "c")
    skipped, first = opening_state(window, friday_4pm, CALENDAR, WINDOW)
    assert skipped == [] and first == friday_4pm  # the assignment notice, at once
    without_notice = {**window, "steps": [s for s in window["steps"] if s["ask"] != "notice"]}
    skipped, first = opening_state(without_notice, friday_4pm, CALENDAR, WINDOW)
    assert first == datetime(2027, 6, 8, 16, 0, tzinfo=VIETNAM)  # Tuesday: the weekend does not count


def test_the_next_check_is_the_earliest_moment_strictly_ahead_rounded_up_to_the_millisecond() -> None:
    now = datetime(2027, 7, 1, tzinfo=UTC)
    later = now + timedelta(hours=5, microseconds=1)
    soon = now + timedelta(hours=2, microseconds=999_999)
    assert next_check([later, now, now - timedelta(days=1), soon], now) == now + timedelta(hours=2, seconds=1)
    assert next_check([now, now - timedelta(seconds=1)], now) is None
    assert next_check([], now) is None
    assert next_check([datetime(2027, 7, 2)], now) == datetime(2027, 7, 2, tzinfo=UTC)  # naive = UTC


def test_ceil_ms_never_moves_a_moment_earlier() -> None:
    assert ceil_ms(H1_DUE) == datetime(2027, 6, 30, 17, 0, tzinfo=UTC)
    exact = datetime(2027, 6, 30, 17, 0, 0, 123_000, tzinfo=UTC)
    assert ceil_ms(exact) == exact
    assert ceil_ms(exact + timedelta(microseconds=1)) == exact + timedelta(milliseconds=1)
