"""A plan's paragraphs → ParsedPlan: header, title, bases, sections, assignments, reporting, recipients,
signature (DOMAIN.md §1). Parts may be missing or reworded; what cannot be understood is reported with
its line, never dropped silently."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date

from services.intake.documents.clauses import ClauseReader, to_clause
from services.intake.documents.deadlines import Deadline, DeadlineReader, DefaultReporting, default_deadlines
from services.intake.documents.errors import NotAPlan
from services.intake.documents.model import (
    Assignment,
    Clause,
    DeadlineOut,
    Entered,
    Heading,
    Issuer,
    Located,
    ParsedPlan,
    Recipient,
    Reference,
    Reporting,
    Section,
    Signature,
    SourceLine,
    Unresolved,
)
from services.intake.documents.normalise import Paragraph, paragraphs, split_lines
from shared.contracts.events import DeliverableRequirement, Provenance
from shared.domain.calendar import WorkingCalendar, deployment_calendar
from shared.domain.directory import Directory
from shared.domain.wording import Wording

_PLACE_DATE = re.compile(
    r"^(?P<place>[^,\d]{2,60}),\s*ngày\s+(?P<d>\d{1,2})\s+tháng\s+(?P<m>\d{1,2})\s+năm\s+(?P<y>\d{4})", re.IGNORECASE
)
_NUMBER = re.compile(r"^Số\s*[:.]?\s*(?P<number>\d{1,7}\s*[-/]\s*[\wĐđ/-]+)", re.IGNORECASE)
_TITLE = re.compile(r"^KẾ\s+HOẠCH\b\s*(?P<rest>.*)$")
_HEADING = re.compile(r"^(?P<num>X|IX|VIII|VII|VI|V|IV|III|II|I)\s*[.:-]\s*(?P<title>\S.*)$")
_BOILERPLATE = re.compile(
    r"^(ĐẢNG CỘNG SẢN VIỆT NAM|CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM|Độc lập\s*-\s*Tự do\s*-\s*Hạnh phúc|ĐẢNG BỘ\b|\*+$)",
    re.IGNORECASE,
)
_BASIS = re.compile(r"^(Căn cứ|Thực hiện|Để|Nhằm|Triển khai|Theo)\b")
_ISSUED_BY = re.compile(
    r"(?:^|[,;.]\s*)(?P<who>[^,;.]{3,80}?)\s+(?:ban\s+hành|xây\s+dựng)\s+(?:kế\s+hoạch|Kế\s+hoạch)", re.IGNORECASE
)
_REFERENCE = re.compile(
    r"(?P<number>\d{1,5}[-/][A-ZĐ][\wĐđ]*(?:[-/][\wĐđ]+)*)\s*,?\s+(?:ngày\s+)?"
    r"(?:(?P<d1>\d{1,2})/(?P<m1>\d{1,2})/(?P<y1>\d{4})|(?P<d2>\d{1,2})\s+tháng\s+(?P<m2>\d{1,2})\s+năm\s+(?P<y2>\d{4}))"
)
_DOC_KINDS = {
    "KH": "Kế hoạch",
    "CT": "Chỉ thị",
    "TB": "Thông báo",
    "TT": "Thông tri",
    "NQ": "Nghị quyết",
    "QĐ": "Quyết định",
    "CV": "Công văn",
    "HD": "Hướng dẫn",
    "KL": "Kết luận",
    "BC": "Báo cáo",
}
_SYMBOL_ISSUERS = {"ĐU": "Đảng ủy", "UBND": "UBND", "MTTQ": "Ủy ban Mặt trận Tổ quốc", "CB": "Chi bộ"}
_RECIPIENTS = re.compile(r"^Nơi\s+nhận\s*:?\s*(?P<rest>.*)$", re.IGNORECASE)
_ON_BEHALF = re.compile(r"^(?:T/M|TM\.?|KT\.?|Q\.|TL\.?)\s*(?P<who>.+)$")
_ROLE = re.compile(r"^(PHÓ\s+)?(BÍ THƯ|CHỦ TỊCH|TRƯỞNG BAN|CHÁNH VĂN PHÒNG|THƯỜNG TRỰC|TRƯỞNG PHÒNG)\b")
_SIGNED = r"có\s+chữ\s+ký(?:\s+và\s+đóng\s+dấu)?"
_DELIVERABLE = re.compile(
    r"\d{1,3}\s+(?:file|tệp|bản)\s+(?:(?:định\s+dạng\s+)?(?:word|scan|pdf|excel|giấy|mềm|cứng|điện\s+tử|gốc|chính"
    rf"|\.?docx?\b|\.?xlsx?\b)(?:\s+{_SIGNED})?|{_SIGNED})",
    re.IGNORECASE,
)
# Where the reports go: a link or an e-mail address, else a body's name (capitalised) after `về`, `đến`, `tới`.
_LINK = re.compile(r"https?://[^\s<>\"'()]+|\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_SEND_TO = re.compile(r"\b(?:về|đến|tới)\s+(?P<to>[^,;()]{3,160})", re.IGNORECASE)
_SEND_TO_END = re.compile(
    r"\s+(?:bằng|qua|theo|trước|chậm|kèm|gồm|đồng\s+thời|để|trong|vào|hằng|định\s+kỳ|và\s+\d)\b|\.(?:\s|$)"
)
_REPORT_TO = re.compile(r"(?:\bgửi\s+(?:về\s+)?|\bvề\s+)(?P<to>[^,.;()]{3,80})", re.IGNORECASE)
_YEAR = re.compile(r"\bnăm\s+(?P<year>(?:19|20)\d{2})\b", re.IGNORECASE)
_QUOTED = re.compile(r'"(?P<q>[^"]{3,300})"')


def _located(paragraph: Paragraph, text: str | None = None) -> Located:
    return Located(text=paragraph.text if text is None else text, line=paragraph.line)


def _is_heading_text(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(c.isupper() for c in letters) >= 0.8 * len(letters)


def _out(deadline: Deadline) -> DeadlineOut:
    note = None
    if deadline.counted_from == "receipt" and deadline.start is not None:
        note = (
            f"Thời hạn tính từ ngày nhận kế hoạch: ở đây tạm tính từ hôm nay ({deadline.start:%d/%m/%Y}). "
            "Khi đăng ký, hạn được tính từ ngày hệ thống tiếp nhận kế hoạch."
        )
    return DeadlineOut(
        kind=deadline.kind,
        period=deadline.period,
        wording=deadline.wording,
        due=deadline.due,
        effective_at=deadline.effective,
        line=deadline.line,
        calendar=deadline.calendar,
        counted_from=deadline.counted_from,
        start=deadline.start,
        days=deadline.days,
        working_days=deadline.working_days,
        note=note,
        months=deadline.months,
        obligation=deadline.obligation,
        source="default" if deadline.kind == "default" else "text",
    )


def parse_lines(  # noqa: PLR0913 - the document's lines and where they are, and the parser's settings
    lines: list[str],
    directory: Directory,
    today: date,
    calendar: WorkingCalendar | None = None,
    default_reporting: DefaultReporting = "annual",
    sources: list[SourceLine] | None = None,
    entered: Entered | None = None,
) -> ParsedPlan:
    """`sources`: for a paged document (PDF, scan), where each line starts (its page and line on the page);
    `entered`: what the clerk entered for the plan (number, date of issue, day of receipt)."""
    return parse_paragraphs(paragraphs(lines), directory, today, calendar, default_reporting, sources, entered)


def parse_text(
    text: str,
    directory: Directory,
    today: date,
    calendar: WorkingCalendar | None = None,
    default_reporting: DefaultReporting = "annual",
) -> ParsedPlan:
    return parse_lines(split_lines(text), directory, today, calendar, default_reporting)


def parse_paragraphs(  # noqa: PLR0913 - as parse_lines
    items: list[Paragraph],
    directory: Directory,
    today: date,
    calendar: WorkingCalendar | None = None,
    default_reporting: DefaultReporting = "annual",
    sources: list[SourceLine] | None = None,
    entered: Entered | None = None,
) -> ParsedPlan:
    parser = _PlanParser(items, directory, today, calendar or deployment_calendar(), default_reporting)
    parser.entered = entered or Entered()
    return parser.parse(sources)


class _PlanParser:
    def __init__(
        self,
        items: list[Paragraph],
        directory: Directory,
        today: date,
        calendar: WorkingCalendar,
        default_reporting: DefaultReporting,
    ) -> None:
        self.items = items
        self.directory = directory
        self.today = today
        self.calendar = calendar
        self.default_reporting = default_reporting
        self.unresolved: list[Unresolved] = []
        self.later: list[Unresolved] = []  # problems listed after those of the plan's parts
        self.entered = Entered()

    def parse(self, sources: list[SourceLine] | None = None) -> ParsedPlan:
        layout = _Layout.of(self.items)
        plan = ParsedPlan(year=self.today.year)
        plan.set_headings(layout.sections(self.items))
        if sources:
            plan.pages = [source.page for source in sources]
            plan.page_lines = [source.line for source in sources]
        self._front(layout, plan)
        received_on = self.entered.received_on or self.today
        reader = DeadlineReader(plan.year, plan.issued_on, self.calendar, received_on=received_on)
        organisation, after = self._sections(layout, plan)
        self._require_organisation(organisation, layout, plan)
        clause_lines = self._clauses(organisation, reader, plan)
        plan_deadlines = self._plan_reporting(
            [p for p in [*self._schedule(layout), *organisation, *after] if p.line not in clause_lines], reader, plan
        )
        for reporting in plan.reporting:
            if reporting.provenance is None:
                reporting.provenance = plan.locate(reporting.line)
        self.unresolved.extend(
            Unresolved.because(u.reason, phrase=u.text, line=u.line, where="deadline") for u in reader.unread
        )
        if not plan_deadlines:
            plan_deadlines = default_deadlines(plan.year, self.default_reporting)
            plan.default_deadlines_applied = bool(plan_deadlines)
        reporting_lines = {r.line for r in plan.reporting}
        plan.notes = [n for n in plan.notes if n.line not in reporting_lines]
        plan.deadlines = [_out(d) for d in _unique(plan_deadlines)]
        _locate_deadlines(plan)
        _note_entered_receipt(plan)
        plan.assignments = self._assignments(plan)
        plan.recipients, plan.signature = self._tail(self.items[layout.end :])
        plan.unresolved = self.unresolved + self.later
        return plan

    def _front(self, layout: _Layout, plan: ParsedPlan) -> None:
        """Everything before the first section: number, date and place, title, bases, issuer."""
        items = self.items
        header = items[: layout.header_end]
        self._header(header, plan)
        self._enter(plan)
        title_paragraphs = self._title(items, layout.title_at, layout.first_section, plan)
        if layout.title_at is None:
            intro = [p for p in items[: layout.first_section] if _BASIS.match(p.text)]
        else:
            intro = items[layout.title_at + title_paragraphs + 1 : layout.first_section]
        plan.year = self._year(plan, items[: layout.first_section])
        plan.references = self._references(intro)
        self._issuer(header, intro, items[layout.end :], plan)
        self._repair_place(plan)

    def _enter(self, plan: ParsedPlan) -> None:
        """What the clerk entered stands instead of what the document says (or lacks): used as entered."""
        entered = self.entered
        if entered.number is not None:
            plan.number = Located(text=entered.number.strip(), line=0)
        if entered.issued_on is not None:
            plan.issued_on, plan.issued_on_line = entered.issued_on, None
            self.unresolved = [u for u in self.unresolved if u.where != "issued_on"]
        plan.received_on = entered.received_on
        plan.entered = entered.given()

    def _sections(self, layout: _Layout, plan: ParsedPlan) -> tuple[list[Paragraph], list[Paragraph]]:
        """Purpose and content sections into the plan; the organisation section's paragraphs, and those of the
        sections after it, returned."""
        items, headings = self.items, layout.headings
        organisation: list[Paragraph] = []
        after: list[Paragraph] = []
        for index, (start, match) in enumerate(headings):
            stop = headings[index + 1][0] if index + 1 < len(headings) else layout.end
            body = items[start + 1 : stop]
            title = match["title"].casefold()
            if "tổ chức thực hiện" in title or "phân công" in title or "trách nhiệm" in title:
                organisation.extend(body)
            elif organisation:
                after.extend(body)
            elif "mục đích" in title or "yêu cầu" in title and not plan.purpose:
                plan.purpose = [_located(p) for p in body]
            else:
                plan.content.append(
                    Section(heading=items[start].text, line=items[start].line, paragraphs=[_located(p) for p in body])
                )
        return organisation, after

    def _schedule(self, layout: _Layout) -> list[Paragraph]:
        """The paragraphs of a `THỜI GIAN` or `TIẾN ĐỘ` section (before the organisation section: it stays among
        the content too): its deadlines bind every body of the plan."""
        items, headings = self.items, layout.headings
        found: list[Paragraph] = []
        for index, (start, match) in enumerate(headings):
            title = match["title"].casefold()
            if "tổ chức thực hiện" in title or "phân công" in title or "trách nhiệm" in title:
                break  # what follows the organisation section is read with it
            if title.startswith(("thời gian", "tiến độ")):
                stop = headings[index + 1][0] if index + 1 < len(headings) else layout.end
                found.extend(items[start + 1 : stop])
        return found

    def _require_organisation(self, organisation: list[Paragraph], layout: _Layout, plan: ParsedPlan) -> None:
        if organisation:
            return
        if plan.number is None and layout.title_at is None:
            raise NotAPlan(
                Wording(
                    vi="Không nhận ra kế hoạch: không thấy số hiệu (Số …-KH/…), tiêu đề KẾ HOẠCH hay mục TỔ CHỨC THỰC "
                    "HIỆN. Hãy kiểm tra đúng tệp kế hoạch chưa.",
                    en="This does not read as a plan: no number (Số …-KH/…), no KẾ HOẠCH title and no TỔ CHỨC THỰC "
                    "HIỆN (organisation) section. Check that this is the plan's file.",
                )
            )
        self.unresolved.append(
            Unresolved.because(
                Wording(
                    vi="không tìm thấy mục tổ chức thực hiện: không có phân công",
                    en="no organisation section (tổ chức thực hiện) found: nobody is assigned anything",
                ),
                phrase="III. TỔ CHỨC THỰC HIỆN",
                line=0,
                where="sections",
            )
        )

    def _clauses(self, organisation: list[Paragraph], reader: DeadlineReader, plan: ParsedPlan) -> set[int]:
        """The organisation section's clauses into the plan, each with its own deadlines; their lines returned."""
        clause_reader = ClauseReader(self.directory)
        drafts = clause_reader.read(organisation)
        self.unresolved.extend(clause_reader.unresolved)
        plan.notes = clause_reader.notes
        for draft in drafts:
            clause = to_clause(draft, self.directory)
            clause.deadlines = [_out(d) for d in reader.read(clause.task, draft.line)]
            plan.clauses.append(clause)
        return {d.line for d in drafts}

    def _plan_reporting(self, paragraphs: list[Paragraph], reader: DeadlineReader, plan: ParsedPlan) -> list[Deadline]:
        """The reporting rules written outside the clauses (and in clauses that only state the common rule):
        into `plan.reporting`; the deadlines they give, returned."""
        plan_deadlines: list[Deadline] = []
        for paragraph in paragraphs:
            found = reader.read(paragraph.text, paragraph.line)
            if found or "báo cáo" in paragraph.text.casefold():
                plan_deadlines.extend(found)
                plan.reporting.append(self._reporting(paragraph))
        for clause in plan.clauses:  # a clause that only states the common reporting rule sets it for all
            if (
                clause.deadlines
                and any(d.kind in ("semiannual", "annual", "quarterly", "monthly") for d in clause.deadlines)
                and "báo cáo" in clause.task.casefold()
            ):
                plan.reporting.append(
                    Reporting(
                        text=clause.task,
                        line=clause.line,
                        deliverables=_deliverables(clause.task),
                        send_to=_send_to(clause.task),
                        provenance=plan.locate(clause.line, clause.number),
                    )
                )
        return plan_deadlines

    def _header(self, header: list[Paragraph], plan: ParsedPlan) -> None:
        for paragraph in self.items[: max(len(header), 12)]:
            if plan.issued_on is None and (match := _PLACE_DATE.match(paragraph.text)):
                try:
                    plan.issued_on = date(int(match["y"]), int(match["m"]), int(match["d"]))
                except ValueError:
                    self.unresolved.append(
                        Unresolved.because(
                            Wording(vi="ngày ban hành không hợp lệ", en="the date of issue is not a valid date"),
                            phrase=paragraph.text,
                            line=paragraph.line,
                            where="issued_on",
                        )
                    )
                    continue
                plan.issued_on_line = paragraph.line
                plan.place = _located(paragraph, match["place"].strip())
            elif plan.number is None and (match := _NUMBER.match(paragraph.text)):
                plan.number = _located(paragraph, re.sub(r"\s+", "", match["number"]).rstrip(".,;"))

    def _title(self, items: list[Paragraph], title_at: int | None, stop: int, plan: ParsedPlan) -> int:
        if title_at is None:
            return 0
        first = _TITLE.match(items[title_at].text)
        parts = [first["rest"]] if first and first["rest"] else []
        taken = 0
        for paragraph in items[title_at + 1 : min(stop, title_at + 4)]:
            if _BASIS.match(paragraph.text) or len(paragraph.text) > 400 or paragraph.text.startswith("-"):
                break
            parts.append(paragraph.text)
            taken += 1
        title = " ".join(parts).strip()
        plan.title = Located(text=f"Kế hoạch {title}".strip(), line=items[title_at].line)
        quoted = _QUOTED.search(title)
        plan.campaign = quoted["q"].strip() if quoted else None
        return taken

    def _year(self, plan: ParsedPlan, front: list[Paragraph]) -> int:
        """The year of the plan's date (DOMAIN.md §5), unless its title names the next year (a plan issued in
        December for the year after); else the title's year, else the latest `năm 2023` of the text before the
        sections, else the year the text names most often, else the year of the newest document it cites; else
        a problem, and the current year only to show the preview."""
        title = _YEAR.search(plan.title.text) if plan.title else None
        if plan.issued_on:
            next_year = title is not None and int(title["year"]) == plan.issued_on.year + 1
            return plan.issued_on.year + 1 if next_year else plan.issued_on.year
        if title is not None:
            return int(title["year"])
        # The latest year the opening names: a plan is not for a year before the documents it cites.
        years = [int(m["year"]) for p in front for m in _YEAR.finditer(p.text)]
        if years:
            return max(years)
        # Else the year the plan's text names most often (`trong năm 2022`).
        years = [int(m["year"]) for p in self.items for m in _YEAR.finditer(p.text)]
        if years:
            return Counter(years).most_common(1)[0][0]
        cited = [r.issued_on for p in front for r in self._references([p]) if r.issued_on is not None]
        if cited:
            return max(cited).year
        self.later.append(
            Unresolved.because(
                Wording(
                    vi="không xác định được năm của kế hoạch (không có dòng địa danh, ngày tháng năm; tiêu đề và "
                    "nội dung không ghi năm)",
                    en="the plan's year cannot be told (no line of place and date; neither the title nor the text "
                    "gives a year)",
                ),
                phrase="",
                line=0,
                where="year",
            )
        )
        return self.today.year

    def _references(self, intro: list[Paragraph]) -> list[Reference]:
        found: list[Reference] = []
        seen = set()
        for paragraph in intro:
            for match in _REFERENCE.finditer(paragraph.text):
                number = match["number"]
                if number in seen:
                    continue
                seen.add(number)
                try:
                    issued = date(
                        int(match["y1"] or match["y2"]),
                        int(match["m1"] or match["m2"]),
                        int(match["d1"] or match["d2"]),
                    )
                except ValueError:
                    issued = None
                symbol = re.split(r"[-/]", number)[1] if re.search(r"[-/]", number) else ""
                found.append(
                    Reference(number=number, kind=_DOC_KINDS.get(symbol.upper()), issued_on=issued, line=paragraph.line)
                )
        return found

    def _issuer(self, header: list[Paragraph], intro: list[Paragraph], tail: list[Paragraph], plan: ParsedPlan) -> None:
        candidates = [
            found
            for found in (
                _issuer_in_header(header, plan.number.line if plan.number and plan.number.line else None),
                _issuer_in_intro(intro),
                _issuer_in_signature(tail),
                _issuer_of_symbol(plan.number),
            )
            if found is not None
        ]
        for candidate in candidates:
            mentions = self.directory.find_mentions(candidate.text)
            if mentions and not mentions[0].is_group:
                agency = self.directory.get(mentions[0].code)
                plan.issuer = candidate.model_copy(update={"code": agency.code, "name": agency.name})
                return
        if candidates:
            plan.issuer = candidates[0]
            self.unresolved.append(
                Unresolved.because(
                    Wording(vi="cơ quan ban hành không có trong danh bạ", en="the issuer is not in the directory"),
                    phrase=candidates[0].text,
                    line=candidates[0].line,
                    where="issuer",
                )
            )
        else:
            self.unresolved.append(
                Unresolved.because(
                    Wording(vi="không tìm thấy cơ quan ban hành", en="no issuer found"),
                    phrase="",
                    line=0,
                    where="issuer",
                )
            )

    def _repair_place(self, plan: ParsedPlan) -> None:
        """`Phường Liệt` where the converter cut `Phương`: the full name appears in the text."""
        if plan.place is None:
            return
        words = plan.place.text.split()
        if len(words) < 2 or words[0].casefold() not in ("phường", "xã", "quận", "huyện"):
            return
        tail = " ".join(words[1:])
        pattern = re.compile(rf"\b{re.escape(words[0])}\s+((?:\w+\s+){{1,3}}){re.escape(tail)}\b", re.IGNORECASE)
        for paragraph in sorted(self.items, key=lambda p: _is_heading_text(p.text)):  # prose before headers
            if (match := pattern.search(paragraph.text)) and paragraph.line != plan.place.line:
                missing = match.group(1)
                if missing.isupper():
                    missing = " ".join(w.capitalize() for w in missing.split()) + " "
                plan.place = Located(text=f"{words[0]} {missing}{tail}", line=plan.place.line)
                return

    def _reporting(self, paragraph: Paragraph) -> Reporting:
        report_to: list[str] = []
        for match in _REPORT_TO.finditer(paragraph.text):
            report_to += [m.code for m in self.directory.find_mentions(match["to"]) if m.code not in report_to]
        return Reporting(
            text=paragraph.text,
            line=paragraph.line,
            deliverables=_deliverables(paragraph.text),
            report_to=report_to,
            send_to=_send_to(paragraph.text),
        )

    def _assignments(self, plan: ParsedPlan) -> list[Assignment]:
        assignments = []
        common = _common_requirements(plan.reporting)
        reporting_lines = {r.line for r in plan.reporting}
        for clause in plan.clauses:
            shared = [] if plan.default_deadlines_applied and clause.deadlines else plan.deadlines
            own = {d.period for d in clause.deadlines}
            deadlines = clause.deadlines + [d for d in shared if d.period not in own]
            place = plan.locate(clause.line, clause.number)  # one (frozen) place for the clause's bodies
            deliverables = _deliverables_required(clause, place, reporting_lines, common)
            for agency in clause.agencies:
                assignments.append(
                    Assignment(
                        agency=agency.code,
                        kind=agency.kind,
                        name=agency.name,
                        via=agency.via,
                        clause=clause.number,
                        line=clause.line,
                        task=clause.task,
                        deadlines=deadlines,
                        provenance=place,
                        deliverables_required=deliverables,
                    )
                )
        return assignments

    def _tail(self, tail: list[Paragraph]) -> tuple[list[Recipient], Signature | None]:
        recipients: list[Recipient] = []
        signature: Signature | None = None
        for paragraph in tail:
            text = paragraph.text
            if match := _RECIPIENTS.match(text):
                text = match["rest"].strip()
                if not text:
                    continue
            if match := _ON_BEHALF.match(text):
                signature = Signature(on_behalf_of=match["who"].strip(), line=paragraph.line)
                continue
            if _ROLE.match(text):
                signature = signature or Signature(line=paragraph.line)
                signature.role = text
                continue
            if text.startswith(("-", "+", "•")):
                item = text.lstrip("-+• ").rstrip(",.;")
                codes = list(dict.fromkeys(m.code for m in self.directory.find_mentions(item)))
                recipients.append(Recipient(text=item, line=paragraph.line, agencies=codes))
                continue
            if signature is not None and not text.startswith("(") and 1 < len(text.split()) <= 6:
                signature.name = text
        return recipients, signature


@dataclass(frozen=True)
class _Layout:
    """Where a plan's parts are: the header, the title, the section headings, the recipients (`end`)."""

    end: int
    title_at: int | None
    headings: list[tuple[int, re.Match[str]]]
    first_section: int
    header_end: int

    def sections(self, items: list[Paragraph]) -> list[Heading]:
        """Each section heading with the line where its section ends (the next heading, or `Nơi nhận`)."""
        ends = [items[start].line for start, _ in self.headings[1:]]
        ends.append(items[self.end].line if self.end < len(items) else (items[-1].end_line + 1 if items else 1))
        return [
            Heading(line=items[start].line, end=end, numeral=match["num"], title=match["title"].strip())
            for (start, match), end in zip(self.headings, ends, strict=False)  # no headings: none
        ]

    @classmethod
    def of(cls, items: list[Paragraph]) -> _Layout:
        end = next((i for i, p in enumerate(items) if _RECIPIENTS.match(p.text)), len(items))
        title_at = next((i for i, p in enumerate(items[:end]) if _TITLE.match(p.text)), None)
        headings = [
            (i, m)
            for i, p in enumerate(items[:end])
            if (m := _HEADING.match(p.text)) and _is_heading_text(m["title"]) and (title_at is None or i > title_at)
        ]
        first_section = headings[0][0] if headings else end
        return cls(end, title_at, headings, first_section, title_at if title_at is not None else first_section)


def _issuer_in_header(header: list[Paragraph], number_line: int | None) -> Issuer | None:
    """The last organisation name in capitals above the plan's number (not the national motto or the date)."""
    for paragraph in reversed(header):
        if number_line is not None and paragraph.line > number_line:
            continue
        if (
            _is_heading_text(paragraph.text)
            and not _BOILERPLATE.match(paragraph.text)
            and not _NUMBER.match(paragraph.text)
            and not _PLACE_DATE.match(paragraph.text)
        ):
            return Issuer(text=paragraph.text, line=paragraph.line, source="header")
    return None


def _issuer_in_intro(intro: list[Paragraph]) -> Issuer | None:
    """`…, Đảng ủy phường X xây dựng kế hoạch …`."""
    for paragraph in intro:
        if match := _ISSUED_BY.search(paragraph.text):
            who = re.split(r"\b(?:nay|hôm nay)\b", match["who"])[-1].strip()
            return Issuer(text=who, line=paragraph.line, source="intro")
    return None


def _issuer_in_signature(tail: list[Paragraph]) -> Issuer | None:
    for paragraph in tail:
        if match := _ON_BEHALF.match(paragraph.text):
            return Issuer(text=match["who"].strip(), line=paragraph.line, source="signature")
    return None


def _issuer_of_symbol(number: Located | None) -> Issuer | None:
    """The issuer's symbol at the end of the plan's number: `85-KH/ĐU` → Đảng ủy."""
    if number is None:
        return None
    suffix = number.text.rsplit("/", 1)[-1].upper()
    if suffix in _SYMBOL_ISSUERS:
        return Issuer(text=_SYMBOL_ISSUERS[suffix], line=number.line, source="symbol")
    return None


def _locate_deadlines(plan: ParsedPlan) -> None:
    """Each deadline with its clause, page and line: a clause's own with the clause's number, the plan's with
    none (they bind every body), the default with no place at all."""
    clauses: list[tuple[Clause | None, list[DeadlineOut]]] = [(c, c.deadlines) for c in plan.clauses]
    for clause, deadlines in [*clauses, (None, plan.deadlines)]:
        places: dict[int, Provenance | None] = {}  # a clause's deadlines mostly share its line: one place each
        for deadline in deadlines:
            if deadline.line not in places:
                places[deadline.line] = plan.locate(deadline.line, clause.number if clause else None)
            deadline.provenance = places[deadline.line]


def _note_entered_receipt(plan: ParsedPlan) -> None:
    """A duration from receipt counted from the day the clerk entered says so (not `tạm tính từ hôm nay`)."""
    if plan.received_on is None:
        return
    note = f"Thời hạn tính từ ngày nhận kế hoạch do văn thư nhập ({plan.received_on:%d/%m/%Y})."
    for deadline in [*plan.deadlines, *(d for c in plan.clauses for d in c.deadlines)]:
        if deadline.counted_from == "receipt":
            deadline.note = note


def _deliverables(text: str) -> list[str]:
    return [re.sub(r"\s+", " ", m.group()) for m in _DELIVERABLE.finditer(text)]


def _send_to(text: str) -> str | None:
    """Where the text says to send the reports, as written: a link or an e-mail address, else the body named
    (capitalised) after `về`, `đến` or `tới`; None when it names none (`báo cáo về kết quả …` names none)."""
    if link := _LINK.search(text):
        return link.group().rstrip(".,;:")
    for match in _SEND_TO.finditer(text):
        to = match["to"]
        end = _SEND_TO_END.search(to)
        to = (to[: end.start()] if end else to).strip().rstrip(".:")
        if to[:1].isupper() and len(to) >= 3:
            return to
    return None


# At most this many requirements per body, as `assignment.created` carries them (the contract's input limit).
_MAX_REQUIREMENTS = 20


def _common_requirements(reporting: list[Reporting]) -> list[DeliverableRequirement]:
    """What the plan asks of every body (its reporting sentences): each (what, where) once, first wording kept."""
    found: dict[tuple[tuple[str, ...], str | None], DeliverableRequirement] = {}
    for sentence in reporting:
        if (requirement := sentence.requirement()) is not None:
            found.setdefault((requirement.items, requirement.send_to), requirement)
    return list(found.values())[:_MAX_REQUIREMENTS]


def _deliverables_required(
    clause: Clause, place: Provenance | None, reporting_lines: set[int], common: list[DeliverableRequirement]
) -> list[DeliverableRequirement]:
    """What a clause's bodies are to deliver and where: what the clause itself asks (its own `01 file word`),
    then what the plan asks of every body (`common`). A clause asks something when it names files to send, or a
    report and where it goes (`báo cáo kết quả về Đảng ủy`); one that states the common rule is in `common`."""
    items = _deliverables(clause.task)
    send_to = _send_to(clause.task) if items or "báo cáo" in clause.task.casefold() else None
    if (not items and not send_to) or clause.line in reporting_lines:
        return common
    own = Reporting(text=clause.task, line=clause.line, deliverables=items, send_to=send_to, provenance=place)
    requirement = own.requirement()
    if requirement is None:
        return common
    same = (requirement.items, requirement.send_to)
    return [requirement, *(c for c in common if (c.items, c.send_to) != same)][:_MAX_REQUIREMENTS]


def _unique(deadlines: list[Deadline]) -> list[Deadline]:
    by_period: dict[str, Deadline] = {}
    for deadline in deadlines:
        by_period.setdefault(deadline.period, deadline)
    return sorted(by_period.values(), key=lambda d: d.due)
