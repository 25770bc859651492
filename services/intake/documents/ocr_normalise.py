"""OCR's usual errors in a Vietnamese plan, corrected before anything is matched in it.

- A section's Roman numeral misread: `II.` where the sequence says `III.`, `IIL` for `II.`, `l.` for `I.`;
  and the space after the numeral lost: `I.MỤC ĐÍCH` → `I. MỤC ĐÍCH`, `1.UBND` → `1. UBND`.
- A capital letter with diacritics inside a word: `tỬ` → `tử`, `ChỈ` → `Chỉ` (a capital after a space,
  `Đảng Ủy`, is a word's own; an all-capitals word, `ĐẢNG`, is left as it is).
- A word's capital lost or gained at a line start: a bullet or a sentence starts with a capital
  (`- tổ chức` → `- Tổ chức`); a line that goes on from the one before starts with a capital only where the
  document writes that word with one elsewhere too (a name), not where it writes it in lowercase.
"""

from __future__ import annotations

import re

# `1` is not among them: `1. TỔ CHỨC` is an item in capitals, not section I.
_ROMAN_CONFUSED = str.maketrans({"l": "I", "|": "I", "L": "I", "!": "I"})
# A section heading: a numeral (as OCR may have read it), a dot or nothing, and a heading in capitals.
_SECTION = re.compile(r"^([IVXLl|!]{1,5})(?:[.,]\s*|\s+)(?=[^\W\d_]{2})(.*)$")
_NUMBER_NO_SPACE = re.compile(r"^((?:[IVX]+|\d+(?:\.\d+)*)\.)(?=[^\W\d_])")
_LETTERS = re.compile(r"[^\W\d_]{2,}")
_ROMANS = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"]
_SENTENCE_END = (".", ":", ";", "!", "?")
_ITEM_START = re.compile(r"^((?:[-+•*]|\d+(?:\.\d+)*[.)]|[a-zđ]\))\s+)?([^\W\d_])(\w*)")
_WORD = re.compile(r"(?<!^)(?<=\s)([^\W\d_]\w*)")


def normalise_ocr_pages(pages: list[str]) -> list[str]:
    """Every page's lines corrected, line breaks and blank lines kept (they carry the line numbers)."""
    lines = [page.split("\n") for page in pages]
    flat = [line for page in lines for line in page]
    corrected = fix_line_starts(fix_section_numerals([fix_inner_capitals(fix_number_spacing(line)) for line in flat]))
    result, start = [], 0
    for page in lines:
        result.append("\n".join(corrected[start : start + len(page)]))
        start += len(page)
    return result


def fix_number_spacing(line: str) -> str:
    """`I.MỤC ĐÍCH` → `I. MỤC ĐÍCH`, `2.Ban` → `2. Ban`."""
    return _NUMBER_NO_SPACE.sub(r"\1 ", line.lstrip(), count=1) if line.strip() else line


def fix_inner_capitals(line: str) -> str:
    """`tỬ` → `tử`, `ChỈ` → `Chỉ`; `ĐẢNG`, `Đảng Ủy` unchanged."""
    return _LETTERS.sub(_lower_inner_capitals, line)


def _lower_inner_capitals(match: re.Match[str]) -> str:
    word = match.group(0)
    if word.isupper() or word.islower():
        return word
    # Only letters with diacritics, after a lowercase one: `TTg`, `iPhone` are written so on purpose.
    letters = [word[0]]
    for previous, letter in zip(word, word[1:], strict=False):
        inner = letter.isupper() and not letter.isascii() and previous.islower()
        letters.append(letter.lower() if inner else letter)
    return "".join(letters)


def fix_section_numerals(lines: list[str]) -> list[str]:
    """Section headings numbered in sequence: a numeral OCR misread by one `I` (or read `l`, `1`, `L`) is
    given the number the sequence expects; any other numeral (and the first) is taken as written and the
    sequence goes on from it."""
    result, expected = [], 0
    for line in lines:
        match = _SECTION.match(line.strip())
        if match is None or not _is_heading(match.group(2)):
            result.append(line)
            continue
        read = match.group(1).translate(_ROMAN_CONFUSED)
        # The first heading is taken as read: a page or a fragment may start at any section.
        wanted = _ROMANS[expected] if 0 < expected < len(_ROMANS) else ""
        numeral = wanted if wanted and _misread(read, wanted) else read
        if numeral not in _ROMANS:
            result.append(line)
            continue
        expected = _ROMANS.index(numeral) + 1
        result.append(f"{numeral}. {match.group(2)}")
    return result


def _misread(read: str, wanted: str) -> bool:
    """`II` for `III`, `III` for `II` (one `I` more or less), or the wanted numeral itself."""
    return read == wanted or (read.replace("I", "") == wanted.replace("I", "") and abs(len(read) - len(wanted)) == 1)


def _is_heading(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 2 and sum(c.isupper() for c in letters) >= 0.8 * len(letters)


def fix_line_starts(lines: list[str]) -> list[str]:
    """A capital where a line starts a bullet, an item or a sentence; none where a line goes on from the last
    one with a word the document otherwise writes in lowercase."""
    inside = _words_inside_lines(lines)
    result: list[str] = []
    previous = ""
    for line in lines:
        stripped = line.strip()
        match = _ITEM_START.match(stripped)
        if match is not None and not _is_heading(stripped):
            marker, first, rest = match.group(1) or "", match.group(2), match.group(3)
            new_sentence = bool(marker) or not previous or previous.endswith(_SENTENCE_END)
            word = first + rest
            if new_sentence and first.islower():
                stripped = marker + first.upper() + stripped[len(marker) + 1 :]
            elif not new_sentence and first.isupper() and rest.islower() and inside.get(word.lower()) == "lower":
                stripped = marker + first.lower() + stripped[len(marker) + 1 :]
        result.append(stripped if line.strip() else line)
        previous = stripped if stripped else previous
    return result


def _words_inside_lines(lines: list[str]) -> dict[str, str]:
    """How each word is written where it is not first on its line: `lower` when only ever in lowercase."""
    seen: dict[str, set[bool]] = {}
    for line in lines:
        for word in _WORD.findall(line.strip()):
            seen.setdefault(word.lower(), set()).add(word[:1].isupper())
    return {word: "lower" if capitals == {False} else "capital" for word, capitals in seen.items()}
