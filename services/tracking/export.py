"""A plan's status laid out the way offices report it: one row per body, one column per period,
then the four-state counts and percentages at the bottom. CSV and .xlsx carry the same table."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from services.tracking.domain import FOUR_STATES

STATE_LABELS = {
    "done_on_time": "Hoàn thành đúng hạn",
    "done_late": "Hoàn thành trễ hạn",
    "open": "Đang thực hiện (trong hạn)",
    "overdue": "Quá hạn",
}


def status_table(status: dict[str, Any]) -> list[list[Any]]:
    periods = sorted(status["by_period"])
    rows: list[list[Any]] = [["STT", "Cơ quan, đơn vị", "Loại", *[f"Kỳ {p}" for p in periods]]]
    for index, item in enumerate(status["assignments"], start=1):
        cells = [STATE_LABELS.get(item["periods"].get(p, ""), "") for p in periods]
        rows.append([index, item["agency"]["name"], item["agency"]["kind"], *cells])
    rows.append([])
    rows.append(["", "Tổng hợp", "", *["" for _ in periods], "Số lượng", "Tỷ lệ (%)"])
    totals = status["totals"]
    for state in FOUR_STATES:
        rows.append(["", STATE_LABELS[state], "", *["" for _ in periods], totals[state], totals["percent"][state]])
    rows.append(["", "Tổng số", "", *["" for _ in periods], totals["total"], 100.0 if totals["total"] else 0.0])
    return rows


def to_csv(status: dict[str, Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(status_table(status))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")  # the BOM makes Excel read UTF-8


def to_xlsx(status: dict[str, Any]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Tình hình thực hiện"
    plan = status.get("plan") or {}
    sheet.append([f"Kế hoạch số {plan.get('number', status['plan_id'])}: {plan.get('title', '')}"])
    sheet["A1"].font = Font(bold=True)
    sheet.append([])
    for row in status_table(status):
        sheet.append(row)
    sheet.column_dimensions["B"].width = 45
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
