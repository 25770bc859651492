"""Word .docx → lines: body paragraphs and tables in document order, with the automatic numbering
that Word draws but does not store in the text (`1.`, `a)`, `-`) put back in front of each item."""

from __future__ import annotations

import io
from collections import defaultdict
from typing import Any

from services.intake.documents.errors import BinaryDocument

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _roman(number: int) -> str:
    values = ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
              (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))
    out = []
    for value, letters in values:
        while number >= value:
            out.append(letters)
            number -= value
    return "".join(out)


def _format(fmt: str, number: int) -> str:
    if fmt == "upperRoman":
        return _roman(number)
    if fmt == "lowerRoman":
        return _roman(number).lower()
    if fmt == "lowerLetter":
        return chr(ord("a") + (number - 1) % 26)
    if fmt == "upperLetter":
        return chr(ord("A") + (number - 1) % 26)
    return str(number)


class _Numbering:
    """Counters per list and level, formats from numbering.xml (when the part is there)."""

    def __init__(self, document: Any) -> None:
        self.formats: dict[tuple[str, int], tuple[str, str]] = {}
        self.counters: dict[str, dict[int, int]] = defaultdict(dict)
        try:
            root = document.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):
            return
        abstract: dict[str, dict[int, tuple[str, str]]] = {}
        for node in root.findall(f"{_W}abstractNum"):
            levels = {}
            for level in node.findall(f"{_W}lvl"):
                fmt = level.find(f"{_W}numFmt")
                text = level.find(f"{_W}lvlText")
                levels[int(level.get(f"{_W}ilvl", "0"))] = (
                    fmt.get(f"{_W}val", "decimal") if fmt is not None else "decimal",
                    text.get(f"{_W}val", "%1.") if text is not None else "%1.",
                )
            abstract[node.get(f"{_W}abstractNumId", "")] = levels
        for node in root.findall(f"{_W}num"):
            ref = node.find(f"{_W}abstractNumId")
            if ref is None:
                continue
            for ilvl, spec in abstract.get(ref.get(f"{_W}val", ""), {}).items():
                self.formats[(node.get(f"{_W}numId", ""), ilvl)] = spec

    def label(self, num_id: str, ilvl: int) -> str:
        fmt, text = self.formats.get((num_id, ilvl), ("decimal", "%1."))
        if fmt == "bullet":
            return "-"
        if fmt == "none":
            return ""
        levels = self.counters[num_id]
        levels[ilvl] = levels.get(ilvl, 0) + 1
        for deeper in [lvl for lvl in levels if lvl > ilvl]:
            del levels[deeper]
        label = text
        for lvl in range(ilvl + 1):
            spec = self.formats.get((num_id, lvl), ("decimal", "%1."))[0]
            label = label.replace(f"%{lvl + 1}", _format(spec, levels.get(lvl, 1)))
        return label


def _numbering_of(paragraph: Any) -> tuple[str, int] | None:
    ppr = paragraph._p.pPr
    num_pr = ppr.numPr if ppr is not None else None
    if num_pr is not None and num_pr.numId is not None:
        ilvl = num_pr.ilvl.val if num_pr.ilvl is not None else 0
        return str(num_pr.numId.val), int(ilvl)
    style = (paragraph.style.name or "") if paragraph.style is not None else ""
    if style.startswith("List Number"):
        return f"style:{style}", 0
    if style.startswith("List Bullet"):
        return "bullet", 0
    return None


def _paragraph_line(paragraph: Any, numbering: _Numbering) -> str:
    text = paragraph.text
    numbered = _numbering_of(paragraph)
    if numbered is None or not text.strip():
        return text
    num_id, ilvl = numbered
    label = "-" if num_id == "bullet" else numbering.label(num_id, ilvl)
    return f"{label} {text}" if label else text


def docx_lines(data: bytes) -> list[str]:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # a damaged file fails in zipfile, lxml or python-docx's package reader
        raise BinaryDocument(
            f"Không đọc được tệp .docx ({type(exc).__name__}). Hãy mở bằng Word và lưu lại thành .docx."
        ) from None
    numbering = _Numbering(document)
    lines: list[str] = []
    for block in document.element.body.iterchildren():
        if block.tag == f"{_W}p":
            lines.append(_paragraph_line(Paragraph(block, document), numbering))
            lines.append("")
        elif block.tag == f"{_W}tbl":
            lines.extend(_table_lines(Table(block, document), numbering))
    return lines


def _table_lines(table: Any, numbering: _Numbering) -> list[str]:
    """A table of tasks (several rows, several columns) gives one line per row, cells joined with ` | `;
    a layout table (the header and signature blocks) gives its cells' paragraphs one after another."""
    rows = table.rows
    columns = max((len(row.cells) for row in rows), default=0)
    lines: list[str] = []
    if len(rows) >= 3 and columns >= 2:
        for row in rows:
            cells = []
            for cell in row.cells:
                text = " ".join(p.text.strip() for p in cell.paragraphs if p.text.strip())
                if not cells or text != cells[-1]:  # merged cells repeat their text
                    cells.append(text)
            lines.append(" | ".join(cells))
        lines.append("")
        return lines
    for column in range(columns):
        for row in rows:
            if column < len(row.cells):
                for paragraph in row.cells[column].paragraphs:
                    lines.append(_paragraph_line(paragraph, numbering))
        lines.append("")
    return lines
