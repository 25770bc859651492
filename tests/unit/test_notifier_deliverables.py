"""The assignment notice names the section and clause of the task ("mục III, khoản 2") and what the plan asks the
body to deliver and where, in the plan's words (NFC); acknowledgement windows stored before these fields render
as before."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

from services.notifier import domain
from services.notifier.rules.decisions import Notice, Recipient
from services.notifier.rules.deliverables import GENERAL, deliverable_lines
from services.notifier.rules.messages import html_line, items_for, render_digest
from services.notifier.rules.schedule import Occurrence
from shared.contracts.ladder import Step
from shared.domain.deliverables import requirement_text
from shared.domain.places import place
from tests.unit.test_notifier_domain import LADDER
from tests.unit.test_notifier_messages import NOW, notice

III_2 = {"clause": "2", "section": "III", "section_title": "TỔ CHỨC THỰC HIỆN", "page": None, "line": 40}
WORD_AND_SCAN = {
    "items": ["01 file word", "01 file scan"],
    "send_to": "Văn phòng Đảng ủy",
    "wording": "Các đơn vị gửi báo cáo về Văn phòng Đảng ủy bằng 01 file word và 01 file scan.",
    "provenance": {"clause": None, "section": "IV", "page": None, "line": 52},
}


def test_a_place_names_its_section_before_its_clause() -> None:
    assert place(III_2) == "mục III, khoản 2, dòng 40"
    assert place({"section": "II", "clause": "2.1", "page": 3, "line": 7}) == "mục II, tiểu mục 2.1, trang 3, dòng 7"
    assert place({"section": "IV", "clause": None, "line": 52}) == "mục IV, dòng 52"
    assert place({"clause": "2", "line": 40}) == "khoản 2, dòng 40"  # kept before sections were published


def test_the_notice_says_mục_iii_khoản_2_and_what_to_send_where() -> None:
    digest = render_digest(
        "Chi bộ khu dân cư số 1", [notice(task="Báo cáo kết quả.", provenance=(III_2,), deliverables=(WORD_AND_SCAN,))]
    )
    text = digest.text
    assert "Nội dung nhiệm vụ (mục III, khoản 2, dòng 40 của Kế hoạch): Báo cáo kết quả." in text
    assert (
        "Sản phẩm cần gửi theo Kế hoạch: 01 file word và 01 file scan, gửi đến Văn phòng Đảng ủy "
        "(mục IV, dòng 52 của Kế hoạch)." in text
    )
    assert "Đồng thời, đề nghị đơn vị nộp báo cáo kèm các tệp trên hệ thống đôn đốc" in text
    assert GENERAL not in text
    assert "01 file word và 01 file scan, gửi đến Văn phòng Đảng ủy" in digest.html
    assert all(unicodedata.is_normalized("NFC", t) for t in (digest.text, digest.html, digest.subject))


def test_a_link_an_address_and_several_requirements_read_naturally() -> None:
    link = {"items": ["01 tệp Word", "01 bản scan có chữ ký"], "send_to": "https://drive.example.vn/kh-47"}
    assert (
        requirement_text(link)
        == "01 tệp Word và 01 bản scan có chữ ký, gửi qua đường dẫn https://drive.example.vn/kh-47"
    )
    mail = {"items": ["01 file PDF"], "send_to": "vpdu@hoaan.gov.vn"}
    assert requirement_text(mail) == "01 file PDF, gửi đến địa chỉ thư điện tử vpdu@hoaan.gov.vn"
    where_only = {"send_to": "Đảng ủy", "provenance": III_2}
    assert (
        requirement_text(where_only)
        == "báo cáo kết quả thực hiện, gửi đến Đảng ủy (mục III, khoản 2, dòng 40 của Kế hoạch)"
    )
    assert deliverable_lines([link, mail]) == [
        "Sản phẩm cần gửi theo Kế hoạch:",
        "– 01 tệp Word và 01 bản scan có chữ ký, gửi qua đường dẫn https://drive.example.vn/kh-47.",
        "– 01 file PDF, gửi đến địa chỉ thư điện tử vpdu@hoaan.gov.vn.",
        deliverable_lines([link])[1],
    ]
    assert deliverable_lines([where_only, mail])[1].startswith("– Báo cáo kết quả thực hiện, gửi đến Đảng ủy (mục III")
    assert deliverable_lines([]) == [GENERAL] and deliverable_lines([{"items": [], "send_to": None}]) == [GENERAL]


def test_decomposed_wording_is_sent_composed() -> None:
    decomposed = {k: unicodedata.normalize("NFD", v) if isinstance(v, str) else v for k, v in WORD_AND_SCAN.items()}
    decomposed["items"] = [unicodedata.normalize("NFD", "01 tệp Word")]
    assert not unicodedata.is_normalized("NFC", decomposed["send_to"])
    text = render_digest("x", [notice(deliverables=(decomposed,))]).text
    assert "01 tệp Word, gửi đến Văn phòng Đảng ủy" in text and unicodedata.is_normalized("NFC", text)


def created(**fields: Any) -> dict[str, Any]:
    agency = {"code": "chi-bo-khu-1", "kind": "party_cell", "name": "Chi bộ khu dân cư số 1"}
    return {
        "assignment_id": "a1",
        "plan_id": "p1",
        "plan_number": "85-KH/ĐU",
        "plan_title": "Kế hoạch tuyên truyền",
        "task": "Báo cáo kết quả.",
        "issuer": {"code": "dang-uy", "kind": "office", "name": "Đảng ủy"},
        "agency": agency,
        "occurred_at": NOW - timedelta(hours=1),
        "deadlines": [{"period": "2026-FY", "due_at": datetime(2026, 12, 15, 16, 59, tzinfo=UTC), "wording": ""}],
        **fields,
    }


def rendered(row: dict[str, Any]) -> str:
    step = Step(name="assignment-notice", at="0", to=("agency",), level=0, ask="notice", track="acknowledgement")
    occurrence = Occurrence(step=step, number=1, at=NOW, send_at=NOW)
    recipient = Recipient("cb1@hoaan.example", "Chi bộ khu dân cư số 1", "chi-bo-khu-1", "agency", False)
    notices = [Notice(key="a1:ack|assignment-notice#1|cb1", occurrence=occurrence, recipient=recipient)]
    return render_digest("Chi bộ khu dân cư số 1", items_for(notices, {"a1:ack": row}, {}, NOW)).text


def test_the_window_keeps_the_requirements_and_an_older_window_still_renders() -> None:
    window = domain.acknowledgement_window(
        created(provenance=[III_2], deliverables_required=[WORD_AND_SCAN]), LADDER, "cal"
    )
    assert window["deliverables_required"] == [WORD_AND_SCAN]
    text = rendered(window)
    assert "(mục III, khoản 2, dòng 40 của Kế hoạch)" in text and "01 file word và 01 file scan" in text
    # A window stored before: no `deliverables_required`, places without a section.
    older = {k: v for k, v in window.items() if k != "deliverables_required"}
    older["provenance"] = [{"clause": "2", "page": None, "line": 40}]
    text = rendered(older)
    assert "Nội dung nhiệm vụ (khoản 2, dòng 40 của Kế hoạch): Báo cáo kết quả." in text and GENERAL in text
    assert domain.acknowledgement_window(created(), LADDER, "cal")["deliverables_required"] == []


def test_a_shared_folder_link_is_a_link_in_the_html_part_and_nothing_else_is() -> None:
    folder = {**WORD_AND_SCAN, "send_to": "https://drive.example.vn/thu-muc?id=7&x=<b>"}
    digest = render_digest("Chi bộ khu dân cư số 1", [notice(task="Báo cáo kết quả.", deliverables=(folder,))])
    assert (
        '<a href="https://drive.example.vn/thu-muc?id=7&amp;x=">https://drive.example.vn/thu-muc?id=7&amp;x=</a>'
        in (digest.html)
    )
    assert "qua đường dẫn https://drive.example.vn/thu-muc?id=7&x=<b> (mục IV" in digest.text
    assert html_line("Xem https://a.example/b. Rồi (https://c.example/d), javascript:alert(1)") == (
        'Xem <a href="https://a.example/b">https://a.example/b</a>. Rồi '
        '(<a href="https://c.example/d">https://c.example/d</a>), javascript:alert(1)'
    )
    assert html_line("<script>1</script>") == "&lt;script&gt;1&lt;/script&gt;"
