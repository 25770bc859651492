"""What dondoc says to people, in both languages it answers in: Vietnamese for the people it serves, English for
integrators who ask for it (`Accept-Language: en`) and for logs, which stay English.

A refusal that reaches a caller is raised with a `Wording` (`Forbidden(Wording(vi=…, en=…))`): `str(exc)` is
still the English text (logs, dead letters, tests of the rules), and the HTTP layer (shared/platform/problems.py)
answers with the text of the caller's language. `wording_of` gives an exception's text either way."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Wording:
    """One message in Vietnamese (`vi`) and in English (`en`); reads as English where code prints it."""

    vi: str
    en: str

    def __str__(self) -> str:
        return self.en

    def in_language(self, english: bool) -> str:
        return self.en if english else self.vi


def wording_of(exc: BaseException) -> Wording | str:
    """The message an exception was raised with: its `Wording` when it has one, else its (single-language) text."""
    if len(exc.args) == 1 and isinstance(exc.args[0], Wording):
        return exc.args[0]
    return str(exc)
