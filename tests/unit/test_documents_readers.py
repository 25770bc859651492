from __future__ import annotations

import io
import json
import unicodedata
import zipfile

import docx
import pytest
from docx.oxml.ns import qn

from services.intake.documents.errors import (
    BinaryDocument,
    DocumentTooLarge,
    EmptyDocument,
    InvalidStructuredPlan,
    UnknownFormat,
)
from services.intake.documents.readers import TextDocument, read_document
from services.intake.domain import PlanSubmission
from tests.fixtures.docx_plans import task_table_docx

TEXT = "Số 85-KH/ĐU\nỦy ban nhân dân phường\n"


@pytest.mark.parametrize(
    "data",
    [
        TEXT.encode("utf-8"),
        b"\xef\xbb\xbf" + TEXT.encode("utf-8"),
        TEXT.encode("utf-16"),  # with BOM
        TEXT.encode("utf-16-le"),
        TEXT.encode("utf-16-be"),
        TEXT.replace("\n", "\r\n").encode("utf-8"),
    ],
    ids=["utf8", "utf8-bom", "utf16-bom", "utf16le", "utf16be", "crlf"],
)
def test_text_in_every_encoding_reads_the_same(data: bytes) -> None:
    document = read_document(data, "plan.txt")
    assert isinstance(document, TextDocument)
    assert document.lines[:2] == ["Số 85-KH/ĐU", "Ủy ban nhân dân phường"]


def test_decomposed_text_is_read_as_written_and_composed_later() -> None:
    document = read_document(unicodedata.normalize("NFD", TEXT).encode(), "plan.txt")
    assert isinstance(document, TextDocument)
    assert unicodedata.normalize("NFC", document.lines[0]) == "Số 85-KH/ĐU"


@pytest.mark.parametrize("data", [b"", b"   \n\n", b"\xef\xbb\xbf", b"\xff\xfe", "\n \n".encode("utf-16")])
def test_an_empty_file_is_an_empty_document(data: bytes) -> None:
    with pytest.raises(EmptyDocument, match="rỗng|khoảng trắng"):
        read_document(data, "x.txt")


def test_binary_and_legacy_encodings_are_refused_with_what_to_do() -> None:
    with pytest.raises(BinaryDocument, match="UTF-8"):
        read_document(bytes(range(256)) * 4, "x.bin")
    with pytest.raises(BinaryDocument, match="UTF-8"):
        read_document(b"Ph\xb0\xdcng H\xf2a An", "x.txt")  # Windows-1258, not UTF-8


def test_known_formats_we_do_not_read_say_how_to_convert() -> None:
    with pytest.raises(UnknownFormat, match="RTF.*docx"):
        read_document(b"{\\rtf1\\ansi ...}", "x.rtf")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(UnknownFormat, match="không phải văn bản Word"):
        read_document(archive.getvalue(), "x.zip")


def test_too_large_is_refused_before_reading() -> None:
    with pytest.raises(DocumentTooLarge) as caught:
        read_document(b"a" * 2048, "x.txt", max_bytes=1024)
    assert caught.value.http_status == 413


def test_a_broken_docx_is_a_typed_error() -> None:
    with pytest.raises(BinaryDocument, match="docx"):
        read_document(b"PK\x03\x04" + b"garbage" * 10, "x.docx")


def test_structured_json_is_the_plan_intake_already_takes() -> None:
    plan = {
        "issuer": "dang-uy",
        "number": "1-KH/ĐU",
        "title": "Kế hoạch",
        "assignments": [{"agency": "ubnd", "task": "Làm."}],
        "deadlines": [],
    }
    document = read_document(json.dumps(plan, ensure_ascii=False).encode(), "plan.json")
    assert isinstance(document, PlanSubmission) and document.number == "1-KH/ĐU"
    with pytest.raises(InvalidStructuredPlan) as caught:
        read_document(b'{"issuer": "dang-uy"}', "plan.json")
    assert {p["where"] for p in caught.value.problems} >= {"number", "title", "assignments"}
    with pytest.raises(InvalidStructuredPlan, match="dòng 1"):
        read_document(b"{not json", "plan.json")


def test_docx_numbering_bullets_and_tables_become_lines() -> None:
    document = docx.Document()
    document.add_paragraph("III. TỔ CHỨC THỰC HIỆN")
    document.add_paragraph("UBND phường: Chỉ đạo.", style="List Number")
    document.add_paragraph("Ban Tuyên giáo: Biên soạn.", style="List Number")
    document.add_paragraph("Thủ trưởng các đơn vị xây dựng kế hoạch.", style="List Bullet")
    out = io.BytesIO()
    document.save(out)
    read = read_document(out.getvalue(), "plan.docx")
    assert isinstance(read, TextDocument) and read.format == "docx"
    assert [line for line in read.lines if line] == [
        "III. TỔ CHỨC THỰC HIỆN",
        "1. UBND phường: Chỉ đạo.",
        "2. Ban Tuyên giáo: Biên soạn.",
        "- Thủ trưởng các đơn vị xây dựng kế hoạch.",
    ]
    table = read_document(task_table_docx(), "t.docx")
    assert isinstance(table, TextDocument)
    assert "1 | Hội Nông dân | Lập danh sách hộ cần hỗ trợ | trước ngày 15/12/2025" in table.lines


def test_word_list_overrides_starts_and_empty_items_count_as_word_counts_them() -> None:
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    document = docx.Document()
    numbering = document.part.numbering_part.element
    numbering.find(qn("w:num")).addprevious(
        parse_xml(
            f'<w:abstractNum {nsdecls("w")} w:abstractNumId="40"><w:lvl w:ilvl="0"><w:start w:val="3"/>'
            '<w:numFmt w:val="decimal"/><w:lvlText w:val="%1."/></w:lvl></w:abstractNum>'
        )
    )
    numbering.append(parse_xml(f'<w:num {nsdecls("w")} w:numId="40"><w:abstractNumId w:val="40"/></w:num>'))
    numbering.append(
        parse_xml(  # the same list, restarted at 1 and drawn `a)`
            f'<w:num {nsdecls("w")} w:numId="41"><w:abstractNumId w:val="40"/><w:lvlOverride w:ilvl="0">'
            '<w:startOverride w:val="1"/><w:lvl w:ilvl="0"><w:numFmt w:val="lowerLetter"/><w:lvlText w:val="%1)"/>'
            "</w:lvl></w:lvlOverride></w:num>"
        )
    )
    for text, num_id in (("Một", 40), ("", 40), ("Hai", 40), ("Ba", 41), ("Bốn", 41), ("Năm", 0), ("Sáu", 40)):
        num_pr = document.add_paragraph(text)._p.get_or_add_pPr().get_or_add_numPr()
        num_pr.get_or_add_numId().val = num_id
    out = io.BytesIO()
    document.save(out)
    read = read_document(out.getvalue(), "plan.docx")
    assert isinstance(read, TextDocument)
    # starts at 3; the empty item takes 4; numId 0 switches numbering off; 41 restarts the shared count, and
    # numId 40 then goes on from it
    assert [line for line in read.lines if line] == ["3. Một", "5. Hai", "a) Ba", "b) Bốn", "Năm", "3. Sáu"]


def test_a_docx_zip_bomb_is_refused_before_it_is_inflated() -> None:
    import io as _io
    import zipfile as _zipfile

    from services.intake.documents.errors import DocumentTooLarge
    from services.intake.documents.readers import read_document as _read

    buffer = _io.BytesIO()
    with _zipfile.ZipFile(buffer, "w", compression=_zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", " " * (60 * 1024 * 1024))
    bomb = buffer.getvalue()
    assert len(bomb) < 200 * 1024  # small on the wire
    with pytest.raises(DocumentTooLarge, match="giải nén"):
        _read(bomb, "bom.docx")
