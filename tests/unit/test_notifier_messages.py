"""How a notice reads: subjects per kind, formal Vietnamese wording, HTML escaping, safe headers."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

from services.notifier.mailer import build_message, classify
from services.notifier.rules.links import IssuedLink, LinkRequest, fill, new_link_message
from services.notifier.rules.messages import DeadlineLine, Item, describe_duration, render_digest
from shared.domain.places import clause_name, place, places

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


# --- the assignment notice and personal links -----------------------------------------------------------------


def notice(**changes: object) -> Item:
    deadlines = (
        DeadlineLine("2026-Q3", datetime(2026, 9, 30, 16, 59, 59, tzinfo=UTC), "báo cáo quý III, gửi trước ngày 01/10"),
        DeadlineLine("2026-FY", datetime(2026, 12, 15, 16, 59, 59, tzinfo=UTC)),
    )
    values: dict[str, object] = dict(
        track="acknowledgement",
        period=None,
        anchor=NOW,
        wording="",
        step="assignment-notice",
        ask="notice",
        task="Tổ chức hội nghị quán triệt Nghị quyết.\nTổng hợp ý kiến của đảng viên.",
        agency_code="chi-bo-khu-1",
        recipient_code="chi-bo-khu-1",
        deadlines=deadlines,
    )
    values.update(changes)
    return item(**values)


def test_the_assignment_notice_says_what_is_assigned_by_when_what_to_deliver_and_whom_to_contact() -> None:
    digest = render_digest("Chi bộ khu dân cư số 1", [notice()], marker="m1")
    assert digest.subject == "[Đôn đốc] Thông báo giao nhiệm vụ – Kế hoạch số 85-KH/ĐU – Chi bộ khu dân cư số 1"
    text = digest.text
    assert "Hệ thống đôn đốc trân trọng thông báo nhiệm vụ được giao cho đơn vị theo kế hoạch dưới đây:" in text
    assert "Chi bộ khu dân cư số 1 — được giao lúc 09:00 ngày 03/07/2026." in text
    assert "– Tổ chức hội nghị quán triệt Nghị quyết.\n" in text and "– Tổng hợp ý kiến của đảng viên.\n" in text
    assert "– Kỳ 2026-Q3: “báo cáo quý III, gửi trước ngày 01/10”, hạn cuối 23:59 ngày 30/09/2026." in text
    assert "– Kỳ 2026-FY: hạn cuối 23:59 ngày 15/12/2026." in text
    assert "Sản phẩm cần gửi: báo cáo kết quả thực hiện của từng kỳ nêu trên" in text
    assert "Đề nghị đơn vị xác nhận đã nhận nhiệm vụ" in text
    assert "Mọi vướng mắc xin liên hệ: Đảng ủy phường Hòa An (dang-uy@hoa-an.example)." in text
    assert text.index("– Kỳ 2026-Q3") < text.index("[[m1:0]]") < text.index("Mọi vướng mắc")
    assert digest.links == (LinkRequest("chi-bo-khu-1"),)
    assert unicodedata.is_normalized("NFC", text) and unicodedata.is_normalized("NFC", digest.html)
    assert unicodedata.is_normalized("NFC", digest.subject)


def test_a_notice_with_one_clause_reads_on_one_line_and_several_notices_are_counted_in_the_subject() -> None:
    one = render_digest("x", [notice(task="Báo cáo kết quả.")]).text
    assert "Nội dung nhiệm vụ: Báo cáo kết quả." in one
    two = render_digest("x", [notice(), notice(period_id="a2:ack", plan_id="p2")])
    assert two.subject == "[Đôn đốc] Thông báo giao 2 nhiệm vụ"
    mixed = render_digest("x", [notice(), item()])
    assert mixed.subject == "[Đôn đốc] 2 nội dung cần đôn đốc (1 quá hạn báo cáo)"


def test_an_agency_gets_its_own_link_and_a_supervisor_a_view_link_per_late_body() -> None:
    late = [
        item(role="supervisor", level=1, ask="explain", agency_code="mttq", agency_name="Ủy ban MTTQ phường"),
        item(role="supervisor", level=1, ask="explain", agency_code="ubnd", agency_name="UBND phường"),
        item(role="supervisor", copy=True, agency_code="mttq", agency_name="Ủy ban MTTQ phường"),
    ]
    supervisor = [i.__class__(**{**i.__dict__, "recipient_code": "dang-uy"}) for i in late]
    digest = render_digest("Thường trực", supervisor, marker="m2")
    assert digest.links == (
        LinkRequest("dang-uy", "view", "ubnd", "UBND phường"),
        LinkRequest("dang-uy", "view", "mttq", "Ủy ban MTTQ phường"),
    )
    assert "[[m2:0]]" in digest.text and "[[m2:1]]" in digest.text and "[[m2:2]]" not in digest.text
    assert render_digest("x", [item(recipient_code="chi-bo-khu-1")]).links == ()  # no marker: no links


def test_links_replace_their_marker_lines_escaped_in_html() -> None:
    digest = render_digest("Chi bộ", [notice()], marker="m3")
    url = 'http://web.example/l/abc"<x>'
    text, page = fill(digest.text, digest.html, "m3", [(LinkRequest("chi-bo-khu-1"), IssuedLink(url, True, NOW))])
    assert "[[m3" not in text and "[[m3" not in page
    assert f"đề nghị không chuyển tiếp thư này:\n{url}\n" in text and "có giá trị đến ngày 03/07/2026" in text
    assert '<a href="http://web.example/l/abc&quot;&lt;x&gt;">' in page and url not in page
    fallback = IssuedLink("http://web.example/lien-ket-moi", False)
    text, _ = fill(digest.text, digest.html, "m3", [(LinkRequest("chi-bo-khu-1"), fallback)])
    assert "đơn vị đề nghị cấp đường dẫn truy cập tại:\nhttp://web.example/lien-ket-moi" in text


def test_the_new_link_e_mail() -> None:
    message = new_link_message("Chi bộ khu dân cư số 1", LinkRequest("chi-bo-khu-1"), "m4", "Văn phòng Đảng ủy")
    assert message.subject == "[Đôn đốc] Cấp đường dẫn truy cập mới – Chi bộ khu dân cư số 1"
    assert message.text.startswith("Kính gửi: Chi bộ khu dân cư số 1.\n")
    assert "Theo đề nghị cấp lại đường dẫn truy cập trang của đơn vị trên hệ thống đôn đốc" in message.text
    assert "[[m4:0]]" in message.text and "[[m4:0]]" in message.html
    view = new_link_message("Thường trực", LinkRequest("dang-uy", "view", "mttq", "Ủy ban MTTQ phường"), "m5")
    assert "đường dẫn theo dõi tình hình thực hiện của Ủy ban MTTQ phường" in view.text
    assert unicodedata.is_normalized("NFC", message.text + view.text)


# --- where the plan's document writes the task and its deadlines ---------------------------------------------


def test_places_read_as_a_ward_office_cites_its_plans() -> None:
    assert clause_name("2") == "khoản 2" and clause_name("2.1") == "mục 2.1" and clause_name("a") == "điểm a"
    assert clause_name("III") == "mục III" and clause_name("đ)") == "điểm đ"
    assert place({"clause": "2", "page": 3, "line": 12}) == "khoản 2, trang 3, dòng 12"
    assert place({"clause": None, "page": None, "line": 40}) == "dòng 40"
    assert place(None) == "" and places([]) == ""
    same = {"clause": "2", "line": 7}
    assert places([same, same, {"clause": "b", "line": 9}]) == "khoản 2, dòng 7; điểm b, dòng 9"


def test_the_notice_names_the_clause_of_its_task_and_of_each_deadline() -> None:
    deadline = DeadlineLine(
        "2026-FY", datetime(2026, 12, 15, 16, 59, 59, tzinfo=UTC), "trước ngày 16/12", {"clause": "4", "line": 30}
    )
    one = notice(task="Báo cáo kết quả.", provenance=({"clause": "2", "page": 3, "line": 12},), deadlines=(deadline,))
    digest = render_digest("Chi bộ khu dân cư số 1", [one])
    assert "Nội dung nhiệm vụ (khoản 2, trang 3, dòng 12 của Kế hoạch): Báo cáo kết quả." in digest.text
    assert "– Kỳ 2026-FY: “trước ngày 16/12”, hạn cuối 23:59 ngày 15/12/2026 (ghi tại khoản 4, dòng 30)." in (
        digest.text
    )
    assert "khoản 2, trang 3, dòng 12 của Kế hoạch" in digest.html
    assert all(unicodedata.is_normalized("NFC", t) for t in (digest.text, digest.html, digest.subject))


def test_several_clauses_each_with_its_place_or_the_places_together() -> None:
    both = ({"clause": "1", "line": 20}, {"clause": "a", "page": 2, "line": 4})
    text = render_digest("x", [notice(provenance=both)]).text
    assert "– Khoản 1, dòng 20: Tổ chức hội nghị quán triệt Nghị quyết.\n" in text
    assert "– Điểm a, trang 2, dòng 4: Tổng hợp ý kiến của đảng viên.\n" in text
    fewer = render_digest("x", [notice(provenance=both[:1])]).text
    assert "Nội dung nhiệm vụ (khoản 1, dòng 20 của Kế hoạch):\n" in fewer
    assert "– Tổng hợp ý kiến của đảng viên.\n" in fewer
    plain = render_digest("x", [notice()]).text  # a structured plan: no places, no parentheses
    assert "Nội dung nhiệm vụ:\n" in plain and "của Kế hoạch)" not in plain


def test_an_extended_deadline_says_so_with_the_deadline_before() -> None:
    moved = DeadlineLine(
        "2026-FY",
        datetime(2027, 1, 15, 16, 59, 59, tzinfo=UTC),
        "gia hạn đến ngày 15/01/2027",
        previous_due_at=datetime(2026, 12, 15, 16, 59, 59, tzinfo=UTC),
    )
    text = render_digest("x", [notice(deadlines=(moved,))]).text
    assert (
        "– Kỳ 2026-FY: “gia hạn đến ngày 15/01/2027”, hạn cuối 23:59 ngày 15/01/2027 "
        "(đã gia hạn, hạn trước đây 23:59 ngày 15/12/2026)." in text
    )
    earlier = DeadlineLine("2026-FY", moved.due_at - timedelta(days=40), previous_due_at=moved.previous_due_at)
    assert (
        "(đã điều chỉnh, hạn trước đây 23:59 ngày 15/12/2026)."
        in render_digest("x", [notice(deadlines=(earlier,))]).text
    )
    assert unicodedata.is_normalized("NFC", text)
