"""Word .docx → lines: body paragraphs and tables in document order, with the automatic numbering
that Word draws but does not store in the text (`1.`, `a)`, `-`) put back in front of each item."""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from services.intake.documents.errors import BinaryDocument, DocumentTooLarge
from services.intake.documents.limits import DEFAULT_LIMITS, DocumentLimits, count, count_en, too_many_paragraphs
from shared.domain.wording import Wording

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _roman(number: int) -> str:
    values = (
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    )
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


@dataclass(frozen=True)
class _Level:
    fmt: str  # decimal, upperRoman, lowerLetter, bullet, none …
    text: str  # `%1.`, `%1.%2.`, `a)` …
    start: int


def _level(node: Any, ilvl: int) -> _Level:
    fmt, text, start = node.find(f"{_W}numFmt"), node.find(f"{_W}lvlText"), node.find(f"{_W}start")
    return _Level(
        fmt.get(f"{_W}val", "decimal") if fmt is not None else "decimal",
        text.get(f"{_W}val", f"%{ilvl + 1}.") if text is not None else f"%{ilvl + 1}.",
        _int(start.get(f"{_W}val")) if start is not None else 1,
    )


def _int(value: str | None, default: int = 1) -> int:
    try:
        return int(value or "")
    except ValueError:
        return default


class _Numbering:
    """Lists as Word numbers them, from numbering.xml (when the part is there).

    Word keeps one running count per abstract list (`w:abstractNum`), not per list instance (`w:num`):
    a new `w:num` over the same abstract list goes on counting, and a list restarts only where a `w:num`
    says so with `w:lvlOverride/w:startOverride` — at that instance's first paragraph of that level.
    A `w:lvl` inside an override changes the level's look for that instance only."""

    def __init__(self, document: Any) -> None:
        self.levels: dict[tuple[str, int], _Level] = {}
        self.abstract_of: dict[str, str] = {}
        self.restart_at: dict[tuple[str, int], int] = {}
        self.restarted: set[tuple[str, int]] = set()
        self.counters: dict[str, dict[int, int]] = defaultdict(dict)
        try:
            root = document.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):
            return
        abstract: dict[str, dict[int, _Level]] = {}
        for node in root.findall(f"{_W}abstractNum"):
            levels = {}
            for level in node.findall(f"{_W}lvl"):
                ilvl = _int(level.get(f"{_W}ilvl"), 0)
                levels[ilvl] = _level(level, ilvl)
            abstract[node.get(f"{_W}abstractNumId", "")] = levels
        for node in root.findall(f"{_W}num"):
            ref = node.find(f"{_W}abstractNumId")
            if ref is None:
                continue
            num_id, abstract_id = node.get(f"{_W}numId", ""), ref.get(f"{_W}val", "")
            self.abstract_of[num_id] = f"abstract:{abstract_id}"
            for ilvl, spec in abstract.get(abstract_id, {}).items():
                self.levels[(num_id, ilvl)] = spec
            for override in node.findall(f"{_W}lvlOverride"):
                ilvl = _int(override.get(f"{_W}ilvl"), 0)
                if (level := override.find(f"{_W}lvl")) is not None:
                    self.levels[(num_id, ilvl)] = _level(level, ilvl)
                if (start := override.find(f"{_W}startOverride")) is not None:
                    self.restart_at[(num_id, ilvl)] = _int(start.get(f"{_W}val"))

    def _spec(self, num_id: str, ilvl: int) -> _Level:
        return self.levels.get((num_id, ilvl)) or _Level("decimal", f"%{ilvl + 1}.", 1)

    def label(self, num_id: str, ilvl: int) -> str:
        spec = self._spec(num_id, ilvl)
        if spec.fmt == "bullet":
            return "-"
        if spec.fmt == "none":
            return ""
        levels = self.counters[self.abstract_of.get(num_id, num_id)]
        if (num_id, ilvl) in self.restart_at and (num_id, ilvl) not in self.restarted:
            self.restarted.add((num_id, ilvl))
            levels[ilvl] = self.restart_at[(num_id, ilvl)]
        else:
            levels[ilvl] = levels[ilvl] + 1 if ilvl in levels else spec.start
        for deeper in [lvl for lvl in levels if lvl > ilvl]:
            del levels[deeper]
        label = spec.text
        for lvl in range(ilvl + 1):
            outer = self._spec(num_id, lvl)
            label = label.replace(f"%{lvl + 1}", _format(outer.fmt, levels.get(lvl, outer.start)))
        return label


@dataclass(frozen=True)
class _Style:
    name: str
    numbering: tuple[str | None, int | None]  # the `w:numPr` it gives its paragraphs, through `basedOn`


class _Styles:
    """The paragraph styles of styles.xml, indexed once per document by style id.

    python-docx finds a paragraph's style by scanning every `w:style` (an XPath per paragraph, and one more
    per `basedOn` step): 40,000 paragraphs over 300 styles took minutes. The rules are python-docx's: the
    first `w:style` with the id wins; an id that is missing or names a style of another type gives the
    document's default paragraph style (the last one marked `w:default`); `basedOn` follows any type."""

    def __init__(self, root: Any) -> None:
        elements = root.findall(f"{_W}style") if root is not None else []
        self._by_id: dict[str, Any] = {}
        default = None
        for element in elements:
            if (style_id := element.get(f"{_W}styleId")) is not None:
                self._by_id.setdefault(style_id, element)
            if element.get(f"{_W}type") == "paragraph" and element.get(f"{_W}default") in ("1", "true", "on"):
                default = element
        self._default = self._style(default) if default is not None else None
        self._of_id: dict[str, _Style | None] = {}

    def of_paragraph(self, p: Any) -> _Style | None:
        ppr = p.find(f"{_W}pPr")
        p_style = ppr.find(f"{_W}pStyle") if ppr is not None else None
        style_id = (p_style.get(f"{_W}val") or "") if p_style is not None else ""
        if style_id not in self._of_id:
            element = self._by_id.get(style_id) if style_id else None
            paragraph_style = element is not None and element.get(f"{_W}type") == "paragraph"
            self._of_id[style_id] = self._style(element) if paragraph_style else self._default
        return self._of_id[style_id]

    def _style(self, element: Any) -> _Style:
        name = element.find(f"{_W}name")
        return _Style((name.get(f"{_W}val") or "") if name is not None else "", self._numbering(element))

    def _numbering(self, style: Any) -> tuple[str | None, int | None]:
        for _ in range(10):  # a `basedOn` chain is short; a cycle in a damaged file must not hang the reader
            if style is None:
                break
            ppr = style.find(f"{_W}pPr")
            num_pr = ppr.find(f"{_W}numPr") if ppr is not None else None
            if num_pr is not None:
                return _num_pr(num_pr)
            based_on = style.find(f"{_W}basedOn")
            style = self._by_id.get(based_on.get(f"{_W}val")) if based_on is not None else None
        return None, None


def _num_pr(num_pr: Any) -> tuple[str | None, int | None]:
    """numId and ilvl of a `w:numPr`, read as raw attributes: a damaged value reads as absent, not as an error."""
    num_id_element, ilvl_element = num_pr.find(f"{_W}numId"), num_pr.find(f"{_W}ilvl")
    num_id = num_id_element.get(f"{_W}val") if num_id_element is not None else None
    ilvl = ilvl_element.get(f"{_W}val") if ilvl_element is not None else None
    return (num_id.strip() or None) if num_id is not None else None, _int(ilvl, 0) if ilvl is not None else None


class _Reader:
    """One document's paragraphs to lines, with its styles and numbering prepared once."""

    def __init__(self, styles: _Styles, numbering: _Numbering) -> None:
        self.styles = styles
        self.numbering = numbering

    def numbering_of(self, p: Any) -> tuple[str, int] | None:
        ppr = p.find(f"{_W}pPr")
        num_pr = ppr.find(f"{_W}numPr") if ppr is not None else None
        num_id, ilvl = _num_pr(num_pr) if num_pr is not None else (None, None)
        style = self.styles.of_paragraph(p)
        if (num_id is None or ilvl is None) and style is not None:
            style_num_id, style_ilvl = style.numbering
            num_id = num_id or style_num_id
            ilvl = ilvl if ilvl is not None else style_ilvl
        if num_id == "0":
            return None  # numbering switched off on this paragraph
        if num_id is not None and (num_id in self.numbering.abstract_of or num_pr is not None):
            return num_id, ilvl or 0
        name = style.name if style is not None else ""
        if name.startswith("List Number"):
            return f"style:{name}", 0
        if name.startswith("List Bullet"):
            return "bullet", 0
        return None

    def line(self, p: Any) -> str:
        text: str = p.text
        numbered = self.numbering_of(p)
        if numbered is None:
            return text
        num_id, ilvl = numbered
        label = "-" if num_id == "bullet" else self.numbering.label(num_id, ilvl)  # an empty item is numbered too
        return f"{label} {text}" if label and text.strip() else text

    def table_lines(self, table: Any) -> list[str]:
        """A table of tasks (several rows, several columns) gives one line per row, cells joined with ` | `;
        a layout table (the header and signature blocks) gives its cells' paragraphs one after another."""
        rows = table.rows
        columns = max((len(row.cells) for row in rows), default=0)
        lines: list[str] = []
        if len(rows) >= 3 and columns >= 2:
            for row in rows:
                cells: list[str] = []
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
                    lines.extend(self.line(paragraph._p) for paragraph in row.cells[column].paragraphs)
            lines.append("")
        return lines


def _open(data: bytes) -> Any:
    import docx

    try:
        return docx.Document(io.BytesIO(data))
    except Exception as exc:  # a damaged file fails in zipfile, lxml or python-docx's package reader
        raise BinaryDocument(
            Wording(
                vi=f"Không đọc được tệp .docx ({type(exc).__name__}). Hãy mở bằng Word và lưu lại thành .docx.",
                en=f"The .docx file cannot be read ({type(exc).__name__}). Open it in Word and save it as .docx again.",
            )
        ) from None


def _check_size(body: Any, limits: DocumentLimits) -> None:
    """Counted on the parsed XML before any paragraph is read: the reading is what costs."""
    paragraphs = sum(1 for _ in body.iter(f"{_W}p"))
    if paragraphs > limits.max_paragraphs:
        raise too_many_paragraphs(paragraphs, limits)
    cells = sum(max(_int(_grid_span(tc), 1), 1) for tc in body.iter(f"{_W}tc"))  # a merged cell repeats
    if cells > limits.max_table_cells:
        raise DocumentTooLarge(
            Wording(
                vi=f"Tài liệu quá lớn: các bảng có {count(cells)} ô, vượt giới hạn {count(limits.max_table_cells)} ô. "
                "Hãy gửi riêng văn bản kế hoạch, không kèm bảng số liệu.",
                en=f"The document is too large: its tables have {count_en(cells)} cells, over the limit of "
                f"{count_en(limits.max_table_cells)}. Send the plan's text alone, without data tables.",
            )
        )


def _grid_span(tc: Any) -> str | None:
    tc_pr = tc.find(f"{_W}tcPr")
    span = tc_pr.find(f"{_W}gridSpan") if tc_pr is not None else None
    return span.get(f"{_W}val") if span is not None else None


def docx_lines(data: bytes, limits: DocumentLimits = DEFAULT_LIMITS) -> list[str]:
    """`data`: an archive whose parts are already inflated within bounds (archive.inflate)."""
    from docx.table import Table

    document = _open(data)
    body = document.element.body
    _check_size(body, limits)
    reader = _Reader(_Styles(document.styles.element), _Numbering(document))
    lines: list[str] = []
    for block in body.iterchildren():
        if block.tag == f"{_W}p":
            lines.append(reader.line(block))
            lines.append("")
        elif block.tag == f"{_W}tbl":
            lines.extend(reader.table_lines(Table(block, document)))
    return lines
