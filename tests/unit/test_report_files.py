"""What a report file is (services/tracking/file_kinds.py) and the name it keeps (services/tracking/file_names.py)."""

from __future__ import annotations

import unicodedata

import pytest

from services.tracking import file_kinds, file_names
from services.tracking.file_kinds import FileRefused, Sniffer, expected_type
from services.tracking.use_cases.errors import TooLarge
from shared.domain.wording import Wording, wording_of
from tests.fixtures.report_files import EXE, JPEG, PNG, docx_bytes, odt_bytes, pdf_bytes, xlsx_bytes, zip_bytes


def kind_of(content: bytes, name: str, piece: int = 7) -> str:
    """Feed `content` in small pieces (headers split across them) and return the accepted media type."""
    expected = expected_type(file_names.extension(name))
    sniffer = Sniffer()
    for start in range(0, len(content), piece):
        sniffer.feed(content[start : start + piece])
        sniffer.check_head(expected)
    sniffer.check(expected)
    return expected


def refusal(content: bytes, name: str, piece: int = 4096) -> str:
    with pytest.raises(FileRefused) as refused:
        kind_of(content, name, piece)
    return refused.value.reason


@pytest.mark.parametrize("piece", [1, 7, 100, 1 << 20])
def test_each_allowed_kind_is_recognised_from_its_content(piece: int) -> None:
    assert kind_of(docx_bytes(), "bao-cao.docx", piece) == file_kinds.DOCX
    assert kind_of(xlsx_bytes(), "so-lieu.XLSX", piece) == file_kinds.XLSX
    assert kind_of(odt_bytes(), "bao-cao.odt", piece) == file_kinds.ODT
    assert kind_of(pdf_bytes(), "ban-chup.pdf", piece) == file_kinds.PDF
    assert kind_of(PNG, "anh.png", piece) == file_kinds.PNG
    assert kind_of(JPEG, "anh.jpeg", piece) == kind_of(JPEG, "anh.jpg", piece) == file_kinds.JPEG


def test_content_that_is_not_what_its_name_says_is_refused() -> None:
    assert refusal(EXE, "bao-cao.pdf") == "type_mismatch"
    assert refusal(EXE, "bao-cao.pdf", piece=1) == "type_mismatch"
    assert refusal(docx_bytes(), "bao-cao.pdf") == "type_mismatch"
    assert refusal(pdf_bytes(), "bao-cao.docx") == "type_mismatch"
    assert refusal(xlsx_bytes(), "bao-cao.docx") == "type_mismatch"
    assert refusal(docx_bytes(), "so-lieu.xlsx") == "type_mismatch"
    assert refusal(zip_bytes(), "bao-cao.docx") == "type_mismatch"
    assert refusal(odt_bytes(b"application/vnd.oasis.opendocument.spreadsheet"), "bao-cao.odt") == "type_mismatch"
    assert refusal(PNG, "anh.jpg") == "type_mismatch"
    assert refusal(b"", "trong.pdf") == "type_mismatch"
    assert refusal(b"%PDF", "ngan.pdf") == "type_mismatch"


def test_kinds_not_allowed_are_refused_by_their_name() -> None:
    for name in ("setup.exe", "bao-cao.doc", "bao-cao", "anh.gif", ".pdf", "bao-cao.pdf.exe"):
        assert refusal(pdf_bytes(), name) == "type_not_allowed", name


def said(content: bytes, name: str) -> Wording:
    with pytest.raises(FileRefused) as refused:
        kind_of(content, name)
    wording = wording_of(refused.value)
    assert isinstance(wording, Wording) and str(refused.value) == wording.en
    return wording


def test_refused_files_are_explained_in_vietnamese_and_in_english() -> None:
    assert said(EXE, "setup.exe").vi.startswith("Hệ thống không nhận tệp có đuôi «.exe»; chỉ nhận các loại tệp: .docx")
    assert said(pdf_bytes(), "bao-cao").vi.startswith("Hệ thống không nhận tệp không có đuôi;")
    assert said(pdf_bytes(), "bao-cao").en.startswith("files of type no extension are not accepted")
    assert said(b"", "trong.pdf") == Wording(vi="Tệp rỗng, không có nội dung.", en="the file is empty")
    word = said(pdf_bytes(), "bao-cao.docx")
    assert word.vi == "Nội dung tệp không phải là văn bản Word (.docx) như phần đuôi của tên tệp cho biết."
    assert word.en == "the content is not a Word document (.docx)"
    for kind, name in ((file_kinds.XLSX, "a.xlsx"), (file_kinds.ODT, "a.odt"), (file_kinds.PNG, "a.png")):
        assert said(EXE, name).vi.startswith("Nội dung tệp không phải là "), kind


def test_the_size_limit_is_said_in_mb_from_one_mb_up() -> None:
    def vietnamese(limit: int) -> str:
        wording = wording_of(TooLarge(limit))
        assert isinstance(wording, Wording)
        return wording.vi

    assert vietnamese(20 * 1024 * 1024).startswith("Tệp lớn hơn giới hạn 20 MB cho mỗi tệp;")
    assert "giới hạn 1,5 MB" in vietnamese(3 * 512 * 1024)
    assert "giới hạn 65536 byte" in vietnamese(65536)
    assert str(TooLarge(65536)) == "the file is larger than the limit of 65536 bytes"


def test_names_keep_vietnamese_letters_in_nfc_and_lose_paths_and_control_characters() -> None:
    decomposed = unicodedata.normalize("NFD", "Báo cáo quý I.docx")
    assert file_names.sanitise(decomposed) == "Báo cáo quý I.docx"
    assert unicodedata.is_normalized("NFC", file_names.sanitise(decomposed))
    assert file_names.sanitise("C:\\Users\\Thư\\Đơn vị\\báo cáo.pdf") == "báo cáo.pdf"
    assert file_names.sanitise("../../etc/passwd.pdf") == "passwd.pdf"
    assert file_names.sanitise("bao\x00cao\x1b[31m.pdf") == "baocao[31m.pdf"
    assert file_names.sanitise("hoa-don\u202efdp.exe") == "hoa-donfdp.exe"  # no right-to-left override
    assert file_names.sanitise('a<b>:"c"|?*.pdf') == "a_b___c____.pdf"
    assert file_names.sanitise("  ..bao   cao . ") == "bao cao"
    assert file_names.sanitise("") == file_names.sanitise("/") == "tep-bao-cao"
    assert file_names.sanitise(".pdf") == "pdf"  # a hidden file's name, no extension: refused by its kind
    long = file_names.sanitise("ư" * 500 + ".docx")
    assert len(long) == file_names.MAX_NAME and long.endswith(".docx")
    assert file_names.extension("Bao.Cao.PDF") == ".pdf" and file_names.extension("pdf") == ""


def test_a_download_names_the_file_in_ascii_and_in_utf8() -> None:
    header = file_names.content_disposition('Báo cáo "Đảng ủy".pdf')
    assert header.startswith('attachment; filename="Bao cao _Dang uy_.pdf"; ')
    assert header.endswith("filename*=UTF-8''B%C3%A1o%20c%C3%A1o%20%22%C4%90%E1%BA%A3ng%20%E1%BB%A7y%22.pdf")
    assert header.isascii()
