"""Where the plan's document writes a task or a deadline, as people cite it: "mục III, khoản 2, trang 3, dòng 12".

One rule for the notifier's e-mails and the web portal's assignment page. The places come from intake's document
reader as `Provenance` (shared/contracts/events.py: the section's numeral and heading, the clause's number as
written, the page for a PDF or a scan, the line); places kept before the section was published have none, and read
as before. A clause numbered `2` is a khoản, `2.1` a mục, `a` a điểm, `III` a mục (the way a ward office cites its
own plans); a clause named otherwise (a table row's first cell) is quoted as a mục. A structured plan has no
places: nothing is written then.

The section's heading is written only when asked (`titled=True`, the portal: "mục III «Tổ chức thực hiện»"); a plan
types it in capitals, which read as shouting on a phone, so a heading in capitals is put in sentence case, keeping
the words that are not Vietnamese syllables (UBND, MTTQ, COVID) and Roman numerals as they are. A name in it
(PHƯỜNG HÒA AN) reads in lower case then: a heading seldom has one."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

_KHOAN = re.compile(r"^\d{1,3}$")
_MUC = re.compile(r"^\d{1,3}(?:\.\d{1,3})+$")
_DIEM = re.compile(r"^[a-zđ]$", re.IGNORECASE)
_ROMAN = re.compile(r"^[IVXLC]+$")
# One Vietnamese syllable once its marks are taken off: an onset, one to three vowels, a coda. An abbreviation in
# capitals (UBND, HĐND, MTTQ) is not one.
_SYLLABLE = re.compile(r"^(?:ngh|ng|gh|gi|kh|nh|ph|qu|th|tr|ch|[bcdghklmnprstvx])?[aeiouy]{1,3}(?:ng|nh|ch|[cmnpt])?$")
_WORD = re.compile(r"\w+")
# A Roman numeral in a heading ("GIAI ĐOẠN II") stays one; VI and X are left out: they are syllables too (vi phạm).
_NUMERAL = re.compile(r"^(?:II|III|IV|VII|VIII|IX|XI|XII|XIII|XIV|XV|XX)$")


def clause_name(clause: str) -> str:
    """'2' → 'khoản 2', '2.1' → 'mục 2.1', 'a' → 'điểm a', 'III' → 'mục III'."""
    number = clause.strip().rstrip(".)")
    if _KHOAN.match(number):
        return f"khoản {number}"
    if _DIEM.match(number):
        return f"điểm {number.lower()}"
    if _MUC.match(number) or _ROMAN.match(number):
        return f"mục {number}"
    return f"mục “{number}”"


def _is_syllable(word: str) -> bool:
    if _NUMERAL.match(word):
        return False
    bare = "".join(c for c in unicodedata.normalize("NFD", word.lower()) if not unicodedata.combining(c))
    return bool(_SYLLABLE.match(bare.replace("đ", "d")))


def heading(title: str) -> str:
    """A section's heading as a sentence reads it: 'TỔ CHỨC THỰC HIỆN' → 'Tổ chức thực hiện', 'NHIỆM VỤ CỦA UBND'
    → 'Nhiệm vụ của UBND'; a heading not in capitals is kept as written."""
    text = " ".join(title.split())
    if not text or text != text.upper():
        return text
    text = _WORD.sub(lambda m: m.group().lower() if _is_syllable(m.group()) else m.group(), text)
    return text[:1].upper() + text[1:]


def place(provenance: Mapping[str, Any] | None, *, titled: bool = False) -> str:
    """One place: 'mục III, khoản 2, trang 3, dòng 12' ('mục III, tiểu mục 2.1' for a numbered item inside a
    section; 'mục III «Tổ chức thực hiện», khoản 2' with `titled`); '' when there is none."""
    if not provenance:
        return ""
    parts = []
    section = str(provenance.get("section") or "").strip()
    clause = str(provenance.get("clause") or "").strip()
    title = heading(str(provenance.get("section_title") or "")) if titled else ""
    if section and section != clause:
        parts.append(f"mục {section} «{title}»" if title else f"mục {section}")
    if clause:
        name = clause_name(clause)
        if title and section == clause:
            name = f"{name} «{title}»"
        parts.append(f"tiểu {name}" if section and section != clause and name.startswith("mục ") else name)
    if provenance.get("page"):
        parts.append(f"trang {provenance['page']}")
    if provenance.get("line"):
        parts.append(f"dòng {provenance['line']}")
    return ", ".join(parts)


def places(provenances: Iterable[Mapping[str, Any] | None], *, titled: bool = False) -> str:
    """Several places, each once, in order: 'khoản 2, trang 3, dòng 12; điểm a, trang 4, dòng 5'; with `titled`, a
    section's heading only the first time the section is named."""
    seen: list[str] = []
    sections: set[str] = set()
    for provenance in provenances:
        section = str((provenance or {}).get("section") or "").strip()
        text = place(provenance, titled=titled and section not in sections)
        if section:
            sections.add(section)
        if text and text not in seen:
            seen.append(text)
    return "; ".join(seen)
