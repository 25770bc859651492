from __future__ import annotations

from tests.unit.documents_support import directory


def codes(text: str) -> list[str]:
    return [m.code for m in directory().find_mentions(text)]


def test_the_longest_name_wins() -> None:
    assert codes("Ban Tuyên giáo Quận ủy") == ["quan-uy-tuyen-giao"]
    assert codes("Ban Tuyên giáo") == ["tuyen-giao"]
    assert codes("Ủy ban Mặt trận Tổ quốc và các tổ chức chính trị - xã hội phường") == ["mat-tran-va-doan-the"]


def test_matching_ignores_accents_case_and_spelling_variants() -> None:
    assert codes("UỶ BAN NHÂN DÂN PHƯỜNG") == ["ubnd"]
    assert codes("uy ban mat tran to quoc phuong") == ["mttq"]
    assert codes("Bộ phận Văn hoá và Thông tin") == ["van-hoa-thong-tin"]


def test_several_bodies_in_one_phrase_and_offsets_into_the_text() -> None:
    text = "Đoàn Thanh niên, Hội Nông dân và Hội Người cao tuổi"
    mentions = directory().find_mentions(text)
    assert [m.code for m in mentions] == ["doan-thanh-nien", "hoi-nong-dan"]
    assert text[mentions[1].start : mentions[1].end] == "Hội Nông dân"


def test_a_one_word_abbreviation_needs_its_accents() -> None:
    assert codes("du lịch") == []
    assert codes("Lưu VPĐU") == ["van-phong"]


def test_the_sample_ward_has_five_mass_organisations_and_a_dozen_party_cells() -> None:
    ward = directory()
    assert len(ward.resolve("Các tổ chức chính trị - xã hội phường")) == 5
    assert len(ward.resolve("Các chi bộ trực thuộc")) == 12
    assert ward.get("hoi-phu-nu").emails == ("hoi-phu-nu@hoa-an.example",)
