"""What a plan asks a body to deliver and where, as people read it: "01 file word và 01 file scan, gửi đến Văn
phòng Đảng ủy (mục IV, dòng 52 của Kế hoạch)". One rule for the notifier's e-mails and the web portal's assignment
page. The requirement is the contract's `DeliverableRequirement` (shared/contracts/events.py) as a stored mapping:
its items and destination as the plan words them (NFC), the place its sentence is written."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from shared.domain.places import place

_LINK = re.compile(r"^https?://", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


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
