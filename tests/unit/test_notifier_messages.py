"""How a notice reads: subjects per kind, formal Vietnamese wording, HTML escaping, safe headers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.notifier.mailer import build_message, classify
from services.notifier.rules.messages import Item, describe_duration, render_digest

NOW = datetime(2026, 7, 3, 2, 0, tzinfo=UTC)


def item(**changes: object) -> Item:
    values: dict[str, object] = dict(
        period_id="a1:2026-FY",
        plan_id="p1",
        plan_number="85-KH/ĐU",
        plan_title="Kế hoạch <b>dân vận</b>",
        task="Tổng hợp số liệu",
        agency_name="Chi bộ khu dân cư số 1",
        track="report",
        period="2026-FY",
        anchor=NOW - timedelta(days=3),
        wording="gửi trước ngày 01 tháng 7",
        step="overdue",
        level=0,
        ask="report",
        role="agency",
        copy=False,
        contact="Đảng ủy phường Hòa An (dang-uy@hoa-an.example)",
        now=NOW,
    )
    values.update(changes)
    return Item(**values)  # type: ignore[arg-type]


def test_an_overdue_notice_to_the_agency() -> None:
    digest = render_digest("Chi bộ khu dân cư số 1", [item()])
    assert digest.subject == "[Đôn đốc] Quá hạn báo cáo – Kế hoạch số 85-KH/ĐU – Chi bộ khu dân cư số 1"
    assert "Tình trạng: đã quá hạn 3 ngày, chưa nhận được báo cáo." in digest.text
    assert "“gửi trước ngày 01 tháng 7” — hạn cuối 09:00 ngày 30/06/2026" in digest.text
    assert "Đề nghị đơn vị khẩn trương hoàn thành và gửi báo cáo" in digest.text
    assert "Mọi vướng mắc xin liên hệ: Đảng ủy phường Hòa An (dang-uy@hoa-an.example)." in digest.text
    assert "&lt;b&gt;dân vận&lt;/b&gt;" in digest.html and "<b>dân vận</b>" not in digest.html


def test_subjects_for_reminders_levels_acknowledgements_and_digests() -> None:
    assert render_digest("x", [item(anchor=NOW + timedelta(days=1))]).subject.startswith("[Đôn đốc] Nhắc hạn")
    assert "Đôn đốc cấp 2" in render_digest("x", [item(level=2, role="upper_supervisor", ask="explain")]).subject
    ack = render_digest("x", [item(track="acknowledgement", period=None, ask="acknowledge", anchor=NOW)])
    assert "xác nhận nhận nhiệm vụ" in ack.subject and "xác nhận đã nhận nhiệm vụ" in ack.text
    many = render_digest("x", [item(), item(period_id="a2:2026-FY", anchor=NOW + timedelta(days=2))])
    assert many.subject == "[Đôn đốc] 2 nội dung cần đôn đốc (1 quá hạn báo cáo)"


def test_a_supervisor_is_asked_to_follow_up_and_explain() -> None:
    text = render_digest("Thường trực", [item(role="supervisor", level=1, ask="explain")]).text
    assert "Đề nghị đồng chí chỉ đạo, đôn đốc đơn vị thực hiện và yêu cầu đơn vị báo cáo giải trình." in text


def test_durations_read_naturally() -> None:
    assert describe_duration(timedelta(days=3, hours=2, minutes=5)) == "3 ngày 2 giờ"
    assert describe_duration(timedelta(seconds=40)) == "40 giây"


def test_names_with_line_breaks_cannot_add_headers() -> None:
    row = {
        "_id": "abc",
        "to": "a@example.org",
        "to_name": "Chi bộ\r\nBcc: x@evil.example",
        "subject": "S\nBcc: y",
        "text": "t",
        "html": "<p>t</p>",
        "created_at": NOW,
    }
    message = build_message(row, "Hệ thống đôn đốc <dondoc@localhost>")
    raw = message.as_string()
    assert "\nBcc:" not in raw and message["Message-ID"] == "<abc@dondoc>"
    assert message.get_content_type() == "multipart/alternative"


def test_smtp_failures_are_classified() -> None:
    import aiosmtplib

    assert classify(aiosmtplib.SMTPDataError(554, "rejected")) == (True, 554)
    assert classify(aiosmtplib.SMTPDataError(421, "later")) == (False, 421)
    assert classify(aiosmtplib.SMTPServerDisconnected("gone")) == (False, None)
    assert classify(ConnectionRefusedError()) == (False, None)
    refused = aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "no such user", "a@b")])
    assert classify(refused) == (True, 550)
