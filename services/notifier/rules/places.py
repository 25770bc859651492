"""Where the plan's document writes a task or a deadline, as an e-mail says it: "khoản 2, trang 3, dòng 12".

The places come from intake's document reader as `Provenance` (shared/contracts/events.py: the section's numeral,
the clause's number as written, the page for a PDF or a scan, the line); places kept before the section was
published have none, and read as before. A clause numbered `2` is a khoản, `2.1` a mục, `a` a điểm,
`III` a mục (the way a ward office cites its own plans); a clause named otherwise (a table row's first cell) is
quoted as a mục. A structured plan has no places: nothing is written then."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_KHOAN = re.compile(r"^\d{1,3}$")
_MUC = re.compile(r"^\d{1,3}(?:\.\d{1,3})+$")
_DIEM = re.compile(r"^[a-zđ]$", re.IGNORECASE)
_ROMAN = re.compile(r"^[IVXLC]+$")


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


def place(provenance: Mapping[str, Any] | None) -> str:
    """One place: 'mục III, khoản 2, trang 3, dòng 12' ('mục III, tiểu mục 2.1' for a numbered item inside a
    section); '' when there is none."""
    if not provenance:
        return ""
    parts = []
    section = str(provenance.get("section") or "").strip()
    clause = str(provenance.get("clause") or "").strip()
    if section and section != clause:
        parts.append(f"mục {section}")
    if clause:
        name = clause_name(clause)
        parts.append(f"tiểu {name}" if section and section != clause and name.startswith("mục ") else name)
    if provenance.get("page"):
        parts.append(f"trang {provenance['page']}")
    if provenance.get("line"):
        parts.append(f"dòng {provenance['line']}")
    return ", ".join(parts)


def places(provenances: Iterable[Mapping[str, Any] | None]) -> str:
    """Several places, each once, in order: 'khoản 2, trang 3, dòng 12; điểm a, trang 4, dòng 5'."""
    seen: list[str] = []
    for provenance in provenances:
        text = place(provenance)
        if text and text not in seen:
            seen.append(text)
    return "; ".join(seen)
