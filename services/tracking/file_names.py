"""A report file's name as dondoc keeps and shows it: the original name, NFC, Vietnamese letters kept; no folder
part, no control or format characters (a right-to-left override could make `exe.pdf` read as `fdp.exe`), none of
the characters file systems refuse; at most MAX_NAME characters with the extension kept. Also the two forms a
download's Content-Disposition carries (an ASCII fallback and RFC 5987 UTF-8)."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

MAX_NAME = 200
FALLBACK_STEM = "tep-bao-cao"
_FORBIDDEN = re.compile(r'[<>:"|?*]')
_SPACES = re.compile(r"\s+")
_NOT_ASCII_SAFE = re.compile(r"[^A-Za-z0-9._ -]")


def extension(name: str) -> str:
    """The lower-case extension with its dot (".pdf"), or "" when the name has none."""
    stem, dot, ext = name.rpartition(".")
    return f".{ext.lower()}" if dot and stem and ext else ""


def sanitise(name: str) -> str:
    """The name to store and show; never empty."""
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(" " if c.isspace() else c for c in name if unicodedata.category(c)[0] != "C" or c.isspace())
    name = _FORBIDDEN.sub("_", name)
    name = _SPACES.sub(" ", name).strip(" .")
    ext = extension(name)
    stem = name[: len(name) - len(ext)].rstrip(" .") if ext else name
    if not stem:
        stem = FALLBACK_STEM
    return stem[: MAX_NAME - len(ext)].rstrip(" .") + ext


def ascii_fallback(name: str) -> str:
    """The name with its accents dropped (đ as d), for clients that do not read `filename*`."""
    plain = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    plain = _NOT_ASCII_SAFE.sub("_", plain).strip(" .")
    return plain or FALLBACK_STEM


def content_disposition(name: str) -> str:
    """`attachment` with both forms of the name."""
    return f"attachment; filename=\"{ascii_fallback(name)}\"; filename*=UTF-8''{quote(name, safe='')}"
