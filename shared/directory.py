"""The agency directory: who exists, what they are called in text, how to reach them, who supervises them.

Loaded from a YAML file per deployment. Names are matched after normalisation (NFC, one spelling of
the old/new Vietnamese variants, case and spacing folded); the original names are kept for display.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from shared.contracts import Agency, Group

# Old tone placement and spellings that name the same thing; matched in the normalised form.
_VARIANTS = (("uỷ", "ủy"), ("oá", "óa"), ("oà", "òa"), ("oả", "ỏa"), ("oã", "õa"), ("oạ", "ọa"), ("uý", "úy"))


def normalise_name(text: str) -> str:
    folded = unicodedata.normalize("NFC", text).casefold()
    for old, new in _VARIANTS:
        folded = folded.replace(old, new)
    folded = re.sub(r"[“”\"'.,:;]", " ", folded)
    return re.sub(r"\s+", " ", folded).strip()


_WORD = re.compile(r"\w+")


@functools.lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    base = unicodedata.normalize("NFD", char)[0].casefold()[:1] or char
    return "d" if base in ("đ", "ð") else base


def fold_for_matching(text: str) -> str:
    """Accents, case and the two tone placements folded away, one character for one (offsets survive)."""
    return "".join(map(_fold_char, unicodedata.normalize("NFC", text)))


@dataclass(frozen=True)
class Mention:
    """A directory name found in a text: where (character offsets into the text given), which name, whom."""

    start: int
    end: int
    alias: str
    code: str
    is_group: bool


class DirectoryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agencies: list[Agency]
    groups: list[Group] = []


class DirectoryError(ValueError):
    pass


class UnknownAgency(LookupError):
    pass


class StillReferenced(DirectoryError):
    """An entry cannot go while others name it (as their supervisor, or as a group member)."""


class Directory:
    def __init__(self, agencies: list[Agency], groups: list[Group]) -> None:
        self.agencies = {a.code: a for a in agencies}
        if len(self.agencies) != len(agencies):
            raise DirectoryError("agency codes must be unique")
        self.groups = {g.code: g for g in groups}
        if len(self.groups) != len(groups):
            raise DirectoryError("group codes must be unique")
        self._mention_index: dict[str, list[tuple[tuple[str, ...], str, str, bool]]] | None = None
        self._by_name: dict[str, str] = {}
        for agency in agencies:
            for name in (agency.code, agency.name, *agency.aliases):
                self._by_name[normalise_name(name)] = agency.code
        for agency in agencies:
            if agency.parent and agency.parent not in self.agencies:
                raise DirectoryError(f"agency {agency.code}: parent {agency.parent!r} is not in the directory")
        self._groups_by_name: dict[str, str] = {}
        for group in groups:
            for name in (group.code, group.name, *group.aliases):
                self._groups_by_name[normalise_name(name)] = group.code
            for member in group.members:
                if member not in self.agencies:
                    raise DirectoryError(f"group {group.code}: member {member!r} is not in the directory")
        self._refuse_supervision_cycles()

    def _refuse_supervision_cycles(self) -> None:
        """Escalation climbs `parent`: a chain that comes back to where it started would never reach the top."""
        settled: set[str] = set()
        for code in self.agencies:
            chain: list[str] = []
            current: str | None = code
            while current is not None and current not in settled:
                if current in chain:
                    loop = " → ".join([*chain[chain.index(current) :], current])
                    raise DirectoryError(f"the supervision chain loops: {loop}")
                chain.append(current)
                current = self.agencies[current].parent
            settled.update(chain)

    @classmethod
    def load(cls, path: Path) -> Directory:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise DirectoryError(f"cannot read the agency directory {path}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise DirectoryError(f"the agency directory {path} is not UTF-8 text (save it as UTF-8)") from exc
        except yaml.YAMLError as exc:
            raise DirectoryError(f"the agency directory {path} is not valid YAML: {exc}") from exc
        if isinstance(raw, dict):
            raw.pop("version", None)  # written by `dondoc directory export`; the file itself has no version
        try:
            parsed = DirectoryFile.model_validate(raw)
        except ValidationError as exc:
            raise DirectoryError(f"the agency directory {path} is invalid: {exc}") from exc
        return cls(parsed.agencies, parsed.groups)

    def to_file(self) -> DirectoryFile:
        """The directory as its YAML file describes it (agencies and groups sorted by code)."""
        return DirectoryFile(
            agencies=sorted(self.agencies.values(), key=lambda a: a.code),
            groups=sorted(self.groups.values(), key=lambda g: g.code),
        )

    def with_agency(self, agency: Agency) -> Directory:
        """A new directory with `agency` added or replaced; checked like a loaded file."""
        if agency.code in self.groups:
            raise DirectoryError(f"{agency.code!r} is already the code of a group")
        return Directory(
            [*(a for a in self.agencies.values() if a.code != agency.code), agency], list(self.groups.values())
        )

    def without_agency(self, code: str) -> Directory:
        """A new directory without the agency `code`; refused while another agency or a group names it."""
        self.get(code)
        supervised = sorted(a.code for a in self.agencies.values() if a.parent == code)
        if supervised:
            raise StillReferenced(f"{code} still supervises {', '.join(supervised)}: give them another parent first")
        grouped = sorted(g.code for g in self.groups.values() if code in g.members)
        if grouped:
            raise StillReferenced(
                f"{code} is still a member of the group(s) {', '.join(grouped)}: remove it there first"
            )
        return Directory([a for a in self.agencies.values() if a.code != code], list(self.groups.values()))

    def with_group(self, group: Group) -> Directory:
        if group.code in self.agencies:
            raise DirectoryError(f"{group.code!r} is already the code of an agency")
        return Directory(
            list(self.agencies.values()), [*(g for g in self.groups.values() if g.code != group.code), group]
        )

    def without_group(self, code: str) -> Directory:
        if code not in self.groups:
            raise UnknownAgency(f"no group with code {code!r} in the directory")
        return Directory(list(self.agencies.values()), [g for g in self.groups.values() if g.code != code])

    def get(self, code: str) -> Agency:
        try:
            return self.agencies[code]
        except KeyError:
            raise UnknownAgency(f"no agency with code {code!r} in the directory") from None

    def resolve(self, name_or_code: str) -> list[Agency]:
        """The agencies a name denotes: one agency, or every member of a group."""
        key = normalise_name(name_or_code)
        if key in self._by_name:
            return [self.agencies[self._by_name[key]]]
        if key in self._groups_by_name:
            group = self.groups[self._groups_by_name[key]]
            members = [self.agencies[c] for c in group.members]
            members += [a for a in self.agencies.values() if a.kind in group.member_kinds and a not in members]
            return members
        raise UnknownAgency(f"no agency or group named {name_or_code!r} in the directory")

    def members(self, code: str) -> list[Agency]:
        """An agency code names itself; a group code names its members (explicit ones, then by kind)."""
        if code in self.agencies:
            return [self.agencies[code]]
        group = self.groups[code]
        named = set(group.members)
        members = [self.agencies[c] for c in group.members]
        members += [a for a in self.agencies.values() if a.kind in group.member_kinds and a.code not in named]
        return members

    def _alias_index(self) -> dict[str, list[tuple[tuple[str, ...], str, str, bool]]]:
        if self._mention_index is not None:
            return self._mention_index
        index: dict[str, list[tuple[tuple[str, ...], str, str, bool]]] = {}
        named = [(a.code, (a.name, *a.aliases), False) for a in self.agencies.values()]
        named += [(g.code, (g.name, *g.aliases), True) for g in self.groups.values()]
        for code, names, is_group in named:
            for name in names:
                words = tuple(_WORD.findall(fold_for_matching(normalise_name(name))))
                if words:
                    index.setdefault(words[0], []).append((words, name, code, is_group))
        for entries in index.values():
            entries.sort(key=lambda entry: -len(entry[0]))
        self._mention_index = index
        return index

    def find_mentions(self, text: str) -> list[Mention]:
        """Every directory name in `text`, longest first and without overlaps, accent- and case-insensitive.

        A one-word name (UBND, MTTQ, ĐU) must match with its accents too: folded, short words collide
        with ordinary ones ("đu", "du")."""
        index = self._alias_index()
        words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(fold_for_matching(text))]
        folded = [w for _, _, w in words]
        mentions: list[Mention] = []
        position = 0
        while position < len(words):
            found = None
            for alias_words, name, code, is_group in index.get(folded[position], ()):
                size = len(alias_words)
                if tuple(folded[position : position + size]) != alias_words:
                    continue
                start, end, _ = words[position]
                if size == 1 and normalise_name(text[start:end]) != normalise_name(name):
                    continue
                found = Mention(words[position][0], words[position + size - 1][1], name, code, is_group)
                position += size
                break
            if found is None:
                position += 1
            else:
                mentions.append(found)
        return mentions

    def supervisor(self, code: str) -> Agency | None:
        parent = self.get(code).parent
        return self.agencies[parent] if parent else None
