"""Scans (a PDF without a text layer, PNG, JPEG, TIFF) read by Tesseract with its Vietnamese model.

A PDF's pages are first rendered to 300-dpi greyscale images by `pdftoppm`: the resolution Tesseract is
trained for, ~2.5 s of OCR a page on one core. The text is then corrected for OCR's usual errors
(ocr_normalise.py) before anything is matched in it.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from services.intake.documents.errors import BinaryDocument, DocumentTooLarge, DocumentTooSlow, ReaderUnavailable
from services.intake.documents.limits import DocumentLimits
from services.intake.documents.ocr_normalise import normalise_ocr_pages
from services.intake.documents.tools import missing, require, run
from shared.domain.wording import Wording

DPI = 300
# A scanned plan is a few pages; past this many it is refused whatever the time limit.
MAX_SCAN_PAGES = 20
# OCR's time a page at 300 dpi on one busy core (2.3 s measured on a free one, benchmarks/read_pdf.py): a scan
# with more pages than the document's time limit allows is refused before any is read, rather than after
# the guard has spent the whole limit on it.
SECONDS_PER_PAGE = 3.0
_UNREADABLE_IMAGE = Wording(
    vi="Không đọc được ảnh quét (tệp hỏng hoặc định dạng ảnh không hỗ trợ). Hãy quét lại thành PDF, PNG hoặc JPEG.",
    en="The scan cannot be read (a damaged file, or an image format intake does not read). Scan it again as a PDF, "
    "PNG or JPEG.",
)
_SCAN = Wording(vi="bản quét (OCR)", en="scans (OCR)")


def scanned_pdf_pages(data: bytes, page_count: int, limits: DocumentLimits, only: list[int] | None = None) -> list[str]:
    """The OCR text of each page of a scanned PDF, or of the pages `only` lists (1-based), in their order."""
    if only is not None:
        page_count = len(only)
    if page_count > MAX_SCAN_PAGES:
        raise DocumentTooLarge(
            Wording(
                vi=f"Bản quét có {page_count} trang, vượt giới hạn {MAX_SCAN_PAGES} trang đọc bằng nhận dạng chữ "
                "(OCR). Hãy gửi riêng văn bản kế hoạch, hoặc bản PDF có lớp chữ (xuất từ hệ thống quản lý văn bản).",
                en=f"The scan has {page_count} pages, over the limit of {MAX_SCAN_PAGES} pages read by text "
                "recognition (OCR). Send the plan's text alone, or a PDF with a text layer (exported from the "
                "document management system).",
            )
        )
    readable = int(limits.timeout_seconds // SECONDS_PER_PAGE)
    if page_count > readable:
        seconds = f"{limits.timeout_seconds:g}"
        raise DocumentTooSlow(
            Wording(
                vi=f"Bản quét có {page_count} trang; trong thời gian cho phép ({seconds} giây) máy chủ "
                f"nhận dạng chữ được tối đa {readable} trang. Hãy gửi bản PDF có lớp chữ (xuất từ hệ thống quản lý "
                "văn bản) hoặc bản .docx; nếu chỉ có bản quét, hãy báo quản trị hệ thống tăng thời gian đọc tài liệu.",
                en=f"The scan has {page_count} pages; within the time allowed ({seconds} seconds) the server "
                f"recognises the text of {readable} pages at most. Send a PDF with a text layer (exported from the "
                "document management system) or the .docx; if there is only a scan, ask the system administrator to "
                "allow more time for reading documents.",
            )
        )
    require("pdftoppm", "PDF")
    require("tesseract", _SCAN)
    with tempfile.TemporaryDirectory(prefix="dondoc-scan-") as folder:
        source = Path(folder) / "scan.pdf"
        source.write_bytes(data)
        render = ["pdftoppm", "-r", str(DPI), "-gray"]
        try:
            if only is None:
                run([*render, str(source), str(Path(folder) / "page")], limits.timeout_seconds)
            for number in only or []:
                page = ["-f", str(number), "-l", str(number), "-singlefile"]
                run([*render, *page, str(source), str(Path(folder) / f"page-{number:04}")], limits.timeout_seconds)
        except subprocess.CalledProcessError:
            raise BinaryDocument(_UNREADABLE_IMAGE) from None
        # pdftoppm pads page numbers to the page count's width: the names sort in page order.
        images = sorted(Path(folder).glob("page-*.pgm"))
        listing = Path(folder) / "pages.txt"
        listing.write_text("".join(f"{image}\n" for image in images), encoding="utf-8")
        return _tesseract(str(listing), limits)


def image_pages(data: bytes, limits: DocumentLimits) -> list[str]:
    """The OCR text of an image (a multi-page TIFF gives several pages)."""
    require("tesseract", Wording(vi="ảnh quét (OCR)", en="scanned images (OCR)"))
    with tempfile.TemporaryDirectory(prefix="dondoc-scan-") as folder:
        image = Path(folder) / "scan"
        image.write_bytes(data)
        return _tesseract(str(image), limits)


def _tesseract(source: str, limits: DocumentLimits) -> list[str]:
    try:
        text = run(["tesseract", source, "stdout", "-l", "vie", "--dpi", str(DPI)], limits.timeout_seconds)
    except subprocess.CalledProcessError as exc:
        if b"Failed loading language" in (exc.stderr or b""):  # tesseract-ocr without its Vietnamese model
            tool = Wording(vi="tesseract, mô hình tiếng Việt", en="tesseract's Vietnamese model")
            raise ReaderUnavailable(missing(_SCAN, tool, "tesseract-ocr-vie")) from None
        raise BinaryDocument(_UNREADABLE_IMAGE) from None
    pages = text.decode("utf-8", errors="replace").split("\f")
    if len(pages) > 1 and not pages[-1].strip():
        pages.pop()
    return normalise_ocr_pages(pages)
