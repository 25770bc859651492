"""What a report file is, from its content rather than its name (docs/security.md): PDF by `%PDF-`, PNG and JPEG
by their signatures, and the ZIP containers by their entries (`word/document.xml` for .docx, `xl/workbook.xml`
for .xlsx, the `mimetype` entry of an OpenDocument text for .odt). A file is accepted only when its name's
extension is allowed and its content is of that kind. Pure: fed the bytes as they stream in."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from shared.domain.wording import Wording

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODT = "application/vnd.oasis.opendocument.text"
BY_EXTENSION = {".pdf": PDF, ".png": PNG, ".jpg": JPEG, ".jpeg": JPEG, ".docx": DOCX, ".xlsx": XLSX, ".odt": ODT}
_SIGNATURES = {PDF: b"%PDF-", PNG: b"\x89PNG\r\n\x1a\n", JPEG: b"\xff\xd8\xff"}
_ZIP = b"PK\x03\x04"
_ZIP_KINDS = {b"word/document.xml": DOCX, b"xl/workbook.xml": XLSX}
_LOCAL_HEADER = 30  # bytes of a ZIP local file header before the entry's name
_HEAD = 8  # bytes enough to tell every signature apart
_CARRY = _LOCAL_HEADER + 64 + len(ODT)  # bytes kept between chunks so that a header split across them is read


class FileRefused(Exception):
    """Not an allowed kind (`type_not_allowed`), or not what its name says (`type_mismatch`)."""

    def __init__(self, reason: str, detail: str | Wording) -> None:
        super().__init__(detail)
        self.reason = reason


def expected_type(extension: str) -> str:
    """The media type a name's extension promises; refused when the kind is not allowed."""
    media_type = BY_EXTENSION.get(extension)
    if media_type is None:
        allowed = ", ".join(sorted(BY_EXTENSION))
        shown = f"có đuôi «{extension}»" if extension else "không có đuôi"
        said = Wording(
            vi=f"Hệ thống không nhận tệp {shown}; chỉ nhận các loại tệp: {allowed}.",
            en=f"files of type {extension or 'no extension'} are not accepted (allowed: {allowed})",
        )
        raise FileRefused("type_not_allowed", said)
    return media_type


@dataclass
class Sniffer:
    """Reads the head of the content and, for ZIP containers, the names of the entries as they go by."""

    head: bytes = b""
    _carry: bytes = b""
    _found: str | None = None

    def feed(self, chunk: bytes) -> None:
        if len(self.head) < _HEAD:
            self.head = (self.head + chunk[:_HEAD])[:_HEAD]
        undecided = len(self.head) < len(_ZIP)
        if (not undecided and not self.head.startswith(_ZIP)) or self._found is not None:
            return
        window = self._carry + chunk
        at = window.find(_ZIP)
        while at != -1 and self._found is None:
            self._found = _zip_entry_kind(window, at)
            at = window.find(_ZIP, at + 1)
        self._carry = window[-_CARRY:]

    def check_head(self, expected: str) -> None:
        """Refuse as soon as the first bytes show the content is not of the expected kind."""
        if len(self.head) < _HEAD:
            return
        signature = _SIGNATURES.get(expected, _ZIP)
        if not self.head.startswith(signature):
            raise FileRefused("type_mismatch", _not_of_kind(expected))

    def check(self, expected: str) -> None:
        """The final verdict, once every byte has been fed."""
        if not self.head:
            raise FileRefused("type_mismatch", _EMPTY)
        self.check_head(expected)
        if len(self.head) < _HEAD and not self.head.startswith(_SIGNATURES.get(expected, _ZIP)):
            raise FileRefused("type_mismatch", _not_of_kind(expected))
        if expected not in _SIGNATURES and self._found != expected:
            raise FileRefused("type_mismatch", _not_of_kind(expected))


def _zip_entry_kind(window: bytes, at: int) -> str | None:
    """The kind a ZIP local header at `at` names (None when it names nothing telling, or is cut off)."""
    if len(window) < at + _LOCAL_HEADER:
        return None
    name_length, extra_length = struct.unpack_from("<HH", window, at + 26)
    start = at + _LOCAL_HEADER
    name = window[start : start + name_length]
    if name in _ZIP_KINDS:
        return _ZIP_KINDS[name]
    if name == b"mimetype":
        content = start + name_length + extra_length
        if window[content : content + len(ODT)] == ODT.encode():
            return ODT
    return None


_EMPTY = Wording(vi="Tệp rỗng, không có nội dung.", en="the file is empty")
# Each kind as a sentence names it: Vietnamese, English.
_KINDS = {
    PDF: ("tài liệu PDF", "a PDF"),
    PNG: ("ảnh PNG", "a PNG image"),
    JPEG: ("ảnh JPEG", "a JPEG image"),
    DOCX: ("văn bản Word (.docx)", "a Word document (.docx)"),
    XLSX: ("bảng tính Excel (.xlsx)", "an Excel workbook (.xlsx)"),
    ODT: ("văn bản OpenDocument (.odt)", "an OpenDocument text (.odt)"),
}


def _not_of_kind(media_type: str) -> Wording:
    vietnamese, english = _KINDS[media_type]
    return Wording(
        vi=f"Nội dung tệp không phải là {vietnamese} như phần đuôi của tên tệp cho biết.",
        en=f"the content is not {english}",
    )
