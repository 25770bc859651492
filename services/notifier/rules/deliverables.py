"""What the assignment notice says an agency is to deliver and where: the plan's own words when it gives them
(`DeliverableRequirement` of shared/contracts/events.py, read by intake's document reader or given by a structured
plan), else the general line. Vietnamese as a ward office writes it; NFC whatever the row holds."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from shared.domain.places import place

_LINK = re.compile(r"^https?://", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
GENERAL = (
    "Sản phẩm cần gửi: báo cáo kết quả thực hiện của từng kỳ nêu trên, kèm tệp văn bản (.docx, .pdf, .odt, "
    ".xlsx) hoặc ảnh chụp (.jpg, .png), gửi qua hệ thống đôn đốc."
)
ALSO_HERE = (
    "Đồng thời, đề nghị đơn vị nộp báo cáo kèm các tệp trên hệ thống đôn đốc (.docx, .pdf, .odt, .xlsx, .jpg, "
    ".png) để theo dõi."
)


def _nfc(value: object) -> str:
    return unicodedata.normalize("NFC", str(value)).strip()


def listing(items: Sequence[str]) -> str:
    """'A', 'A và B', 'A, B và C'."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} và {items[-1]}"


def destination(send_to: str) -> str:
    """'qua đường dẫn https://…', 'đến địa chỉ thư điện tử a@b', 'đến Văn phòng Đảng ủy'."""
    if _LINK.match(send_to):
        return f"qua đường dẫn {send_to}"
    if _EMAIL.match(send_to):
        return f"đến địa chỉ thư điện tử {send_to}"
    return f"đến {send_to}"


def requirement_text(requirement: Mapping[str, Any]) -> str:
    """'01 file word và 01 file scan, gửi đến Văn phòng Đảng ủy (mục IV, dòng 52 của Kế hoạch)'; '' when it says
    neither what nor where."""
    items = [_nfc(i) for i in requirement.get("items") or () if _nfc(i)]
    send_to = _nfc(requirement.get("send_to") or "")
    what = listing(items) if items else ("báo cáo kết quả thực hiện" if send_to else "")
    if not what:
        return ""
    text = f"{what}, gửi {destination(send_to)}" if send_to else what
    where = place(requirement.get("provenance"))
    return f"{text} ({where} của Kế hoạch)" if where else text


def deliverable_lines(requirements: Sequence[Mapping[str, Any]]) -> list[str]:
    """The notice's lines on what to deliver: the plan's requirements, one line for one, a list for several."""
    texts = [t for t in (requirement_text(r) for r in requirements) if t]
    if not texts:
        return [GENERAL]
    if len(texts) == 1:
        return [f"Sản phẩm cần gửi theo Kế hoạch: {texts[0]}.", ALSO_HERE]
    return ["Sản phẩm cần gửi theo Kế hoạch:", *[f"– {t[:1].upper()}{t[1:]}." for t in texts], ALSO_HERE]
