"""A place in the plan's document with its section's heading, as the web portal cites it (the notifier's e-mails
cite it without: tests/unit/test_notifier_messages.py)."""

from __future__ import annotations

from shared.domain.places import heading, place, places

III_2 = {"section": "III", "section_title": "TỔ CHỨC THỰC HIỆN", "clause": "2", "page": 3, "line": 40}


def test_a_heading_in_capitals_reads_as_a_sentence_abbreviations_kept() -> None:
    assert heading("TỔ CHỨC THỰC HIỆN") == "Tổ chức thực hiện"
    assert heading("NHIỆM VỤ CỦA UBND, HĐND VÀ MTTQ") == "Nhiệm vụ của UBND, HĐND và MTTQ"
    assert heading("GIAI ĐOẠN II: PHÒNG, CHỐNG COVID-19") == "Giai đoạn II: phòng, chống COVID-19"
    assert heading("  Tổ chức   thực hiện ") == "Tổ chức thực hiện"  # not in capitals: as written
    assert heading("") == ""


def test_the_heading_follows_the_sections_numeral_only_when_asked() -> None:
    assert place(III_2) == "mục III, khoản 2, trang 3, dòng 40"
    assert place(III_2, titled=True) == "mục III «Tổ chức thực hiện», khoản 2, trang 3, dòng 40"
    assert place({**III_2, "section_title": None}, titled=True) == "mục III, khoản 2, trang 3, dòng 40"
    # A clause that is the section itself is named once, with its heading.
    assert place({"section": "III", "clause": "III", "section_title": "NỘI DUNG", "line": 5}, titled=True) == (
        "mục III «Nội dung», dòng 5"
    )


def test_several_places_name_a_sections_heading_once() -> None:
    other = {"section": "IV", "section_title": "CHẾ ĐỘ BÁO CÁO", "clause": "a", "line": 52}
    assert places([III_2, {**III_2, "clause": "5", "line": 44}, other], titled=True) == (
        "mục III «Tổ chức thực hiện», khoản 2, trang 3, dòng 40; mục III, khoản 5, trang 3, dòng 44; "
        "mục IV «Chế độ báo cáo», điểm a, dòng 52"
    )
    assert places([None, {}], titled=True) == ""
