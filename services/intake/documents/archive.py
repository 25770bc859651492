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
from services.intake.documents.limits import MB, DocumentLimits, count, count_en
from shared.domain.wording import Wording

_CHUNK = 64 * 1024
# Word writes deflated (and sometimes stored) parts. The zipfile module inflates bzip2 and LZMA without an
# output bound per call, so an archive using them is refused rather than inflated.
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_MAX_RATIO = 200
_DAMAGED = Wording(
    vi="Tệp .docx bị hỏng (không mở được). Hãy mở bằng Word và lưu lại.",
    en="The .docx file is damaged (it cannot be opened). Open it in Word and save it again.",
)
_SAVE_AGAIN = Wording(vi="Hãy mở bằng Word và lưu lại thành .docx.", en="Open it in Word and save it as .docx again.")


def _size(count: int) -> str:
    return f"{count // MB} MB" if count >= MB else f"{max(count // 1024, 1)} KB"


def _too_large(what: Wording, limit: int) -> DocumentTooLarge:
    return DocumentTooLarge(
        Wording(
            vi=f"Tài liệu quá lớn: {what.vi} vượt giới hạn {_size(limit)}. "
            "Hãy gửi bản kế hoạch không kèm hình ảnh lớn.",
            en=f"The document is too large: {what.en} over the limit of {_size(limit)}. "
            "Send the plan without large images.",
        )
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
            Wording(
                vi=f"Tài liệu quá lớn: tệp .docx có {count(len(members))} phần, "
                f"vượt giới hạn {count(limits.max_entries)} phần. {_SAVE_AGAIN.vi}",
                en=f"The document is too large: the .docx file has {count_en(len(members))} parts, "
                f"over the limit of {count_en(limits.max_entries)}. {_SAVE_AGAIN.en}",
            )
        )
    declared = sum(member.file_size for member in members)
    if declared > limits.max_inflated_bytes:
        inflated = Wording(
            vi=f"tệp .docx giải nén ra {_size(declared)},", en=f"the .docx file inflates to {_size(declared)},"
        )
        raise _too_large(inflated, limits.max_inflated_bytes)
    if declared > _MAX_RATIO * max(data_size, 1):  # Word's XML compresses 5 to 20 times
        raise DocumentTooLarge(
            Wording(
                vi=f"Tài liệu quá lớn: tệp .docx {_size(data_size)} giải nén ra {_size(declared)}, "
                f"gấp hơn {_MAX_RATIO} lần (một tệp Word thường chỉ gấp 5 đến 20 lần). {_SAVE_AGAIN.vi}",
                en=f"The document is too large: the .docx file of {_size(data_size)} inflates to {_size(declared)}, "
                f"more than {_MAX_RATIO} times its size (a Word file inflates 5 to 20 times). {_SAVE_AGAIN.en}",
            )
        )
    for member in members:
        if member.compress_type not in _METHODS or member.flag_bits & 0x1:
            raise BinaryDocument(
                Wording(
                    vi=f"Tệp .docx dùng kiểu nén hoặc mã hóa mà Word không dùng. {_SAVE_AGAIN.vi}",
                    en=f"The .docx file uses a compression or an encryption Word does not use. {_SAVE_AGAIN.en}",
                )
            )
    return members


def inflate(data: bytes, limits: DocumentLimits) -> bytes:
    """The archive again, every part inflated within the caps and stored uncompressed; a typed error else."""
    with open_archive(data) as archive:
        members = check_declared(archive, len(data), limits)
        if "word/document.xml" not in {member.filename for member in members}:
            raise UnknownFormat(
                Wording(
                    vi="Tệp nén này không phải văn bản Word (.docx). Hãy gửi tệp .docx, .txt hoặc .json.",
                    en="This zip archive is not a Word document (.docx). Send a .docx, .txt or .json file.",
                )
            )
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
            Wording(
                vi=f"Tệp .docx bị hỏng: phần {member.filename} không khớp với kích thước và mã kiểm tra ghi trong tệp "
                "(tệp hỏng, hoặc sửa lại để đánh lừa trình đọc). Hãy mở bằng Word và lưu lại.",
                en=f"The .docx file is damaged: its part {member.filename} does not match the size and checksum the "
                "file records (a damaged file, or one altered to mislead the reader). "
                "Open it in Word and save it again.",
            )
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
                part = Wording(
                    vi=f"phần {member.filename} của tệp .docx khi giải nén",
                    en=f"the part {member.filename} of the .docx file, inflated, is",
                )
                raise _too_large(part, limits.max_entry_bytes)
            if size > room:
                inflated = Wording(vi="tệp .docx khi giải nén", en="the .docx file, inflated, is")
                raise _too_large(inflated, limits.max_inflated_bytes)
            chunks.append(chunk)
    return b"".join(chunks)
