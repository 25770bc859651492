"""Normalisation before any matching: what converted Word files do to Vietnamese text, undone.

Every paragraph keeps the original text and the line numbers it came from, so that whatever the
parser reports (or cannot understand) points at the place in the file a clerk can look at.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Each expression starts with what it looks for (no lookbehind first), so that the regex engine skips ahead to
# candidates: over a 30-page plan that made them 2-3 times faster (benchmarks/parse_plan.py).
_BOOKMARK = re.compile(r"\[bookmark:[^\]\n]*\]", re.IGNORECASE)
# `*` around italic runs; a footnote marker `(*)` is kept.
_EMPHASIS = re.compile(r"(?=\*)(?:(?<!\()\*+|\*+(?!\)))")
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
# Runs of spaces, and any other blank, become one space (a single space is left as it is).
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]{2,}|[\t\u00a0\u2000-\u200a\u202f\u205f\u3000]")
# Typographic quotes and dashes to plain ones: `str.replace` each (a `str.translate` table walks every
# character of the text through a dict: 40 times slower on a long plan).
_PLAIN = (
    ("“", '"'),
    ("”", '"'),
    ("„", '"'),
    ("‟", '"'),
    ("«", '"'),
    ("»", '"'),
    ("‘", "'"),
    ("’", "'"),
    ("‚", "'"),
    ("–", "-"),
    ("—", "-"),
    ("‐", "-"),
    ("‑", "-"),
    ("−", "-"),
)
# Old-style tone placement (hoá, thuỷ, khoẻ) moved to the first vowel (hóa, thủy, khỏe) when the pair
# ends the syllable; `quý`/`quỷ` are left alone (there `u` belongs to the consonant).
_TONES = "\u0300\u0301\u0303\u0309\u0323"
_OLD_TONE = re.compile(rf"([oO])(?<![qQ][oO])([aAeE])([{_TONES}])(?!\w)|([uU])(?<![qQ][uU])([yY])([{_TONES}])(?!\w)")
_SENTENCE_END = (".", ":", ";", "!", "?")


@dataclass(frozen=True)
class Paragraph:
    """One logical paragraph: normalised text for matching, original text and lines for the record."""

    text: str
    line: int
    end_line: int
    original: str


def _move_tone(match: re.Match[str]) -> str:
    first, second, tone = (match.group(1), match.group(2), match.group(3)) if match.group(1) else match.group(4, 5, 6)
    return f"{first}{tone}{second}"


def fold_tone_placement(text: str) -> str:
    """`hoá` → `hóa`, `Uỷ` → `Ủy`: one spelling for the two tone placements in use."""
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", _OLD_TONE.sub(_move_tone, decomposed))


def normalise_line(line: str) -> str:
    return _normalise(line).strip()


def normalise_lines(lines: list[str]) -> list[str]:
    """`normalise_line` of every line, done on the text as a whole: one pass of each expression instead of one
    call a line (a 30-page plan has thousands of lines). None of them reaches across a line break."""
    normalised = _normalise("\n".join(lines)).split("\n")
    if len(normalised) != len(lines):  # a line with a break of its own (a soft break in a .docx paragraph)
        return [normalise_line(line) for line in lines]
    return [line.strip() for line in normalised]


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    text = _BOOKMARK.sub("", text)
    text = _EMPHASIS.sub("", text)
    for typographic, plain in _PLAIN:
        text = text.replace(typographic, plain)
    text = fold_tone_placement(text)
    return _SPACES.sub(" ", text)


def _is_heading(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters)


def _continues(previous: str, following: str) -> bool:
    """A paragraph broken by a page break or a hard wrap goes on with a lowercase word."""
    first = following[:1]
    return first.isalpha() and first.islower() and not previous.endswith(_SENTENCE_END) and not _is_heading(previous)


def split_lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def paragraphs(lines: list[str]) -> list[Paragraph]:
    """Normalised paragraphs; blank lines separate them unless the text plainly goes on."""
    result: list[Paragraph] = []
    for number, (raw, text) in enumerate(zip(lines, normalise_lines(lines), strict=True), start=1):
        if not text:
            continue
        if result and _continues(result[-1].text, text):
            last = result[-1]
            result[-1] = Paragraph(f"{last.text} {text}", last.line, number, f"{last.original}\n{raw}")
            continue
        result.append(Paragraph(text, number, number, raw))
    return result
