"""Pages of text (a PDF's text layer, or OCR) → the lines of a document, each with its page and line.

What a page layout adds to a plan's text is undone: a running header or footer repeated on most pages and
a page number alone on a line are dropped, and a paragraph the page width broke into lines is joined again.
Kept simple on purpose: a line goes on in the next one when it does not end a sentence and the next one
starts in lowercase, or when it fills the page's width (a wrapped line) and the next is not a new item.
"""

from __future__ import annotations

import re
from collections import Counter

from services.intake.documents.model import SourceLine

# How many non-blank lines at the top and at the bottom of a page can be a running header or footer.
_EDGE = 3
_PAGE_NUMBER = re.compile(r"^[-–—\s]*(?:trang\s*)?\d{1,4}(?:\s*[/-]\s*\d{1,4})?[-–—\s]*$", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_SENTENCE_END = (".", ":", ";", "!", "?")
# A new item: a bullet, `1.`, `2.1.`, `a)`, `II.`; these never continue the line before them.
_ITEM = re.compile(r"^(?:[-+•*–]\s|\d+(?:\.\d+)*[.)]\s|[a-zđ]\)\s|[IVXLC]+\.\s)")
# A line at least this share of the page's usual full line is taken to be wrapped at the page width.
_FULL = 0.8
_FEW = 8


def document_lines(pages: list[str]) -> tuple[list[str], list[SourceLine]]:
    """The document's lines (a wrapped paragraph joined into one) and where each starts."""
    numbered = [_numbered(page) for page in pages]
    running = _running_lines(numbered)
    lines: list[str] = []
    sources: list[SourceLine] = []
    for page, page_lines in enumerate(numbered, start=1):
        kept = [(n, text) for n, text in page_lines if not _dropped(text, n, page, numbered, running)]
        full = _full_width([text for _, text in kept])
        previous_full, previous_number = False, 0
        for number, text in kept:
            # A blank line between (OCR's paragraph break) ends a paragraph unless the text plainly goes on.
            wrapped = previous_full and number == previous_number + 1
            previous_number = number
            if lines and _continues(lines[-1], text, wrapped):
                lines[-1] = f"{lines[-1]} {text}"
            else:
                lines.append(text)
                sources.append(SourceLine(page, number))
            previous_full = len(text) >= full
    return lines, sources


def _numbered(page: str) -> list[tuple[int, str]]:
    """The page's non-blank lines, stripped, with their 1-based line number on the page."""
    return [(n, line.strip()) for n, line in enumerate(page.split("\n"), start=1) if line.strip()]


def _edges(page_lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    return page_lines[:_EDGE] + page_lines[max(_EDGE, len(page_lines) - _EDGE) :]


def _key(text: str, page: int, pages: int) -> str:
    """Running headers differ by the page's number (and say the page count) only: `Trang 2/5`, `- 3 -`; any
    other number must be the same (`1. UBND phường:` and `2. UBND phường:` are two clauses)."""
    numbers = {str(page), str(pages)}
    return _DIGITS.sub(lambda m: "#" if m.group(0).lstrip("0") in numbers else m.group(0), text).casefold()


def _running_lines(pages: list[list[tuple[int, str]]]) -> set[str]:
    """Keys of the lines found at the top or bottom of at least half the pages (and of two pages at least)."""
    if len(pages) < 2:
        return set()
    seen = Counter(
        key
        for page, page_lines in enumerate(pages, start=1)
        for key in {_key(text, page, len(pages)) for _, text in _edges(page_lines)}
    )
    needed = max(2, (len(pages) + 1) // 2)
    return {key for key, pages_with_it in seen.items() if pages_with_it >= needed}


def _dropped(text: str, number: int, page: int, numbered: list[list[tuple[int, str]]], running: set[str]) -> bool:
    at_edge = any(n == number for n, _ in _edges(numbered[page - 1]))
    return at_edge and (_PAGE_NUMBER.match(text) is not None or _key(text, page, len(numbered)) in running)


def _full_width(texts: list[str]) -> int:
    """The length of a full line on this page: the 90th percentile, so a long heading does not set it. A page
    of a few lines has no width to go by: none of its lines is taken as wrapped."""
    if len(texts) < _FEW:
        return 1 << 30
    lengths = sorted(map(len, texts))
    return max(20, int(lengths[min(len(lengths) - 1, int(len(lengths) * 0.9))] * _FULL))


def _is_heading(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters)


def _continues(previous: str, following: str, wrapped: bool) -> bool:
    if previous.endswith(_SENTENCE_END) or _ITEM.match(following) or _is_heading(previous) or _is_heading(following):
        return False
    first = following[:1]
    return (first.isalpha() and first.islower()) or wrapped
