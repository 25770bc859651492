"""The agency directory: who exists, what they are called in text, how to reach them, who supervises them.

Loaded from a YAML file per deployment. Names are matched after normalisation (NFC, one spelling of
the old/new Vietnamese variants, case and spacing folded); the original names are kept for display.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import yaml
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.contracts.events import DEFAULT_AGENCY_KINDS, Agency, AgencyKind, Group
from shared.domain.wording import Wording

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


KindName = Annotated[str, Field(min_length=1, max_length=100, description="the kind's name in Vietnamese")]


class DirectoryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agencies: list[Agency]
    groups: list[Group] = []
    kinds: dict[AgencyKind, KindName] = Field(
        default_factory=dict,
        description="agency kinds of this directory besides the seven default ones (`thon: Thôn`), or a default "
        "kind's name changed; each with its Vietnamese display name",
    )


class DirectoryError(ValueError):
    """The directory (or an edit of it) breaks a rule; raised with a `Wording` where a caller may read it."""


class UnknownAgency(LookupError):
    """No agency (or group) by that code or name; raised with a `Wording`."""


class StillReferenced(DirectoryError):
    """An entry cannot go while others name it (as their supervisor, or as a group member)."""


# --- what every entry must satisfy ------------------------------------------------------------------------

MAX_SHOWN = 100  # characters of a refused value quoted back: a message must not reflect a huge input
MAX_LISTED = 20  # problems listed in one refusal; the rest are counted

# An entry as the name checks see it: ("agency" | "group", code).
Entry = tuple[str, str]

# The validator's reasons, in the words a clerk editing the directory reads (first match wins).
_ADDRESS_REASONS = (
    (
        "special-use or reserved",
        Wording(
            vi="tên miền này là tên dành riêng (.local, .localhost, .test, .invalid …), không nhận thư",
            en="the domain is special-use or reserved (.local, .localhost, .test, .invalid …) and receives no mail",
        ),
    ),
    (
        "display name",
        Wording(
            vi="chỉ ghi địa chỉ, không kèm tên hiển thị hay dấu < >",
            en="write the address alone, without a display name or < >",
        ),
    ),
    (
        "invalid characters",
        Wording(
            vi="có ký tự không được phép trong địa chỉ (khoảng trắng, dấu phẩy, chấm phẩy, ngoặc …)",
            en="the address holds characters it may not (spaces, commas, semicolons, brackets …)",
        ),
    ),
    ("too long", Wording(vi="địa chỉ quá dài", en="the address is too long")),
)
_NOT_AN_ADDRESS = Wording(
    vi="không đúng cú pháp địa chỉ e-mail (ví dụ đúng: van-phong@hoa-an.gov.vn)",
    en="not an e-mail address (for example van-phong@hoa-an.gov.vn)",
)


def _shown(value: str) -> str:
    """A value quoted in a message: at most MAX_SHOWN characters, and no lone surrogate that JSON could not encode."""
    cut = value if len(value) <= MAX_SHOWN else value[:MAX_SHOWN] + "…"
    return cut.encode("utf-8", "backslashreplace").decode("utf-8")


@functools.lru_cache(maxsize=65536)
def address_problem(address: str) -> Wording | None:
    """Why `address` is not exactly one deliverable-looking e-mail address; None when it is.

    Syntax only (no DNS: a directory is edited where the mail servers may not be reachable). ASCII only: the
    notifier's SMTP conversation does not ask for SMTPUTF8, so a local part with accents would be refused at
    sending time, far from whoever typed it. Special-use domains (.local, .test …) are refused: the directory
    holds real recipients, and the examples and tests use .example, which RFC 6761 keeps deliverable-looking."""
    if not address.strip():
        return Wording(vi="địa chỉ trống", en="the address is empty")
    if address.count("@") > 1:
        return Wording(
            vi="mỗi mục chỉ ghi một địa chỉ: hãy tách các địa chỉ thành các mục riêng trong danh sách emails",
            en="one address per entry: give each address its own entry in the emails list",
        )
    try:
        checked = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        if "Internationalized characters before the @-sign" in str(exc):
            return Wording(
                vi="phần trước @ có chữ có dấu hoặc ký tự ngoài ASCII; máy chủ thư chỉ nhận địa chỉ không dấu",
                en="the part before @ has accented or non-ASCII characters; the mail server takes ASCII addresses only",
            )
        english = str(exc)
        return next((reason for fragment, reason in _ADDRESS_REASONS if fragment in english), _NOT_AN_ADDRESS)
    if checked.ascii_email != address and not address.isascii():
        ascii_form = _shown(checked.ascii_email or "")
        return Wording(
            vi=f"tên miền có dấu: hãy ghi ở dạng ASCII, {ascii_form}",
            en=f"the domain has accents: write it in its ASCII form, {ascii_form}",
        )
    return None


def _claims(agencies: list[Agency], groups: list[Group]) -> dict[str, dict[Entry, str]]:
    """Every normalised name (codes, names, aliases) and the entries that use it, each with its own spelling."""
    claims: dict[str, dict[Entry, str]] = {}
    named: list[tuple[Entry, tuple[str, ...]]] = [(("agency", a.code), (a.code, a.name, *a.aliases)) for a in agencies]
    named += [(("group", g.code), (g.code, g.name, *g.aliases)) for g in groups]
    for entry, names in named:
        for name in names:
            claims.setdefault(normalise_name(name), {}).setdefault(entry, name)
    return claims


def _label(entry: Entry, spelling: str, english: bool) -> str:
    kind, code = entry
    if english:
        return f"{kind} {code} (“{_shown(spelling)}”)"
    return f"{'cơ quan' if kind == 'agency' else 'nhóm'} {code} (“{_shown(spelling)}”)"


def _address_problem(code: str, index: int, address: str, reason: Wording) -> Wording:
    shown = _shown(address)
    return Wording(
        vi=f"Cơ quan {code}, trường emails[{index}] = “{shown}”: {reason.vi}.",
        en=f"Agency {code}, emails[{index}] = “{shown}”: {reason.en}.",
    )


def _shared_name(key: str, holders: dict[Entry, str]) -> Wording:
    entries = sorted(holders.items())
    users_vi = " và ".join(_label(entry, spelling, english=False) for entry, spelling in entries)
    users_en = " and ".join(_label(entry, spelling, english=True) for entry, spelling in entries)
    return Wording(
        vi=f"Tên “{_shown(key)}” được dùng cho nhiều mục: {users_vi}. Mỗi mã, tên và tên gọi khác chỉ được trỏ tới "
        "một cơ quan hoặc nhóm (so sánh không phân biệt hoa thường, khoảng trắng, dấu câu, kiểu bỏ dấu uỷ/ủy).",
        en=f"The name “{_shown(key)}” is used by more than one entry: {users_en}. Each code, name and alias may "
        "denote one agency or group only (compared ignoring case, spacing, punctuation and the uỷ/ủy spellings).",
    )


def entry_problems(agencies: list[Agency], groups: list[Group], claims: dict[str, dict[Entry, str]]) -> list[Wording]:
    """Every e-mail field that is not exactly one valid address, and every name two entries share, as sentences
    naming the entry and the field (for a shared name: every entry that uses it). The same problem reads the same
    whatever the order of the entries, so an edit can be compared with the directory before it."""
    problems = [
        _address_problem(agency.code, index, address, reason)
        for agency in agencies
        for index, address in enumerate(agency.emails)
        if (reason := address_problem(address)) is not None
    ]
    shared = sorted(key for key, holders in claims.items() if len(holders) > 1)
    problems += [_shared_name(key, claims[key]) for key in shared]
    return problems


def kind_problems(agencies: list[Agency], groups: list[Group], kinds: Mapping[str, str]) -> list[Wording]:
    """Every agency of a kind, and every group naming a kind, that the directory does not declare."""
    declared = ", ".join(sorted(kinds))
    problems = [
        Wording(
            vi=f"Cơ quan {agency.code}: loại “{agency.kind}” chưa được khai báo; hãy thêm vào mục kinds của danh bạ "
            f"(ví dụ {agency.kind}: Tên loại bằng tiếng Việt), hoặc dùng một loại đã có: {declared}.",
            en=f"Agency {agency.code}: the kind “{agency.kind}” is not declared; add it to the directory's kinds "
            f"(e.g. {agency.kind}: its name in Vietnamese), or use a kind it has: {declared}.",
        )
        for agency in agencies
        if agency.kind not in kinds
    ]
    problems += [
        Wording(
            vi=f"Nhóm {group.code}: member_kinds có loại “{kind}” chưa được khai báo trong mục kinds của danh bạ.",
            en=f"Group {group.code}: member_kinds names the kind “{kind}”, which the directory's kinds do not declare.",
        )
        for group in groups
        for kind in group.member_kinds
        if kind not in kinds
    ]
    return problems


def describe_problems(problems: list[Wording]) -> Wording:
    listed = problems[:MAX_LISTED]
    more = len(problems) - MAX_LISTED
    vi, en = " ".join(p.vi for p in listed), " ".join(p.en for p in listed)
    if more > 0:
        return Wording(vi=f"{vi} (và {more} lỗi khác)", en=f"{en} (and {more} more)")
    return Wording(vi=vi, en=en)


class Directory:
    """The directory, checked whole on every construction: codes unique, parents and members present and no
    supervision loop (always refused); every e-mail field one valid address and no name shared by two entries
    (`entry_problems`).

    `strict=False` is for a directory read back from a service's database: entry problems stored before these
    checks existed are kept in `problems` (logged by whoever loads it) instead of stopping a service from
    starting, and an edit of such a directory is refused only for the problems it adds (`_edited`)."""

    def __init__(
        self,
        agencies: list[Agency],
        groups: list[Group],
        *,
        strict: bool = True,
        kinds: Mapping[str, str] | None = None,
    ) -> None:
        # The kinds the directory declares (beyond, or renaming, the default seven), and all it knows.
        self.declared_kinds = dict(sorted((kinds or {}).items()))
        self.kinds = {**DEFAULT_AGENCY_KINDS, **self.declared_kinds}
        self.agencies = {a.code: a for a in agencies}
        if len(self.agencies) != len(agencies):
            raise DirectoryError(
                Wording(vi="mã cơ quan trong danh bạ không được trùng nhau", en="agency codes must be unique")
            )
        self.groups = {g.code: g for g in groups}
        if len(self.groups) != len(groups):
            raise DirectoryError(
                Wording(vi="mã nhóm trong danh bạ không được trùng nhau", en="group codes must be unique")
            )
        self._mention_index: dict[str, list[tuple[tuple[str, ...], str, str, bool]]] | None = None
        claims = _claims(agencies, groups)
        # Where names are shared (only in a directory loaded with strict=False), the entry listed last wins, as
        # it always has; an agency before a group.
        self._by_name: dict[str, str] = {}
        self._groups_by_name: dict[str, str] = {}
        for key, holders in claims.items():
            for kind, code in holders:
                (self._by_name if kind == "agency" else self._groups_by_name)[key] = code
        for agency in agencies:
            if agency.parent and agency.parent not in self.agencies:
                raise DirectoryError(
                    Wording(
                        vi=f"cơ quan {agency.code}: cơ quan cấp trên {agency.parent!r} không có trong danh bạ",
                        en=f"agency {agency.code}: parent {agency.parent!r} is not in the directory",
                    )
                )
        for group in groups:
            for member in group.members:
                if member not in self.agencies:
                    raise DirectoryError(
                        Wording(
                            vi=f"nhóm {group.code}: thành viên {member!r} không có trong danh bạ",
                            en=f"group {group.code}: member {member!r} is not in the directory",
                        )
                    )
        self._refuse_supervision_cycles()
        self.problems = entry_problems(agencies, groups, claims) + kind_problems(agencies, groups, self.kinds)
        if strict and self.problems:
            raise DirectoryError(describe_problems(self.problems))

    def _refuse_supervision_cycles(self) -> None:
        """Escalation climbs `parent`: a chain that comes back to where it started would never reach the top."""
        settled: set[str] = set()
        for code in self.agencies:
            chain: list[str] = []
            current: str | None = code
            while current is not None and current not in settled:
                if current in chain:
                    loop = " → ".join([*chain[chain.index(current) :], current])
                    raise DirectoryError(
                        Wording(
                            vi=f"chuỗi cơ quan cấp trên bị lặp vòng: {loop}; việc nhắc nhở lên cấp trên sẽ không "
                            "có điểm dừng: hãy sửa cơ quan cấp trên (parent) của một trong các cơ quan này",
                            en=f"the supervision chain loops: {loop}; escalation would never reach the top: change "
                            "the parent of one of these agencies",
                        )
                    )
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
        return cls(parsed.agencies, parsed.groups, kinds=parsed.kinds)

    def to_file(self) -> DirectoryFile:
        """The directory as its YAML file describes it (agencies and groups sorted by code, declared kinds)."""
        return DirectoryFile(
            agencies=sorted(self.agencies.values(), key=lambda a: a.code),
            groups=sorted(self.groups.values(), key=lambda g: g.code),
            kinds=self.declared_kinds,
        )

    def kind_name(self, kind: str) -> str:
        """A kind's Vietnamese display name (`thon` → `Thôn`); the code itself for a kind nobody named."""
        return self.kinds.get(kind, kind)

    def with_agency(self, agency: Agency) -> Directory:
        """A new directory with `agency` added or replaced; checked like a loaded file."""
        if agency.code in self.groups:
            raise DirectoryError(
                Wording(
                    vi=f"{agency.code!r} đã là mã của một nhóm: hãy chọn mã khác",
                    en=f"{agency.code!r} is already the code of a group",
                )
            )
        return self._edited(
            [*(a for a in self.agencies.values() if a.code != agency.code), agency], list(self.groups.values())
        )

    def without_agency(self, code: str) -> Directory:
        """A new directory without the agency `code`; refused while another agency or a group names it."""
        self.get(code)
        supervised = sorted(a.code for a in self.agencies.values() if a.parent == code)
        if supervised:
            listed = ", ".join(supervised)
            raise StillReferenced(
                Wording(
                    vi=f"{code} vẫn là cơ quan cấp trên của {listed}: hãy chuyển các cơ quan này sang cấp trên khác "
                    "trước",
                    en=f"{code} still supervises {listed}: give them another parent first",
                )
            )
        grouped = sorted(g.code for g in self.groups.values() if code in g.members)
        if grouped:
            listed = ", ".join(grouped)
            raise StillReferenced(
                Wording(
                    vi=f"{code} vẫn là thành viên của nhóm {listed}: hãy bỏ cơ quan này khỏi nhóm trước",
                    en=f"{code} is still a member of the group(s) {listed}: remove it there first",
                )
            )
        return self._edited([a for a in self.agencies.values() if a.code != code], list(self.groups.values()))

    def with_group(self, group: Group) -> Directory:
        if group.code in self.agencies:
            raise DirectoryError(
                Wording(
                    vi=f"{group.code!r} đã là mã của một cơ quan: hãy chọn mã khác",
                    en=f"{group.code!r} is already the code of an agency",
                )
            )
        return self._edited(
            list(self.agencies.values()), [*(g for g in self.groups.values() if g.code != group.code), group]
        )

    def without_group(self, code: str) -> Directory:
        if code not in self.groups:
            raise UnknownAgency(
                Wording(vi=f"danh bạ không có nhóm nào mã {code!r}", en=f"no group with code {code!r} in the directory")
            )
        return self._edited(list(self.agencies.values()), [g for g in self.groups.values() if g.code != code])

    def _edited(self, agencies: list[Agency], groups: list[Group]) -> Directory:
        """The directory after one edit: refused for any entry problem it adds, so that a directory stored
        before a check existed can still be mended one entry at a time."""
        after = Directory(agencies, groups, strict=False, kinds=self.declared_kinds)
        known = set(self.problems)
        added = [problem for problem in after.problems if problem not in known]
        if added:
            raise DirectoryError(describe_problems(added))
        return after

    def get(self, code: str) -> Agency:
        try:
            return self.agencies[code]
        except KeyError:
            raise UnknownAgency(
                Wording(
                    vi=f"danh bạ không có cơ quan nào mã {code!r}", en=f"no agency with code {code!r} in the directory"
                )
            ) from None

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
        raise UnknownAgency(
            Wording(
                vi=f"danh bạ không có cơ quan hay nhóm nào tên hoặc mã {name_or_code!r}",
                en=f"no agency or group named {name_or_code!r} in the directory",
            )
        )

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
