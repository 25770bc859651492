"""Scans (a PDF without a text layer, PNG, JPEG, TIFF) read by Tesseract with its Vietnamese model.

A PDF's pages are first rendered to 300-dpi greyscale images by `pdftoppm`: the resolution Tesseract is
trained for, ~2.5 s of OCR a page on one core. The text is then corrected for OCR's usual errors
(ocr_normalise.py) before anything is matched in it.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from services.intake.documents.errors import BinaryDocument, DocumentTooLarge
from services.intake.documents.limits import DocumentLimits
from services.intake.documents.ocr_normalise import normalise_ocr_pages
from services.intake.documents.tools import require, run

DPI = 300
# A scanned plan is a few pages; at ~2.5 s a page more would not be read within a document's time anyway.
MAX_SCAN_PAGES = 20
_UNREADABLE_IMAGE = (
    "Không đọc được ảnh quét (tệp hỏng hoặc định dạng ảnh không hỗ trợ). Hãy quét lại thành PDF, PNG hoặc JPEG."
)


def scanned_pdf_pages(data: bytes, page_count: int, limits: DocumentLimits) -> list[str]:
    """The OCR text of each page of a scanned PDF."""
    if page_count > MAX_SCAN_PAGES:
        raise DocumentTooLarge(
            f"Bản quét có {page_count} trang, vượt giới hạn {MAX_SCAN_PAGES} trang đọc bằng nhận dạng chữ (OCR). "
            "Hãy gửi riêng văn bản kế hoạch, hoặc bản PDF có lớp chữ (xuất từ hệ thống quản lý văn bản)."
        )
    require("pdftoppm", "PDF")
    require("tesseract", "bản quét (OCR)")
    with tempfile.TemporaryDirectory(prefix="dondoc-scan-") as folder:
        source = Path(folder) / "scan.pdf"
        source.write_bytes(data)
        try:
            run(["pdftoppm", "-r", str(DPI), "-gray", str(source), str(Path(folder) / "page")], limits.timeout_seconds)
        except subprocess.CalledProcessError:
            raise BinaryDocument(_UNREADABLE_IMAGE) from None
        images = sorted(Path(folder).glob("page-*.pgm"))
        listing = Path(folder) / "pages.txt"
        listing.write_text("".join(f"{image}\n" for image in images), encoding="utf-8")
        return _tesseract(str(listing), limits)


def image_pages(data: bytes, limits: DocumentLimits) -> list[str]:
    """The OCR text of an image (a multi-page TIFF gives several pages)."""
    require("tesseract", "ảnh quét (OCR)")
    with tempfile.TemporaryDirectory(prefix="dondoc-scan-") as folder:
        image = Path(folder) / "scan"
        image.write_bytes(data)
        return _tesseract(str(image), limits)


def _tesseract(source: str, limits: DocumentLimits) -> list[str]:
    try:
        text = run(["tesseract", source, "stdout", "-l", "vie", "--dpi", str(DPI)], limits.timeout_seconds)
    except subprocess.CalledProcessError:
        raise BinaryDocument(_UNREADABLE_IMAGE) from None
    pages = text.decode("utf-8", errors="replace").split("\f")
    if len(pages) > 1 and not pages[-1].strip():
        pages.pop()
    return normalise_ocr_pages(pages)
