"""OCR's usual errors, each from sample lines written for the test."""

from __future__ import annotations

from services.intake.documents.ocr_normalise import (
    fix_inner_capitals,
    fix_line_starts,
    fix_number_spacing,
    fix_section_numerals,
    normalise_ocr_pages,
)


def test_a_numeral_stuck_to_its_heading_gets_its_space() -> None:
    assert fix_number_spacing("I.MỤC ĐÍCH, YÊU CẦU") == "I. MỤC ĐÍCH, YÊU CẦU"
    assert fix_number_spacing("2.Ban Tuyên giáo Đảng ủy: Xây dựng") == "2. Ban Tuyên giáo Đảng ủy: Xây dựng"
    assert fix_number_spacing("2.1.Tổ chức hội nghị") == "2.1. Tổ chức hội nghị"
    # A date or a number with a decimal point is not a numbered item.
    assert fix_number_spacing("ngày 15.12.2026 gửi báo cáo") == "ngày 15.12.2026 gửi báo cáo"
    assert fix_number_spacing("1.5 triệu đồng") == "1.5 triệu đồng"


def test_section_numerals_follow_their_sequence() -> None:
    lines = ["I. MỤC ĐÍCH, YÊU CẦU", "- Nâng cao ý thức.", "IIL NỘI DUNG", "- Trồng cây.", "II. TỔ CHỨC THỰC HIỆN"]
    assert fix_section_numerals(lines) == [
        "I. MỤC ĐÍCH, YÊU CẦU",
        "- Nâng cao ý thức.",
        "II. NỘI DUNG",
        "- Trồng cây.",
        "III. TỔ CHỨC THỰC HIỆN",
    ]
    assert fix_section_numerals(["I. MỤC ĐÍCH", "|I. NỘI DUNG"]) == ["I. MỤC ĐÍCH", "II. NỘI DUNG"]
    assert fix_section_numerals(["l. MỤC ĐÍCH", "II. NỘI DUNG"]) == ["I. MỤC ĐÍCH", "II. NỘI DUNG"]
    # The first heading is taken as read: a scanned page may start at section III.
    assert fix_section_numerals(["III. TỔ CHỨC THỰC HIỆN"]) == ["III. TỔ CHỨC THỰC HIỆN"]


def test_a_numeral_that_is_no_misreading_is_kept_and_the_sequence_goes_on_from_it() -> None:
    lines = ["I. MỤC ĐÍCH", "IV. KINH PHÍ", "IV. TỔ CHỨC THỰC HIỆN"]
    assert fix_section_numerals(lines) == ["I. MỤC ĐÍCH", "IV. KINH PHÍ", "V. TỔ CHỨC THỰC HIỆN"]
    # Items in capitals are not sections, and a line in lowercase is no heading.
    assert fix_section_numerals(["I. MỤC ĐÍCH", "1. THÀNH LẬP BAN CHỈ ĐẠO"]) == [
        "I. MỤC ĐÍCH",
        "1. THÀNH LẬP BAN CHỈ ĐẠO",
    ]
    assert fix_section_numerals(["I. MỤC ĐÍCH", "Il nói về"]) == ["I. MỤC ĐÍCH", "Il nói về"]


def test_capitals_with_diacritics_inside_a_word_are_lowered() -> None:
    assert fix_inner_capitals("Chính phủ điện tỬ") == "Chính phủ điện tử"
    assert fix_inner_capitals("ChỈ thị số 03-CT/TW") == "Chỉ thị số 03-CT/TW"
    # Capitals after a space, whole words in capitals and symbols written so on purpose are left alone.
    assert fix_inner_capitals("Đảng Ủy phường") == "Đảng Ủy phường"
    assert fix_inner_capitals("ĐẢNG ỦY PHƯỜNG HÒA AN") == "ĐẢNG ỦY PHƯỜNG HÒA AN"
    assert fix_inner_capitals("Chỉ thị số 28/CT-TTg") == "Chỉ thị số 28/CT-TTg"


def test_a_bullet_or_a_sentence_starts_with_a_capital() -> None:
    lines = ["- tổ chức trồng cây xanh.", "duy trì ngày chủ nhật xanh.", "1. ubnd phường: Bố trí kinh phí."]
    assert fix_line_starts(lines) == [
        "- Tổ chức trồng cây xanh.",
        "Duy trì ngày chủ nhật xanh.",
        "1. Ubnd phường: Bố trí kinh phí.",
    ]


def test_a_capital_gained_where_a_line_goes_on_is_dropped_unless_the_word_is_a_name() -> None:
    lines = [
        "- Xây dựng nội dung tuyên truyền trên hệ thống loa truyền",
        "Thanh và trang thông tin của phường, nhận thanh toán;",
        "- Vận động",
        "Nhân dân tham gia, cùng Nhân dân giữ gìn vệ sinh.",
    ]
    assert fix_line_starts(lines) == [
        "- Xây dựng nội dung tuyên truyền trên hệ thống loa truyền",
        "thanh và trang thông tin của phường, nhận thanh toán;",
        "- Vận động",
        "Nhân dân tham gia, cùng Nhân dân giữ gìn vệ sinh.",
    ]


def test_pages_keep_their_lines_and_blank_lines() -> None:
    pages = ["I.MỤC ĐÍCH\n\n- nâng cao ý thức.\n", "IIL NỘI DUNG\nđiện tỬ.", "KẾ HOẠCH\ntrồng cây xanh"]
    # The line after a heading is left as read: a title's second line starts in lowercase.
    assert normalise_ocr_pages(pages) == [
        "I. MỤC ĐÍCH\n\n- Nâng cao ý thức.\n",
        "II. NỘI DUNG\nđiện tử.",
        "KẾ HOẠCH\ntrồng cây xanh",
    ]
