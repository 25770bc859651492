"""A plan's status laid out the way offices report it: one row per body, one column per period,
then the four-state counts and percentages at the bottom. CSV and .xlsx carry the same table.

Agency names and plan titles come from other people's input, so a text that a spreadsheet would read as a
formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return: CSV/formula injection) is written as
text: in the .xlsx as a string cell with the quote prefix (never a formula), in the CSV behind a `'`."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook  # type: ignore[import-untyped]  # no stubs: types-openpyxl is not in uv.lock
from openpyxl.cell.cell import Cell  # type: ignore[import-untyped]  # the same
from openpyxl.styles import Font  # type: ignore[import-untyped]  # the same

from services.tracking.domain import FOUR_STATES

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

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


def _formula_like(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)


def _csv_cell(value: Any) -> Any:
    return f"'{value}" if _formula_like(value) else value


def to_csv(status: dict[str, Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([[_csv_cell(v) for v in row] for row in status_table(status)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")  # the BOM makes Excel read UTF-8


def to_xlsx(status: dict[str, Any]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Tình hình thực hiện"
    plan = status.get("plan") or {}
    sheet.append([_xlsx_cell(sheet, f"Kế hoạch số {plan.get('number', status['plan_id'])}: {plan.get('title', '')}")])
    sheet["A1"].font = Font(bold=True)
    sheet.append([])
    for row in status_table(status):
        sheet.append([_xlsx_cell(sheet, value) for value in row])
    sheet.column_dimensions["B"].width = 45
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    """openpyxl stores any string starting with `=` as a formula: such a text goes in as a string cell."""
    if not _formula_like(value):
        return value
    cell = Cell(sheet, value=value)
    cell.data_type = "s"  # after the value: assigning it made the cell a formula
    cell.quotePrefix = True  # and Excel keeps it text when someone edits the cell
    return cell
