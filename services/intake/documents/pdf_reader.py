"""PDF plans: the text layer through Debian's `pdftotext`, or OCR when the PDF is a scan without one.

`pdftotext` in its default mode (reading order) rather than `-layout`: `-layout` keeps columns side by
side, which puts the two halves of a plan's header (issuer | `ĐẢNG CỘNG SẢN VIỆT NAM`, number | place and
date) on one line, and indents wrapped lines; reading order gives each block on lines of its own. It
reads a 31-page PDF in ~0.06 s (pypdf: 1.5 s, pdfminer.six: 2.4 s). Pages come separated by form feeds.
"""

from __future__ import annotations

import subprocess

import structlog

from services.intake.documents import ocr
from services.intake.documents.errors import BinaryDocument
from services.intake.documents.limits import DocumentLimits
from services.intake.documents.model import SourceLine
from services.intake.documents.pages import document_lines
from services.intake.documents.tools import available, require, run
from shared.domain.wording import Wording

log = structlog.get_logger()

# A text layer with fewer letters than this a page on average is a scan (or a scan with a stamp's text).
MIN_LETTERS_PER_PAGE = 40

_DAMAGED = Wording(
    vi="Không đọc được tệp PDF (tệp hỏng, bị khóa bằng mật khẩu hoặc không phải PDF). Hãy xuất lại PDF từ hệ "
    "thống quản lý văn bản, hoặc gửi bản .docx.",
    en="The PDF file cannot be read (it is damaged, protected by a password, or not a PDF). Export the PDF again "
    "from the document management system, or send the .docx.",
)


def pdf_pages(data: bytes, limits: DocumentLimits) -> list[str]:
    """The text layer, one string a page (empty for a page without text)."""
    require("pdftotext", "PDF")
    try:
        text = run(["pdftotext", "-enc", "UTF-8", "-", "-"], limits.timeout_seconds, data)
    except subprocess.CalledProcessError:
        raise BinaryDocument(_DAMAGED) from None
    pages = text.decode("utf-8", errors="replace").split("\f")
    if pages and not pages[-1].strip():  # pdftotext ends every page, the last one too, with a form feed
        pages.pop()
    return pages


def _letters(page: str) -> int:
    return sum(1 for c in page if c.isalpha())


def has_text_layer(pages: list[str]) -> bool:
    return bool(pages) and sum(map(_letters, pages)) >= MIN_LETTERS_PER_PAGE * len(pages)


def read_pdf(data: bytes, limits: DocumentLimits) -> tuple[str, list[str], list[SourceLine]]:
    """Which reader took it (`pdf` or `ocr`), the document's lines and where each starts."""
    pages = pdf_pages(data, limits)
    if has_text_layer(pages):
        _read_scanned_pages(data, pages, limits)
        lines, sources = document_lines(pages)
        return "pdf", lines, sources
    lines, sources = document_lines(ocr.scanned_pdf_pages(data, len(pages), limits))
    return "ocr", lines, sources


def _read_scanned_pages(data: bytes, pages: list[str], limits: DocumentLimits) -> None:
    """A text PDF with some pages scanned (the signed last page, an appendix): those pages by OCR, in place,
    when the tools are there and half the document's time is enough for them; else they are left out (the
    plan is still read from its text) and the log says so."""
    scanned = [number for number, page in enumerate(pages, start=1) if _letters(page) < MIN_LETTERS_PER_PAGE]
    if not scanned:
        return
    if len(scanned) * ocr.SECONDS_PER_PAGE > limits.timeout_seconds / 2 or not all(
        map(available, ("pdftoppm", "tesseract"))
    ):
        log.warning("scanned pages of a text PDF not read", pages=scanned)
        return
    for number, text in zip(scanned, ocr.scanned_pdf_pages(data, len(pages), limits, only=scanned), strict=False):
        pages[number - 1] = text
