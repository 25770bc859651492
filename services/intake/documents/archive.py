"""A .docx archive (a zip of XML parts) inflated within bounds, whatever its headers say.

A zip entry's header declares its inflated size, but nothing forces the data to agree: an entry declaring
1,000 bytes can inflate to gigabytes, and `ZipFile.read` inflates the whole stream before its CRC check
fails. Here every entry is inflated in chunks, counting the bytes actually produced, and reading stops as
soon as a cap is passed. The parts are then handed to python-docx as a *stored* archive, so that it never
inflates anything itself.
"""

from __future__ import annotations

import io
import zipfile

from services.intake.documents.errors import BinaryDocument, DocumentTooLarge, UnknownFormat
from services.intake.documents.limits import MB, DocumentLimits, count

_CHUNK = 64 * 1024
# Word writes deflated (and sometimes stored) parts. The zipfile module inflates bzip2 and LZMA without an
# output bound per call, so an archive using them is refused rather than inflated.
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_MAX_RATIO = 200
_DAMAGED = "Tệp .docx bị hỏng (không mở được). Hãy mở bằng Word và lưu lại."


def _size(count: int) -> str:
    return f"{count // MB} MB" if count >= MB else f"{max(count // 1024, 1)} KB"


def _too_large(what: str, limit: int) -> DocumentTooLarge:
    return DocumentTooLarge(
        f"Tài liệu quá lớn: {what} vượt giới hạn {_size(limit)}. Hãy gửi bản kế hoạch không kèm hình ảnh lớn."
    )


def open_archive(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except Exception:  # a damaged archive fails in many ways (BadZipFile, EOFError, zlib.error …)
        raise BinaryDocument(_DAMAGED) from None


def check_declared(archive: zipfile.ZipFile, data_size: int, limits: DocumentLimits) -> list[zipfile.ZipInfo]:
    """An honest bomb is refused on its declared sizes, before anything is inflated."""
    members = archive.infolist()
    if len(members) > limits.max_entries:
        raise DocumentTooLarge(
            f"Tài liệu quá lớn: tệp .docx có {count(len(members))} phần, "
            f"vượt giới hạn {count(limits.max_entries)} phần. Hãy mở bằng Word và lưu lại thành .docx."
        )
    declared = sum(member.file_size for member in members)
    if declared > limits.max_inflated_bytes:
        raise _too_large(f"tệp .docx giải nén ra {_size(declared)},", limits.max_inflated_bytes)
    if declared > _MAX_RATIO * max(data_size, 1):  # Word's XML compresses 5 to 20 times
        raise DocumentTooLarge(
            f"Tài liệu quá lớn: tệp .docx {_size(data_size)} giải nén ra {_size(declared)}, gấp hơn {_MAX_RATIO} lần "
            "(một tệp Word thường chỉ gấp 5 đến 20 lần). Hãy mở bằng Word và lưu lại thành .docx."
        )
    for member in members:
        if member.compress_type not in _METHODS or member.flag_bits & 0x1:
            raise BinaryDocument(
                "Tệp .docx dùng kiểu nén hoặc mã hóa mà Word không dùng. Hãy mở bằng Word và lưu lại thành .docx."
            )
    return members


def inflate(data: bytes, limits: DocumentLimits) -> bytes:
    """The archive again, every part inflated within the caps and stored uncompressed; a typed error else."""
    with open_archive(data) as archive:
        members = check_declared(archive, len(data), limits)
        if "word/document.xml" not in {member.filename for member in members}:
            raise UnknownFormat("Tệp nén này không phải văn bản Word (.docx). Hãy gửi tệp .docx, .txt hoặc .json.")
        out = io.BytesIO()
        total = 0
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as stored:
            for member in members:
                if member.is_dir():
                    continue
                part = _inflate_entry(archive, member, limits, limits.max_inflated_bytes - total)
                total += len(part)
                stored.writestr(member.filename, part)
        return out.getvalue()


def _inflate_entry(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limits: DocumentLimits, room: int) -> bytes:
    try:
        return _read_entry(archive, member, limits, room)
    except DocumentTooLarge:
        raise
    except zipfile.BadZipFile:
        # zipfile stops at the declared size and checks the CRC there: data that goes on past it fails here.
        raise BinaryDocument(
            f"Tệp .docx bị hỏng: phần {member.filename} không khớp với kích thước và mã kiểm tra ghi trong tệp "
            "(tệp hỏng, hoặc sửa lại để đánh lừa trình đọc). Hãy mở bằng Word và lưu lại."
        ) from None
    except Exception:  # zlib.error, EOFError, NotImplementedError …: the part cannot be inflated
        raise BinaryDocument(_DAMAGED) from None


def _read_entry(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limits: DocumentLimits, room: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    with archive.open(member) as entry:
        while chunk := entry.read(_CHUNK):
            size += len(chunk)
            if size > limits.max_entry_bytes:
                raise _too_large(f"phần {member.filename} của tệp .docx khi giải nén", limits.max_entry_bytes)
            if size > room:
                raise _too_large("tệp .docx khi giải nén", limits.max_inflated_bytes)
            chunks.append(chunk)
    return b"".join(chunks)
