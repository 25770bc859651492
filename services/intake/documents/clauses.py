"""The organisation section (III. TỔ CHỨC THỰC HIỆN): who is to do what, one clause per item.

A clause is a numbered item, a `-` bullet, a `Đề nghị X:` request or a table row that names its bodies
first (`2. Tuyên giáo Đảng ủy: Tham mưu …`, `- Thủ trưởng các đơn vị xây dựng kế hoạch …`). Bullets with
no body under a numbered body heading are that body's tasks. What names no body is kept as a note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from services.intake.documents.model import AssigneeOut, Clause, Located, Unresolved
from services.intake.documents.normalise import Paragraph
from shared.domain.directory import Directory, Mention
from shared.domain.wording import Wording

_NUMBERED = re.compile(r"^(?P<number>\d{1,2}(?:\.\d{1,2})*|[a-zđ])[.)]\s*(?=\S)")
_BULLET = re.compile(r"^[-+•·]\s*(?=\S)")
_LEAD = re.compile(r"^(?P<lead>đề\s+nghị|giao(?:\s+cho)?|yêu\s+cầu)\s+", re.IGNORECASE)
_HEADS = re.compile(r"^(?:thủ\s+trưởng|lãnh\s+đạo|bí\s+thư|trưởng|chủ\s+tịch)\s+", re.IGNORECASE)
_CONNECTOR = re.compile(
    r"^[\s,;&/-]*(?:và|với|cùng|phối\s+hợp\s+với|chủ\s+trì,?\s+phối\s+hợp\s+với)?[\s,;&/-]*$", re.IGNORECASE
)
_FILLER = {
    "phường",
    "xã",
    "thị",
    "trấn",
    "các",
    "và",
    "với",
    "cùng",
    "chủ",
    "trì",
    "phối",
    "hợp",
    "đề",
    "nghị",
    "lãnh",
    "đạo",
    "thủ",
    "trưởng",
    "đồng",
    "chí",
    "bí",
    "thư",
    "của",
    "trực",
    "thuộc",
    "tt",
    "stt",
}
_TABLE_HEADER = {
    "đơn vị",
    "đơn vị thực hiện",
    "cơ quan",
    "cơ quan thực hiện",
    "đơn vị chủ trì",
    "stt",
    "tt",
    "nội dung",
    "nhiệm vụ",
    "thời gian",
    "thời hạn",
}
_MAX_BODY_WORDS = 16
_NOT_LISTED = Wording(vi="không có trong danh bạ cơ quan", en="not in the directory of bodies")


@dataclass
class _Draft:
    number: str | None
    line: int
    mode: str
    body: str
    mentions: list[Mention]
    task: list[str] = field(default_factory=list)
    heading: bool = False
    numbered: bool = False


def _leftovers(phrase: str, mentions: list[Mention]) -> list[str]:
    """What a body phrase says besides the names the directory knows: names it does not."""
    rest, cursor = [], 0
    for mention in mentions:
        rest.append(phrase[cursor : mention.start])
        cursor = mention.end
    rest.append(phrase[cursor:])
    pieces = []
    for chunk in rest:
        for piece in re.split(r"[,;]|\s+và\s+|\s+với\s+|\s+phối\s+hợp\s+", chunk):
            piece = piece.strip(" -:.()")
            words = [w for w in re.findall(r"\w+", piece) if w.casefold() not in _FILLER]
            if words and any(w[:1].isupper() for w in words):
                pieces.append(piece)
    return pieces


def _qualified(phrase: str, mentions: list[Mention]) -> list[Mention]:
    """Two names with nothing between them are one body and its qualifier (`Ban Tuyên giáo` `Đảng ủy`):
    separate bodies are listed with a comma or `và`."""
    kept: list[Mention] = []
    for mention in mentions:
        if kept and not phrase[kept[-1].end : mention.start].strip():
            continue
        kept.append(mention)
    return kept


def _body_prefix(text: str, mentions: list[Mention]) -> int | None:
    """Where the body names at the start of `text` end, if the text starts with one (after `Thủ trưởng`)."""
    heads = _HEADS.match(text)
    offset = heads.end() if heads and not (mentions and mentions[0].start == 0) else 0
    if not mentions or mentions[0].start > offset:
        return None
    end = mentions[0].end
    for mention in mentions[1:]:
        if not _CONNECTOR.match(text[end : mention.start]):
            break
        end = mention.end
    return end


class ClauseReader:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.unresolved: list[Unresolved] = []
        self.notes: list[Located] = []

    def read(self, paragraphs: list[Paragraph]) -> list[_Draft]:
        drafts: list[_Draft] = []
        for paragraph in paragraphs:
            draft = self._clause(paragraph)
            if draft is not None:
                drafts.append(draft)
                continue
            current = drafts[-1] if drafts else None
            if current is not None and current.numbered and _BULLET.match(paragraph.text):
                current.task.append(paragraph.text)  # a task under its body's numbered heading
            elif current is not None and current.heading and not _NUMBERED.match(paragraph.text):
                current.task.append(paragraph.text)
            else:
                self.notes.append(Located(text=paragraph.text, line=paragraph.line))
        return drafts

    def _clause(self, paragraph: Paragraph) -> _Draft | None:
        text = paragraph.text
        if " | " in text:
            return self._table_row(paragraph)
        number = None
        numbered = _NUMBERED.match(text)
        bullet = _BULLET.match(text)
        if numbered:
            number, text = numbered["number"], text[numbered.end() :]
        elif bullet:
            text = text[bullet.end() :]
        mode = "assign"
        lead = _LEAD.match(text)
        if lead:
            mode = "request" if lead["lead"].casefold().startswith("đề") else "assign"
            text = text[lead.end() :]
        colon = text.find(":")
        if 0 < colon < 200 and len(text[:colon].split()) <= _MAX_BODY_WORDS:
            phrase, task = text[:colon].strip(), text[colon + 1 :].strip()
            mentions = self.directory.find_mentions(phrase)
            if not mentions and not (numbered or lead or bullet):
                return None
            if not mentions and not phrase[:1].isupper():
                return None
            return self._draft(number, paragraph, mode, phrase, mentions, task, numbered is not None)
        if not (numbered or bullet or lead or _HEADS.match(text)):
            return None
        mentions = self.directory.find_mentions(text)
        end = _body_prefix(text, mentions)
        if end is None:
            return None
        phrase = text[:end].strip()
        rest = text[end:].strip(" ,.:")
        heading = not rest
        draft = self._draft(
            number, paragraph, mode, phrase, [m for m in mentions if m.end <= end], text.strip(), numbered is not None
        )
        if heading:
            draft.task, draft.heading = [], True
        return draft

    def _table_row(self, paragraph: Paragraph) -> _Draft | None:
        cells = [c.strip() for c in paragraph.text.split(" | ")]
        number = None
        if cells and re.fullmatch(r"\d{1,3}[.)]?", cells[0]):
            number, cells = cells[0].rstrip(".)"), cells[1:]
        if len(cells) < 2 or cells[0].casefold().strip(" .:") in _TABLE_HEADER:
            if cells and cells[0].casefold().strip(" .:") not in _TABLE_HEADER:
                self.notes.append(Located(text=paragraph.text, line=paragraph.line))
            return None
        phrase, task = cells[0], " - ".join(c for c in cells[1:] if c)
        mentions = self.directory.find_mentions(phrase)
        return self._draft(number, paragraph, "assign", phrase, mentions, task, number is not None)

    def _draft(
        self,
        number: str | None,
        paragraph: Paragraph,
        mode: str,
        phrase: str,
        mentions: list[Mention],
        task: str,
        numbered: bool,
    ) -> _Draft:
        mentions = _qualified(phrase, mentions)
        where = f"clause {number}" if number else f"clause at line {paragraph.line}"
        for piece in _leftovers(phrase, mentions):
            self.unresolved.append(Unresolved.because(_NOT_LISTED, phrase=piece, line=paragraph.line, where=where))
        if not mentions and not _leftovers(phrase, mentions):
            self.unresolved.append(Unresolved.because(_NOT_LISTED, phrase=phrase, line=paragraph.line, where=where))
        return _Draft(number, paragraph.line, mode, phrase, mentions, [task] if task else [], numbered=numbered)


def to_clause(draft: _Draft, directory: Directory) -> Clause:
    agencies: list[AssigneeOut] = []
    for mention in draft.mentions:
        for agency in directory.members(mention.code):
            agencies.append(
                AssigneeOut(
                    code=agency.code, kind=agency.kind, name=agency.name, via=mention.code if mention.is_group else None
                )
            )
    return Clause(
        number=draft.number,
        line=draft.line,
        mode=draft.mode,
        body=draft.body,
        agencies=agencies,
        task="\n".join(draft.task) or draft.body,
    )
