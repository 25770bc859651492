"""PDF plans and scans: the text layer through pdftotext, scans through Tesseract, every line with its page.

The PDFs and images are made here from a plan written for the tests (tests/fixtures/pdf_plans.py); the tests
that need Debian's tools are skipped, with the package to install, where they are absent."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from services.intake.documents import ParsedPlan, ocr, parse_document, tools
from services.intake.documents.errors import BinaryDocument, DocumentTooSlow, EmptyDocument, ReaderUnavailable
from services.intake.documents.limits import DocumentLimits
from services.intake.documents.model import SourceLine
from services.intake.documents.pages import document_lines
from services.intake.documents.readers import TextDocument, read_document
from services.intake.documents.tools import available
from tests.fixtures.pdf_plans import font_available, image_bytes, scan_to_pdf, text_to_pdf, text_to_scan
from tests.unit.documents_support import FIXTURES, ROOT, TODAY, directory

T = TypeVar("T")

PLAN = (FIXTURES / "ward-greening-plan.txt").read_text(encoding="utf-8")
HEADER = "Đảng ủy phường Hòa An - Kế hoạch số 47-KH/ĐU"
BODIES = ["ubnd", "tuyen-giao", "mttq", "van-phong"]

needs_pdftotext = pytest.mark.skipif(
    not available("pdftotext") or not font_available(),
    reason="pdftotext or the DejaVu font is not installed (apt-get install poppler-utils fonts-dejavu-core)",
)
needs_ocr = pytest.mark.skipif(
    not (available("tesseract") and available("pdftoppm")) or not font_available(),
    reason="tesseract or pdftoppm is not installed (apt-get install tesseract-ocr tesseract-ocr-vie poppler-utils)",
)


# Reading, not the time limit, is what these tests check: OCR of two pages takes 3-6 s alone and more when the
# machine is busy (the limit's own tests pass theirs explicitly).
ROOMY = DocumentLimits(timeout_seconds=120)


def plan(data: bytes, name: str) -> ParsedPlan:
    parsed = parse_document(data, name, directory(), TODAY, limits=ROOMY)
    assert isinstance(parsed, ParsedPlan)
    return parsed


def test_running_headers_page_numbers_and_wrapped_lines() -> None:
    pages = [
        "Kế hoạch số 47-KH/ĐU\nI. MỤC ĐÍCH\n- Nâng cao ý thức của cán bộ, đảng viên trong việc trồng\n"
        "và chăm sóc cây xanh.\n\n1\n",
        "Kế hoạch số 47-KH/ĐU\n- Việc triển khai phải thiết thực, phù hợp với điều kiện của tổ\n"
        "dân phố.\nII. NỘI DUNG\n2\n",
        "Kế hoạch số 47-KH/ĐU\n1. UBND phường: Bố trí kinh phí mua cây giống, theo dõi việc trồng\n"
        "cây và chăm sóc.\nTrang 3/3\n",
    ]
    lines, sources = document_lines(pages)
    assert lines == [
        "I. MỤC ĐÍCH",
        "- Nâng cao ý thức của cán bộ, đảng viên trong việc trồng và chăm sóc cây xanh.",
        "- Việc triển khai phải thiết thực, phù hợp với điều kiện của tổ dân phố.",
        "II. NỘI DUNG",
        "1. UBND phường: Bố trí kinh phí mua cây giống, theo dõi việc trồng cây và chăm sóc.",
    ]
    assert sources == [SourceLine(1, 2), SourceLine(1, 3), SourceLine(2, 2), SourceLine(2, 4), SourceLine(3, 2)]


def test_a_line_that_fills_the_page_width_goes_on_in_the_next_even_with_a_capital() -> None:
    full = "- Phối hợp với các tổ dân phố vận động Nhân dân tham gia ngày chủ nhật xanh."
    page = "\n".join(
        [full] * 6
        + ["- Phối hợp với các tổ dân phố và các chi hội, đoàn thể trong phường vận động", "Nhân dân nhận cây."]
    )
    lines, _ = document_lines([page])
    assert (
        lines[-1] == "- Phối hợp với các tổ dân phố và các chi hội, đoàn thể trong phường vận động Nhân dân nhận cây."
    )
    # A short line (the end of a paragraph) does not: the next one starts anew.
    lines, _ = document_lines([page.replace("đoàn thể trong phường vận động", "vận động")])
    assert lines[-1] == "Nhân dân nhận cây."


def test_lines_that_end_or_start_an_item_are_not_joined() -> None:
    pages = [
        "KẾ HOẠCH\ntrồng cây xanh năm 2026\nNơi nhận:\n- Thường trực Quận ủy,\n- Lưu VPĐU.\nT/M ĐẢNG ỦY\nPHÓ BÍ THƯ"
    ]
    lines, _ = document_lines(pages)
    assert lines == pages[0].split("\n")


def test_clauses_at_the_top_of_pages_differ_by_more_than_the_page_number_and_are_kept() -> None:
    tasks = ["Bố trí kinh phí.", "Tuyên truyền.", "Tổng hợp kết quả."]
    pages = [f"{n + 4}. UBND phường:\n{task}\n- {n} -" for n, task in enumerate(tasks, start=1)]
    assert document_lines(pages)[0] == [
        line for n, t in enumerate(tasks, start=5) for line in (f"{n}. UBND phường:", t)
    ]
    # The same line with the page's number in it is a running header.
    pages = [f"Kế hoạch 47-KH/ĐU, trang {n}/3\n{n + 4}. UBND phường:\n{t}" for n, t in enumerate(tasks, start=1)]
    assert document_lines(pages)[0][:2] == ["5. UBND phường:", "Bố trí kinh phí."]


def test_a_single_page_keeps_its_first_and_last_lines() -> None:
    lines, _ = document_lines(["Kế hoạch số 47-KH/ĐU\nI. MỤC ĐÍCH\nTrần Thị Minh Hạnh"])
    assert lines == ["Kế hoạch số 47-KH/ĐU", "I. MỤC ĐÍCH", "Trần Thị Minh Hạnh"]


@needs_pdftotext
def test_a_text_layer_pdf_gives_lines_with_pages_and_the_same_plan_as_its_text() -> None:
    data = text_to_pdf(PLAN, header=HEADER, page_height_mm=180)
    document = read_document(data, "plan.pdf", limits=ROOMY)
    assert isinstance(document, TextDocument) and document.format == "pdf"
    assert HEADER not in document.lines and not any(line.startswith("Trang ") for line in document.lines)
    assert len(document.sources) == len(document.lines) and document.sources[-1].page == 3
    clause = next(line for line in document.lines if line.startswith("2. Ban Tuyên giáo"))
    assert clause.endswith("lợi ích của cây xanh đối với sức khỏe cộng đồng.")  # three lines in the PDF, one here
    assert document.sources[document.lines.index("III. TỔ CHỨC THỰC HIỆN")].page == 2

    parsed = plan(data, "plan.pdf")
    as_text = plan(PLAN.encode(), "plan.txt")
    assert [a.agency for a in parsed.assignments] == [a.agency for a in as_text.assignments] == BODIES
    assert [a.task for a in parsed.assignments] == [a.task for a in as_text.assignments]
    assert parsed.reader == "pdf" and as_text.reader == "text"
    assert parsed.pages[parsed.assignments[0].line - 1] == 2


@needs_pdftotext
def test_a_heading_in_two_columns_gives_each_column_its_own_lines() -> None:
    """Why pdftotext runs in reading order: `-layout` and `-raw` put `ĐẢNG BỘ QUẬN BA ĐÌNH` and
    `ĐẢNG CỘNG SẢN VIỆT NAM`, side by side in the heading, on one line."""
    columns = (
        ["ĐẢNG BỘ QUẬN BA ĐÌNH", "ĐẢNG ỦY PHƯỜNG HÒA AN", "*", "Số 47-KH/ĐU"],
        ["ĐẢNG CỘNG SẢN VIỆT NAM", "", "Phường Hòa An, ngày 09 tháng 3 năm 2026"],
    )
    data = text_to_pdf(PLAN[PLAN.index("KẾ HOẠCH") :], columns=columns)
    document = read_document(data, "plan.pdf", limits=ROOMY)
    assert isinstance(document, TextDocument)
    assert document.lines[:6] == [*columns[0], "ĐẢNG CỘNG SẢN VIỆT NAM", "Phường Hòa An, ngày 09 tháng 3 năm 2026"]
    parsed = plan(data, "plan.pdf")
    assert parsed.issuer is not None and parsed.issuer.code == "dang-uy"
    assert str(parsed.issued_on) == "2026-03-09"


@needs_pdftotext
def test_a_damaged_pdf_is_refused_with_what_to_do() -> None:
    with pytest.raises(BinaryDocument, match="Không đọc được tệp PDF"):
        read_document(b"%PDF-1.7\n...", "x.pdf")


def test_a_pdf_without_pdftotext_is_refused_in_vietnamese(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ReaderUnavailable, match="poppler-utils") as refused:
        read_document(b"%PDF-1.7\n...", "x.pdf")
    assert refused.value.http_status == 415 and refused.value.code == "reader_unavailable"
    with pytest.raises(ReaderUnavailable, match="tesseract"):
        read_document(b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "scan.png")


@needs_ocr
def test_a_text_pdf_with_a_scanned_signature_page_reads_that_page_by_ocr() -> None:
    split = PLAN.index("4. Văn phòng")
    signed = text_to_scan(PLAN[split:])
    data = text_to_pdf(PLAN[:split], header=HEADER, scanned=signed)
    document = read_document(data, "signed.pdf", limits=ROOMY)
    assert isinstance(document, TextDocument) and document.format == "pdf"
    clause_3 = next(n for n, line in enumerate(document.lines) if line.startswith("3. Đề nghị"))
    assert document.lines[-1] == "Trần Thị Minh Hạnh"
    assert document.sources[-1].page == document.sources[clause_3].page + 1  # the scanned page, after the text
    parsed = plan(data, "signed.pdf")
    assert [a.agency for a in parsed.assignments] == BODIES
    assert parsed.signature is not None and parsed.signature.name == "Trần Thị Minh Hạnh"
    # Without the time for OCR the text pages are still read.
    short = read_document(data, "signed.pdf", limits=DocumentLimits(timeout_seconds=4))
    assert isinstance(short, TextDocument) and "Trần Thị Minh Hạnh" not in short.lines


@needs_ocr
def test_a_scanned_pdf_is_read_by_ocr_into_the_same_bodies() -> None:
    data = scan_to_pdf(text_to_scan(PLAN))
    document = read_document(data, "scan.pdf", limits=ROOMY)
    assert isinstance(document, TextDocument) and document.format == "ocr"
    assert {source.page for source in document.sources} == {1, 2}
    assert "III. TỔ CHỨC THỰC HIỆN" in document.lines
    parsed = plan(data, "scan.pdf")
    assert [a.agency for a in parsed.assignments] == BODIES
    assert parsed.number is not None and parsed.number.text == "47-KH/ĐU"
    assert parsed.reader == "ocr"


@needs_ocr
@pytest.mark.parametrize("kind", ["PNG", "JPEG", "TIFF"])
def test_a_scanned_image_is_read_by_ocr(kind: str) -> None:
    # Section headings in sequence (OCR reads a lone `III.` as `II.` as often as not), short tasks.
    section = "I. MỤC ĐÍCH\n- Trồng cây xanh.\n\nII. NỘI DUNG\n- Giữ gìn vệ sinh.\n\n" + "\n".join(
        line.split(":")[0] + ": Thực hiện." if line[:1].isdigit() else line
        for line in PLAN[PLAN.index("III. TỔ CHỨC") : PLAN.index("Nơi nhận")].splitlines()
    )
    document = read_document(image_bytes(text_to_scan(section)[0], kind), f"scan.{kind.lower()}", limits=ROOMY)
    assert isinstance(document, TextDocument) and document.format == "ocr"
    assert document.lines[4] == "III. TỔ CHỨC THỰC HIỆN"
    assert [line[:3] for line in document.lines[5:]] == ["1. ", "2. ", "3. ", "4. "]


@needs_ocr
def test_a_scan_longer_than_the_time_limit_allows_is_refused_before_ocr() -> None:
    data = scan_to_pdf(text_to_scan("\n" * 200))  # five blank pages
    with pytest.raises(DocumentTooSlow, match="5 trang.*tối đa 3 trang"):
        read_document(data, "scan.pdf", limits=DocumentLimits(timeout_seconds=10))


def test_tesseract_without_its_vietnamese_model_is_said_so(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(args: list[str], timeout: float, data: bytes | None = None) -> bytes:
        raise subprocess.CalledProcessError(1, args, b"", b"Failed loading language 'vie'\n")

    monkeypatch.setattr(ocr, "require", lambda tool, what: None)
    monkeypatch.setattr(ocr, "run", failing)
    with pytest.raises(ReaderUnavailable, match="tesseract-ocr-vie"):
        ocr.image_pages(b"\x89PNG...", DocumentLimits())


@needs_ocr
def test_a_blank_scan_has_nothing_to_read() -> None:
    with pytest.raises(EmptyDocument, match="quét lại"):
        read_document(image_bytes(text_to_scan("\n")[0], "PNG"), "blank.png")


def test_a_tool_past_its_time_is_stopped_and_the_document_refused() -> None:
    with pytest.raises(DocumentTooSlow, match="0.2 giây"):
        tools.run(["sleep", "5"], timeout=0.2)


def test_a_tool_dies_with_the_reader_that_started_it() -> None:
    """The guard kills an overdue reader process: its OCR must not go on as an orphan."""
    script = "from services.intake.documents import tools; tools.run(['sleep', '30'], timeout=60)"
    reader = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    children = eventually(lambda: _children(reader.pid))
    reader.kill()
    reader.wait()
    assert eventually(lambda: not Path(f"/proc/{children[0]}/status").exists()), "the tool outlived its reader"


def _children(pid: int) -> list[str]:
    return subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()


def eventually(check: Callable[[], T], seconds: float = 10) -> T:
    """A bounded poll: `check()`'s first true answer, or its last one after `seconds`."""
    deadline = time.monotonic() + seconds
    while not (answer := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return answer
