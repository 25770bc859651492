"""The reading limits (limits.py): a document past one is refused with a Vietnamese message naming the limit;
a .docx is inflated by counting what it actually produces; paragraph styles are looked up in a prepared map."""

from __future__ import annotations

import base64
import io
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import docx
import pytest
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.styles.styles import Styles

from services.intake.documents.errors import BinaryDocument, DocumentTooLarge, UnknownFormat
from services.intake.documents.limits import MB, DocumentLimits
from services.intake.documents.readers import TextDocument, read_document
from tests.fixtures.docx_plans import lying_docx, stall_docx, task_table_docx

ROOT = Path(__file__).resolve().parents[2]


def test_paragraphs_of_a_text_file_are_limited() -> None:
    text = "\n".join(f"Đoạn {i}." for i in range(101)).encode()
    with pytest.raises(DocumentTooLarge, match="101 đoạn văn, vượt giới hạn 100 đoạn"):
        read_document(text, "p.txt", limits=DocumentLimits(max_paragraphs=100))
    assert isinstance(read_document(text, "p.txt", limits=DocumentLimits(max_paragraphs=101)), TextDocument)


def test_characters_are_limited() -> None:
    text = ("Ủy ban nhân dân phường. " * 100).encode()
    with pytest.raises(DocumentTooLarge, match="vượt giới hạn 1.000 ký tự"):
        read_document(text, "p.txt", limits=DocumentLimits(max_characters=1000))


def test_docx_paragraphs_are_counted_before_they_are_read() -> None:
    with pytest.raises(DocumentTooLarge, match="2.000 đoạn văn, vượt giới hạn 1.999 đoạn"):
        read_document(stall_docx(2_000, 300), "s.docx", limits=DocumentLimits(max_paragraphs=1_999))


def test_table_cells_are_limited_and_a_merged_cell_counts_for_every_column_it_spans() -> None:
    with pytest.raises(DocumentTooLarge, match="các bảng có 16 ô, vượt giới hạn 15 ô"):
        read_document(task_table_docx(), "t.docx", limits=DocumentLimits(max_table_cells=15))
    document = docx.Document()
    cell = document.add_table(rows=1, cols=1).rows[0].cells[0]
    cell._tc.get_or_add_tcPr().append(parse_xml(f'<w:gridSpan {nsdecls("w")} w:val="1000000"/>'))
    out = io.BytesIO()
    document.save(out)
    with pytest.raises(DocumentTooLarge, match="1.000.000 ô"):
        read_document(out.getvalue(), "t.docx")


def _archive(parts: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_parts_of_a_docx_are_limited_in_number() -> None:
    parts = {f"word/media/{i}.xml": b"<x/>" for i in range(20)} | {"word/document.xml": b"<x/>"}
    with pytest.raises(DocumentTooLarge, match="21 phần, vượt giới hạn 20 phần"):
        read_document(_archive(parts), "many.docx", limits=DocumentLimits(max_entries=20))


def test_a_part_is_refused_as_it_inflates_past_the_cap() -> None:
    noise = base64.b64encode(random.Random(1).randbytes(2 * MB))  # inflates about as much as Word's XML
    data = _archive({"word/document.xml": noise})  # declared honestly: under the total, over the part's limit
    with pytest.raises(DocumentTooLarge, match="phần word/document.xml của tệp .docx khi giải nén vượt giới hạn 1 MB"):
        read_document(data, "big.docx", limits=DocumentLimits(max_entry_bytes=MB))


def test_compression_word_does_not_use_is_refused() -> None:
    data = _archive({"word/document.xml": b" " * 1000}, compression=zipfile.ZIP_BZIP2)
    with pytest.raises(BinaryDocument, match="kiểu nén"):
        read_document(data, "bz.docx")


def test_an_archive_without_a_word_document_is_not_a_docx() -> None:
    with pytest.raises(UnknownFormat):
        read_document(_archive({"content.xml": b"<x/>"}), "odt.docx")


_PEAK = """
import sys
sys.path.insert(0, sys.argv[1])
from services.intake.documents.errors import DocumentError
from services.intake.documents.readers import read_document
import services.intake.documents.docx_reader  # loaded first, so that the peak below is the reading's
data = open(sys.argv[2], "rb").read()
def peak_mb():  # VmHWM, not ru_maxrss: that one keeps the peak of the process that started this one
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return int(status["VmHWM"].split()[0]) // 1024
before = peak_mb()
try:
    read_document(data, "x.docx")
    print("read", end=" ")
except DocumentError as exc:
    print(type(exc).__name__, exc.message, end=" ")
print(before, peak_mb())
"""


@pytest.mark.parametrize("crc_of_declared", [False, True], ids=["crc-of-all", "crc-of-declared-bytes"])
def test_a_docx_that_lies_about_its_size_is_refused_without_inflating_it(tmp_path: Path, crc_of_declared: bool) -> None:
    """`word/document.xml` declares 1,000 bytes and inflates to 300 MB. Read whole, it took 643 MB of memory
    (before this test); counted as it inflates, the reader stays within a few MB of its start."""
    path = tmp_path / "lying.docx"
    path.write_bytes(lying_docx(300 * MB, 1_000, crc_of_declared))
    assert path.stat().st_size < 400 * 1024
    run = subprocess.run(
        [sys.executable, "-c", _PEAK, str(ROOT), str(path)], capture_output=True, text=True, timeout=120, check=True
    )
    outcome, before_mb, peak_mb = run.stdout.rsplit(" ", 2)
    assert outcome.startswith("BinaryDocument Tệp .docx bị hỏng" if not crc_of_declared else "BinaryDocument Không đọc")
    assert int(peak_mb) < 100 and int(peak_mb) - int(before_mb) < 30, run.stdout


def test_paragraph_styles_are_looked_up_once_per_style_not_per_paragraph(monkeypatch: pytest.MonkeyPatch) -> None:
    """python-docx scans every style for each paragraph (and each `basedOn` step): 40,000 paragraphs over
    300 styles took 106 s. The reader indexes the styles once."""
    lookups = []
    original = Styles.get_by_id
    monkeypatch.setattr(Styles, "get_by_id", lambda self, *a: lookups.append(a) or original(self, *a))
    read = read_document(stall_docx(2_000, 300), "s.docx")
    assert isinstance(read, TextDocument) and read.lines[0] == "Đoạn 0."
    assert len(lookups) < 10


def _style(style_id: str, kind: str = "paragraph", based_on: str = "", num_id: str = "") -> str:
    name = style_id.replace("_", " ")
    based = f'<w:basedOn w:val="{based_on}"/>' if based_on else ""
    numbered = f'<w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="{num_id}"/></w:numPr></w:pPr>' if num_id else ""
    return (
        f'<w:style {nsdecls("w")} w:type="{kind}" w:styleId="{style_id}"><w:name w:val="{name}"/>'
        f"{based}{numbered}</w:style>"
    )


def test_styles_resolve_as_python_docx_resolves_them() -> None:
    """The prepared map follows python-docx's rules: the first style with an id wins, an unknown id or one of
    another type gives the default paragraph style, numbering is inherited through `basedOn` (of any type)."""
    document = docx.Document()
    styles = document.styles.element
    numbering = document.part.numbering_part.element
    numbering.find(qn("w:num")).addprevious(
        parse_xml(
            f'<w:abstractNum {nsdecls("w")} w:abstractNumId="50"><w:lvl w:ilvl="0"><w:start w:val="1"/>'
            '<w:numFmt w:val="lowerLetter"/><w:lvlText w:val="%1)"/></w:lvl></w:abstractNum>'
        )
    )
    numbering.append(parse_xml(f'<w:num {nsdecls("w")} w:numId="50"><w:abstractNumId w:val="50"/></w:num>'))
    for xml in (
        _style("Lettered", "character", num_id="50"),  # a character style carrying numbering: only as a base
        _style("Item", based_on="Lettered"),
        _style("Sub_item", based_on="Item"),
        _style("Loop_a", based_on="Loop_b"),
        _style("Loop_b", based_on="Loop_a"),
        _style("Item", num_id="0"),  # a second style with a known id: never used
    ):
        styles.append(parse_xml(xml))
    for text, style_id in (("Một", "Item"), ("Hai", "Sub_item"), ("Ba", "Lettered"), ("Bốn", "Loop_a"), ("Năm", "")):
        paragraph = document.add_paragraph(text)
        if style_id:
            paragraph._p.get_or_add_pPr().get_or_add_pStyle().val = style_id
    out = io.BytesIO()
    document.save(out)
    read = read_document(out.getvalue(), "s.docx")
    assert isinstance(read, TextDocument)
    assert [line for line in read.lines if line] == ["a) Một", "b) Hai", "Ba", "Bốn", "Năm"]
