"""Readers: bytes as uploaded → the lines of a text document, or the structured plan intake already takes.

Formats: plain text (UTF-8 with or without BOM, UTF-16 with BOM or plainly so), Word .docx (paragraphs,
automatic numbering, tables), Word 97-2003 .doc (through antiword), PDF (its text layer, or OCR for a scan),
scanned images (PNG, JPEG, TIFF, by OCR), JSON in the `PlanSubmission` shape. Anything else is a typed error.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from services.intake.documents.archive import inflate
from services.intake.documents.errors import (
    BinaryDocument,
    DocumentTooLarge,
    EmptyDocument,
    InvalidStructuredPlan,
    Said,
    UnknownFormat,
)
from services.intake.documents.limits import DEFAULT_LIMITS, DocumentLimits, count, count_en, too_many_paragraphs
from services.intake.documents.model import SourceLine
from services.intake.documents.normalise import split_lines
from services.intake.domain import PlanSubmission
from shared.domain.wording import Wording, wording_of
from shared.platform.validation_wording import vietnamese_message

MAX_BYTES = 5 * 1024 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")

_SIGNATURES = {
    b"{\\rtf": "RTF",
}
# The compound-file container of Word 97-2003 (.doc), and of .xls and .ppt too: antiword says which it is.
_COMPOUND = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Scanned pages, read by OCR.
_IMAGES = (b"\x89PNG", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")


@dataclass(frozen=True)
class TextDocument:
    """A document's lines as written; for .docx one line per paragraph or table cell, for a PDF or a scan one
    line per paragraph (joined again where the page broke it), with where it starts in `sources`."""

    name: str
    format: str
    lines: list[str]
    sources: list[SourceLine] = field(default_factory=list)


def read_document(
    data: bytes, name: str = "", max_bytes: int = MAX_BYTES, limits: DocumentLimits = DEFAULT_LIMITS
) -> TextDocument | PlanSubmission:
    """Recognise the format by content (the file name only breaks ties) and read it, within `limits`."""
    if len(data) > max_bytes:
        size, limit = len(data) // 1024, max_bytes // 1024
        raise DocumentTooLarge(
            Wording(
                vi=f"Tệp {name or ''} lớn {size} KB, vượt giới hạn {limit} KB; "
                "hãy gửi riêng văn bản kế hoạch, không kèm phụ lục hay ảnh.",
                en=f"The file{' ' + name if name else ''} is {size} KB, over the limit of {limit} KB; "
                "send the plan's text alone, without appendices or images.",
            )
        )
    if not data.strip(b" \t\r\n\x00") or data in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
        raise EmptyDocument(
            Wording(
                vi="Tệp rỗng: không có nội dung để đọc. Hãy kiểm tra lại tệp đã chọn.",
                en="The file is empty: there is nothing to read. Check that the right file was chosen.",
            )
        )
    if data.startswith(b"PK\x03\x04"):
        document = _read_docx(data, name, limits)
        check_text(document.lines, limits)
        return document
    if data.startswith(b"%PDF") or data.startswith(_IMAGES):
        document = _read_paged(data, name, limits)
        check_text(document.lines, limits)
        return document
    if data.startswith(_COMPOUND):
        document = _read_doc(data, name, limits)
        check_text(document.lines, limits)
        return document
    for signature, label in _SIGNATURES.items():
        if data.startswith(signature):
            raise UnknownFormat(
                Wording(
                    vi=f"Tệp là {label}, chưa đọc được định dạng này. "
                    "Hãy mở bằng Word và lưu lại thành .docx hoặc .txt.",
                    en=f"The file is {label}, a format intake does not read. "
                    "Open it in Word and save it as .docx or .txt.",
                )
            )
    text = _decode(data)
    if not text.strip():
        raise EmptyDocument(
            Wording(
                vi="Tệp chỉ có khoảng trắng: không có nội dung để đọc.",
                en="The file holds only white space: there is nothing to read.",
            )
        )
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")) or name.lower().endswith(".json"):
        return _read_json(stripped)
    lines = split_lines(text)
    check_text(lines, limits)
    return TextDocument(name=name, format="text", lines=lines)


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    elif _looks_utf16(data):
        encoding = "utf-16-le" if data[1:2] == b"\x00" else "utf-16-be"
    else:
        encoding = "utf-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        raise BinaryDocument(
            Wording(
                vi="Tệp không phải văn bản UTF-8 hay UTF-16 (có thể là tệp nhị phân hoặc bảng mã cũ như TCVN3/VNI). "
                "Hãy lưu lại thành .docx, hoặc .txt với bảng mã Unicode (UTF-8).",
                en="The file is not UTF-8 or UTF-16 text (it may be binary, or in a legacy Vietnamese encoding such "
                "as TCVN3/VNI). Save it as .docx, or as .txt in Unicode (UTF-8).",
            )
        ) from None
    controls = len(_CONTROL.findall(text))
    if controls > max(2, len(text) // 100):
        raise BinaryDocument(
            Wording(
                vi="Tệp chứa dữ liệu nhị phân, không phải văn bản. Hãy gửi tệp .docx, .txt hoặc .json.",
                en="The file holds binary data, not text. Send a .docx, .txt or .json file.",
            )
        )
    return text


def _looks_utf16(data: bytes) -> bool:
    """UTF-16 without a BOM: Vietnamese text still has a NUL in most high (or low) bytes."""
    sample = data[:2000]
    if len(sample) < 4 or len(sample) % 2:
        return False
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    return max(even, odd) > len(sample) // 4 and min(even, odd) == 0


def _read_json(text: str) -> PlanSubmission:
    try:
        raw: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidStructuredPlan(
            Wording(
                vi=f"Tệp JSON không hợp lệ ở dòng {exc.lineno}, cột {exc.colno}: {exc.msg}. Hãy sửa lại cú pháp JSON.",
                en=f"The JSON is invalid at line {exc.lineno}, column {exc.colno}: {exc.msg}. Correct its syntax.",
            )
        ) from None
    try:
        return PlanSubmission.model_validate(raw)
    except ValidationError as exc:
        problems: list[dict[str, Said]] = [
            {"where": ".".join(str(p) for p in error["loc"]) or "plan", "problem": _validation_problem(error)}
            for error in exc.errors()
        ]
        raise InvalidStructuredPlan(
            Wording(
                vi="Tệp JSON không đúng mẫu kế hoạch (issuer, number, title, assignments, deadlines).",
                en="The JSON does not follow the plan's schema (issuer, number, title, assignments, deadlines).",
            ),
            problems,
        ) from None


def _validation_problem(error: Any) -> Wording:
    """A field the JSON plan got wrong, in both languages: a rule of the plan's own (raised with a Wording) as it
    said it, else pydantic's message in English and its Vietnamese (shared/platform/validation_wording.py)."""
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, BaseException) and isinstance(said := wording_of(cause), Wording):
        return said
    return Wording(vi=str(vietnamese_message(error)), en=str(error["msg"]))


def _read_docx(data: bytes, name: str, limits: DocumentLimits) -> TextDocument:
    from services.intake.documents.docx_reader import docx_lines

    return TextDocument(name=name, format="docx", lines=docx_lines(inflate(data, limits), limits))


def _read_doc(data: bytes, name: str, limits: DocumentLimits) -> TextDocument:
    from services.intake.documents.doc_reader import doc_lines

    lines = doc_lines(data, limits)
    if not any(line.strip() for line in lines):
        raise EmptyDocument(
            Wording(
                vi="Tệp Word 97-2003 (.doc) không có chữ nào. Hãy kiểm tra lại tệp đã chọn.",
                en="The Word 97-2003 (.doc) file holds no text. Check that the right file was chosen.",
            )
        )
    return TextDocument(name=name, format="doc", lines=lines)


def _read_paged(data: bytes, name: str, limits: DocumentLimits) -> TextDocument:
    from services.intake.documents import ocr
    from services.intake.documents.pages import document_lines
    from services.intake.documents.pdf_reader import read_pdf

    if data.startswith(b"%PDF"):
        reader, lines, sources = read_pdf(data, limits)
    else:
        reader = "ocr"
        lines, sources = document_lines(ocr.image_pages(data, limits))
    if not any(line.strip() for line in lines):
        raise EmptyDocument(
            Wording(
                vi="Không tìm thấy chữ nào trong tệp (trang trắng, hoặc ảnh quét quá mờ để nhận dạng). "
                "Hãy quét lại rõ hơn (300 dpi), hoặc gửi bản .docx hay PDF có lớp chữ.",
                en="No text was found in the file (blank pages, or a scan too faint to recognise). "
                "Scan it again more sharply (300 dpi), or send a .docx or a PDF with a text layer.",
            )
        )
    return TextDocument(name=name, format=reader, lines=lines, sources=sources)


_MEDIA_TYPES = (
    (b"PK\x03\x04", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (b"%PDF", "application/pdf"),
    (b"\x89PNG", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"\xd0\xcf\x11\xe0", "application/msword"),
)


def media_type(data: bytes) -> str:
    """The media type a document read here is given back with (`GET /plans/{id}/document`), by its content."""
    for signature, kind in _MEDIA_TYPES:
        if data.startswith(signature):
            return kind
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"[")):
        return "application/json"
    return "text/plain"


def check_text(lines: list[str], limits: DocumentLimits) -> None:
    """A document's text within the paragraph and character limits (a .docx's paragraphs are counted earlier,
    before they are read)."""
    paragraphs = sum(1 for line in lines if line.strip())
    if paragraphs > limits.max_paragraphs:
        raise too_many_paragraphs(paragraphs, limits)
    characters = sum(map(len, lines))
    if characters > limits.max_characters:
        raise DocumentTooLarge(
            Wording(
                vi=f"Tài liệu quá lớn: {count(characters)} ký tự, vượt giới hạn {count(limits.max_characters)} ký tự. "
                "Hãy gửi riêng văn bản kế hoạch, không kèm phụ lục.",
                en=f"The document is too large: {count_en(characters)} characters, over the limit of "
                f"{count_en(limits.max_characters)}. Send the plan's text alone, without appendices.",
            )
        )
