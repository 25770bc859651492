from __future__ import annotations

import unicodedata

from services.intake.documents.normalise import (
    fold_tone_placement,
    normalise_line,
    normalise_lines,
    paragraphs,
    split_lines,
)


def test_old_tone_placement_and_uy_spelling_become_one_spelling() -> None:
    assert fold_tone_placement("Uỷ ban, hoá, khoẻ, thuỷ, UỶ BAN, HOÁ") == "Ủy ban, hóa, khỏe, thủy, ỦY BAN, HÓA"


def test_tone_placement_is_left_alone_where_it_is_not_a_variant() -> None:
    # a final consonant fixes the tone on the second vowel; in `quý` the `u` belongs to the consonant
    assert fold_tone_placement("toán, hoàn, quý, quỷ, khuyên") == "toán, hoàn, quý, quỷ, khuyên"


def test_converter_noise_is_removed() -> None:
    line = "[bookmark: _page_30_0]Cuộc  vận\u00a0động “*Người Việt*” – ‘năm’ (*)\u200b"
    assert normalise_line(line) == "Cuộc vận động \"Người Việt\" - 'năm' (*)"


def test_decomposed_text_is_composed_first() -> None:
    nfd = unicodedata.normalize("NFD", "Đảng ủy phường")
    assert normalise_line(nfd) == "Đảng ủy phường"


def test_a_paragraph_broken_by_a_page_break_is_joined_with_its_lines_kept() -> None:
    lines = split_lines(
        "- Bám sát tình hình, sáng tạo,\r\n\r\n[bookmark: _page_2]\r\n\r\nđổi mới cách làm.\n\nIII. TỔ CHỨC"
    )
    result = paragraphs(lines)
    assert [p.text for p in result] == ["- Bám sát tình hình, sáng tạo, đổi mới cách làm.", "III. TỔ CHỨC"]
    assert (result[0].line, result[0].end_line) == (1, 5)
    assert result[0].original.splitlines()[0] == "- Bám sát tình hình, sáng tạo,"


def test_a_title_under_the_capitals_heading_and_a_finished_sentence_are_not_joined() -> None:
    result = paragraphs(["KẾ HOẠCH", "", "thông tin tuyên truyền", "Câu đã xong.", "còn đây là câu mới"])
    assert [p.text for p in result] == ["KẾ HOẠCH", "thông tin tuyên truyền", "Câu đã xong.", "còn đây là câu mới"]


def test_emphasis_stars_go_and_footnote_markers_stay() -> None:
    cases = {"**Đảng ủy**": "Đảng ủy", "(*)": "(*)", "(**)": "()", "a*)": "a)", "(*a": "(a", "***": "", "*(*)*": "(*)"}
    assert {line: normalise_line(line) for line in cases} == cases


def test_a_whole_text_is_normalised_as_its_lines_one_by_one() -> None:
    lines = [
        "[bookmark: _a]  Uỷ ban  nhân dân\t",
        "",
        "*hoá* – “quý”\u00a0\u00a0(*)",
        "\u3000thuỷ\u200b ",
        "[bookmark: x",
        "] khoẻ",
        "quỷ",
        unicodedata.normalize("NFD", "Mặt trận Tổ quốc"),
    ]
    assert normalise_lines(lines) == [normalise_line(line) for line in lines]
    assert normalise_lines(lines)[4:6] == ["[bookmark: x", "] khỏe"]  # a bookmark does not reach across lines


def test_a_line_holding_a_break_of_its_own_is_normalised_alone() -> None:
    lines = ["Chi bộ  khu phố 1\ncòn tiếp", "hoá"]  # a soft line break inside a .docx paragraph
    assert normalise_lines(lines) == ["Chi bộ khu phố 1\ncòn tiếp", "hóa"]
