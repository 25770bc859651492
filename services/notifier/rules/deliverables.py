"""What the assignment notice says an agency is to deliver and where: the plan's own words when it gives them
(`DeliverableRequirement` of shared/contracts/events.py, read by intake's document reader or given by a structured
plan), else the general line. Vietnamese as a ward office writes it; NFC whatever the row holds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shared.domain.deliverables import requirement_text

GENERAL = (
    "Sản phẩm cần gửi: báo cáo kết quả thực hiện của từng kỳ nêu trên, kèm tệp văn bản (.docx, .pdf, .odt, "
    ".xlsx) hoặc ảnh chụp (.jpg, .png), gửi qua hệ thống đôn đốc."
)
ALSO_HERE = (
    "Đồng thời, đề nghị đơn vị nộp báo cáo kèm các tệp trên hệ thống đôn đốc (.docx, .pdf, .odt, .xlsx, .jpg, "
    ".png) để theo dõi."
)


def deliverable_lines(requirements: Sequence[Mapping[str, Any]]) -> list[str]:
    """The notice's lines on what to deliver: the plan's requirements, one line for one, a list for several."""
    texts = [t for t in (requirement_text(r) for r in requirements) if t]
    if not texts:
        return [GENERAL]
    if len(texts) == 1:
        return [f"Sản phẩm cần gửi theo Kế hoạch: {texts[0]}.", ALSO_HERE]
    return ["Sản phẩm cần gửi theo Kế hoạch:", *[f"– {t[:1].upper()}{t[1:]}." for t in texts], ALSO_HERE]
