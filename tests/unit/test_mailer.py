"""An e-mail built from a queued row: no header can be injected through a name or a subject, the Message-ID is
stable, and the Vietnamese body survives the trip through bytes."""

from __future__ import annotations

import base64
import email
import uuid
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from services.notifier.mailer import build_message
from services.notifier.rules.headers import MAX_HEADER_CHARS, UnsafeHeader, header_text

SENDER = "Hệ thống đôn đốc <dondoc@hoa-an.example>"
BODY = (
    "Kính gửi: Ủy ban nhân dân phường Hòa An.\n\n"
    "Kế hoạch số 15-KH/ĐU: nhiệm vụ tổng vệ sinh đường phố đã quá hạn 4 ngày, chưa nhận được báo cáo.\n"
    "Đề nghị đơn vị khẩn trương gửi báo cáo.\n"
)
HEADERS = ["From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "MIME-Version", "Content-Type"]


def row(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "_id": uuid.uuid4().hex,
        "to": "ubnd@hoa-an.example",
        "to_name": "Ủy ban nhân dân phường Hòa An",
        "subject": "[Đôn đốc] Quá hạn báo cáo – Kế hoạch số 15-KH/ĐU",
        "text": BODY,
        "created_at": datetime(2027, 7, 5, 2, 0, tzinfo=UTC),
    }
    values.update(changes)
    return values


def reparsed(message: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.mark.parametrize(
    "subject",
    [
        "Quá hạn báo cáo\r\nBcc: thu-bi-mat@evil.example",
        "Quá hạn báo cáo\nBcc: thu-bi-mat@evil.example",
        "Quá hạn báo cáo\rBcc: thu-bi-mat@evil.example",
        "Quá hạn báo cáo\r\n\r\nBcc: thu-bi-mat@evil.example",
        "Quá hạn báo cáo\u2028Bcc: thu-bi-mat@evil.example",
        "Quá hạn báo cáo\x85Bcc: thu-bi-mat@evil.example",
    ],
    ids=["crlf", "lf", "cr", "blank-line", "line-separator", "next-line"],
)
def test_a_line_break_in_the_subject_cannot_add_a_header(subject: str) -> None:
    message = build_message(row(subject=subject, html="<p>x</p>"), SENDER)
    raw = message.as_bytes()

    assert message.keys() == HEADERS
    assert message["Subject"] == "Quá hạn báo cáo Bcc: thu-bi-mat@evil.example"
    assert b"\nBcc:" not in raw and b"\rBcc:" not in raw
    back = reparsed(message)
    assert "Bcc" not in back and back.keys() == HEADERS
    assert back["Subject"] == "Quá hạn báo cáo Bcc: thu-bi-mat@evil.example"
    assert back.get_body(("plain",)).get_content() == BODY  # the blank line did not start the body early


def test_a_line_break_in_the_recipient_name_cannot_add_a_header() -> None:
    message = build_message(row(to_name="Chi bộ khu 1\r\nBcc: x@evil.example\r\nX-Priority: 1"), SENDER)
    back = reparsed(message)
    assert sorted(back.keys()) == sorted([*HEADERS, "Content-Transfer-Encoding"])
    assert back["To"].addresses[0].addr_spec == "ubnd@hoa-an.example"
    assert back["To"].addresses[0].display_name == "Chi bộ khu 1 Bcc: x@evil.example X-Priority: 1"


@pytest.mark.parametrize(
    "address",
    [
        "ubnd@hoa-an.example\r\nBcc: x@evil.example",
        "ubnd@hoa-an.example\n",
        "a@x.example, b@y.example",
        "",
        "ủy-ban@hoa-an.example",
        '"quoted"@hoa-an.example',
        "=?utf-8?q?a=0D=0ABcc=3A_x?=@hoa-an.example",
        "ubnd@hoa-an.example (comment)",
        "Tên <ubnd@hoa-an.example>",
    ],
)
def test_an_address_that_is_not_one_plain_address_is_refused(address: str) -> None:
    with pytest.raises(UnsafeHeader):
        build_message(row(to=address), SENDER)


ENCODED_CRLF = "=?utf-8?q?85=0D=0AReply-To=3A_evil=40x.example=0D=0ABcc=3A_bi-mat=40evil.example?="


@pytest.mark.parametrize(
    "value",
    [
        ENCODED_CRLF,
        "=?utf-8?b?" + base64.b64encode(b"x\r\n\r\nfake body").decode() + "?=",
        "Ch\u1ecb b\u1ed9 =?UTF-8?Q?x=0AX-Priority=3A_1?= khu 1",
        "==??utf-8?q?x=0D=0ABcc=3A_y?=",
        "85\x00Bcc: a@evil.example",
        "85\x7f\x1b[31m\u2029Bcc: a@evil.example",
    ],
    ids=["encoded-crlf", "encoded-blank-line-base64", "encoded-inside-name", "doubled-opener", "nul", "del-esc-u2029"],
)
def test_encoded_words_and_control_characters_cannot_add_a_header(value: str) -> None:
    message = build_message(row(subject=f"Kế hoạch số {value}", to_name=value), SENDER)
    back = reparsed(message)
    assert sorted(back.keys()) == sorted([*HEADERS, "Content-Transfer-Encoding"])
    assert [a.addr_spec for a in back["To"].addresses] == ["ubnd@hoa-an.example"]
    assert "=?" not in str(back["Subject"]) and "\r" not in str(back["Subject"]) and "\n" not in str(back["Subject"])
    assert back.get_content() == BODY


def test_header_text_folds_to_one_clean_line() -> None:
    assert header_text("a\r\n b\u2028c\x85d\x00e\tf") == "a b c d e f"
    assert header_text("=?x?q?y?=") == "= ?x?q?y?="
    assert header_text("x" * 2_000) == "x" * MAX_HEADER_CHARS
    assert header_text("Kế hoạch số 85-KH/ĐU") == "Kế hoạch số 85-KH/ĐU"


def test_the_message_id_is_stable_for_a_row_and_differs_between_rows() -> None:
    first = row()
    assert build_message(first, SENDER)["Message-ID"] == f"<{first['_id']}@dondoc>"
    assert build_message(dict(first), SENDER)["Message-ID"] == build_message(first, SENDER)["Message-ID"]
    assert build_message(first, SENDER, domain="hoa-an.example")["Message-ID"] == f"<{first['_id']}@hoa-an.example>"
    assert build_message(row(), SENDER)["Message-ID"] != build_message(first, SENDER)["Message-ID"]


def test_the_vietnamese_body_is_utf8_quoted_printable_and_decodes_back() -> None:
    message = build_message(row(), SENDER)
    raw = message.as_bytes()

    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert message["Content-Transfer-Encoding"] == "quoted-printable"
    raw.decode("ascii")  # nothing but ASCII on the wire
    assert "Kính gửi".encode() not in raw
    assert reparsed(message).get_content() == BODY


def test_an_html_alternative_decodes_back_too() -> None:
    page = "<p>Kính gửi: <strong>Hội Cựu chiến binh</strong>.</p>"
    back = reparsed(build_message(row(html=page), SENDER))
    assert back.get_content_type() == "multipart/alternative"
    assert back.get_body(("plain",)).get_content() == BODY
    assert back.get_body(("html",)).get_content().strip() == page


def test_sender_recipient_and_date_headers() -> None:
    back = reparsed(
        build_message(row(created_at=datetime(2027, 7, 5, 9, 0, tzinfo=timezone(timedelta(hours=7)))), SENDER)
    )
    assert back["From"].addresses[0].display_name == "Hệ thống đôn đốc"
    assert back["From"].addresses[0].addr_spec == "dondoc@hoa-an.example"
    assert back["To"].addresses[0].display_name == "Ủy ban nhân dân phường Hòa An"
    assert parsedate_to_datetime(back["Date"]) == datetime(2027, 7, 5, 2, 0, tzinfo=UTC)
    assert back["Auto-Submitted"] == "auto-generated"
    assert back["Subject"] == "[Đôn đốc] Quá hạn báo cáo – Kế hoạch số 15-KH/ĐU"


def test_a_naive_creation_time_from_the_database_is_utc() -> None:
    back = reparsed(build_message(row(created_at=datetime(2027, 7, 5, 2, 0)), SENDER))
    assert parsedate_to_datetime(back["Date"]) == datetime(2027, 7, 5, 2, 0, tzinfo=UTC)


def test_a_retry_waits_for_the_sending_window_and_backs_off_inside_it() -> None:
    from services.notifier.config import Settings
    from services.notifier.mailer import policy_of
    from services.notifier.rules.schedule import SendingWindow
    from services.notifier.use_cases.mail import retry_at
    from shared.domain.calendar import DEFAULT_OVERRIDES, load_calendar
    from shared.domain.clock import VIETNAM

    window = SendingWindow(load_calendar(DEFAULT_OVERRIDES))
    settings = policy_of(Settings(mail_retry_base_seconds=60, mail_retry_max_seconds=3_600))

    def vn(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 12, day, hour, minute, tzinfo=VIETNAM)

    # Thursday 3 December 2026, 10:00: inside the window, plain backoff (60 s, then 120 s, capped at one hour).
    assert retry_at(vn(3, 10), 1, settings, window) == vn(3, 10, 1)
    assert retry_at(vn(3, 10), 2, settings, window) == vn(3, 10, 2)
    assert retry_at(vn(3, 10), 12, settings, window) == vn(3, 11)
    # 16:59:30 + 60 s falls after 17:00: the retry waits for Friday 07:30, not the evening.
    assert retry_at(vn(3, 16, 59) + timedelta(seconds=30), 1, settings, window) == vn(4, 7, 30)
    # Friday 16:30 + one hour: past the window, and the weekend is not working time: Monday 7 December 07:30.
    assert retry_at(vn(4, 16, 30), 12, settings, window) == vn(7, 7, 30)
    # With no window (always open), only the backoff.
    assert retry_at(vn(4, 16, 30), 12, settings, None) == vn(4, 17, 30)


def test_the_production_image_runs_an_interpreter_with_the_cve_2024_6923_fix() -> None:
    """The notifier does not rely on it (the tests above run on whatever interpreter this is), but production
    should not run an e-mail library known to write decoded CR/LF into headers."""
    import re
    from pathlib import Path

    dockerfile = (Path(__file__).resolve().parents[2] / "deploy" / "Dockerfile").read_text()
    image = re.search(r"^ARG PYTHON_IMAGE=python:(\d+)\.(\d+)\.(\d+)-", dockerfile, re.MULTILINE)
    assert image is not None, "deploy/Dockerfile pins its base image as ARG PYTHON_IMAGE=python:X.Y.Z-…"
    version = tuple(int(part) for part in image.groups())
    assert version >= (3, 12, 5) or (3, 11, 10) <= version < (3, 12), version
    assert dockerfile.count("FROM ${PYTHON_IMAGE}") == 2 and "FROM python:" not in dockerfile


def test_the_built_bytes_are_read_back_before_a_message_leaves(monkeypatch: pytest.MonkeyPatch) -> None:
    """If a value ever reached a header without going through header_text, the read-back still stops it on an
    interpreter that writes decoded CR/LF out raw (CVE-2024-6923, this machine's 3.11.7); on a patched one the
    library's own output is clean. Either way no message with an extra header leaves build_message."""
    import services.notifier.mailer as mailer

    monkeypatch.setattr(mailer, "header_text", str)  # as if a value slipped past the one function
    try:
        message = build_message(row(subject=f"Kế hoạch số {ENCODED_CRLF}"), SENDER)
    except UnsafeHeader:
        return
    back = reparsed(message)
    assert sorted(back.keys()) == sorted([*HEADERS, "Content-Transfer-Encoding"]) and back["Reply-To"] is None
