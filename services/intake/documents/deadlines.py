"""Reporting deadlines as plans word them (DOMAIN.md §4) → reporting periods with their last on-time day.

Everything here works on normalised text (normalise.py). A date deadline `trước ngày 01 tháng 7` means on
time until the end of 30 June, Asia/Ho_Chi_Minh; the stored instant is that day's last microsecond in UTC.
"""

from __future__ import annotations

import calendar as month_calendar
import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, get_args

from services.intake.documents.model import DeadlineKind
from services.intake.domain import months_end
from shared.domain.calendar import WorkingCalendar, end_of_day
from shared.domain.clock import VIETNAM
from shared.domain.wording import Wording

Obligation = Literal["report", "complete"]

_DATE = (
    r"(?:ngày\s+)?(?:(?P<d1>\d{1,2})\s+tháng\s+(?P<m1>\d{1,2})(?:\s+năm\s+(?P<y1>\d{4}))?"
    r"|(?P<d2>\d{1,2})\s*[/.-]\s*(?P<m2>\d{1,2})(?:\s*[/.-]\s*(?P<y2>\d{4}))?(?!\s*[/.-]?\d))"
)
_BEFORE = r"(?P<before>trước|không\s+quá)\s+"
_BY = (
    r"(?P<by>chậm\s+nhất|muộn\s+nhất|hạn\s+chót|hạn\s+cuối|(?:đến|tới)\s+hết|trong|vào)(?:\s+là)?(?:\s+vào)?"
    r"(?:\s+lúc)?\s+"
)
# `trước 17 giờ ngày 05/11/2024`, `chậm nhất 10h00 ngày …`, `… ngày 05/11 lúc 16 giờ 30`: an hour of that day.
_HOUR = r"(?P<hour>\d{1,2})\s*(?:giờ|h|g)\s*(?P<minute>[0-5]\d)?(?:\s*phút)?(?!\w)"
_AT_HOUR = re.compile(r"\s*,?\s*(?:vào\s+)?lúc\s+(?P<hour>\d{1,2})\s*(?:giờ|h|g)\s*(?P<minute>[0-5]\d)?")
_EXPLICIT = re.compile(
    rf"(?:{_BEFORE}|{_BY})(?:(?:các|những)\s+)?(?:{_HOUR}\s*,?\s*)?(?=ngày\s|\d)(?:{_DATE})", re.IGNORECASE
)
# More dates in the same list: `vào ngày 10/6 và ngày 10/12`, `trước các ngày 20/6, 20/12`.
_MORE_DATE = re.compile(
    r"\s*(?:,|;|và|hoặc)\s*(?:ngày\s+)?(?:(?P<d1>\d{1,2})\s+tháng\s+(?P<m1>\d{1,2})(?:\s+năm\s+(?P<y1>\d{4}))?"
    r"|(?P<d2>\d{1,2})\s*[/.-]\s*(?P<m2>\d{1,2})(?:\s*[/.-]\s*(?P<y2>\d{4}))?(?!\s*[/.-]?\d))",
    re.IGNORECASE,
)
# `trước ngày 20 của tháng cuối quý`, `trước ngày 25 hằng tháng`: a day of a month given by the period.
_DAY_OF_PERIOD = re.compile(
    r"(?:trước|chậm\s+nhất(?:\s+là)?)\s+ngày\s+(?P<day>\d{1,2})(?!\s*(?:tháng\s+\d|[/.-]\s*\d))"
    r"(?P<rest>\s+(?:của\s+)?(?:tháng\s+(?:cuối|đầu)\s+(?:quý|kỳ)(?:\s+(?:sau|tiếp\s+theo))?|tháng\s+sau"
    r"|(?:hằng|hàng|mỗi)\s+tháng))?",
    re.IGNORECASE,
)
_WITHIN_MONTH = re.compile(
    r"(?:trong|hết|trước\s+khi\s+kết\s+thúc)\s+tháng\s+(?P<month>\d{1,2})(?:\s*(?:/|năm)\s*(?P<year>\d{4}))?(?!\d)",
    re.IGNORECASE,
)
_WITHIN_QUARTER = re.compile(
    r"(?<!\w)quý\s+(?P<quarter>IV|III|II|I|[1-4])(?!\w)(?:\s*(?:/|năm)\s*(?P<year>\d{4}))?", re.IGNORECASE
)
# The number of days comes first (what the expression looks for); the words before it, checked after a match.
# Case-sensitive on purpose: with IGNORECASE the engine cannot skip ahead to the first letters of the number words
# (four times slower over a long plan); durations are written in lower case, the rest is matched either way.
_DURATION = re.compile(
    r"(?P<days>\d{1,3}|một|hai|ba|bốn|năm|sáu|bảy|tám|chín|mười)\s+(?P<unit>ngày|tháng|tuần)(?!\s*(?:\d|đầu|cuối))"
    r"(?i:(?P<working>\s+làm\s+việc)?(?:\s*,?\s*(?:(?:kể\s+)?từ|sau\s+khi|sau)\s+(?:ngày\s+)?(?P<start>[^,.;)]{0,60}))?)"
)
_DURATION_LEAD = re.compile(
    r"(?:trong\s+(?:thời\s+hạn|vòng|thời\s+gian)|chậm\s+nhất(?:\s+là)?\s+sau|sau|trong)\s+$", re.IGNORECASE
)
# `kể từ ngày nhận được kế hoạch`, `sau khi tiếp nhận`: counted from receipt, which the plan cannot date.
_RECEIPT = re.compile(r"\bnhận\b", re.IGNORECASE)
# `kể từ ngày ký`, `… ngày ban hành (kế hoạch)`, `từ ngày kế hoạch có hiệu lực`: counted from the plan's issue.
_ISSUE = re.compile(r"^(?:ký|kí|ban\s+hành|kế\s+hoạch|văn\s+bản\s+này|có\s+hiệu\s+lực)", re.IGNORECASE)
_PERIOD_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # Before the half-year: `sơ kết 9 tháng` is the nine-month report, not the first half-year's.
    ("ninemonth", re.compile(r"(?:(?:báo\s+cáo|sơ\s+kết)\s+)?(?:9|09|chín)\s+tháng", re.IGNORECASE)),
    ("semiannual", re.compile(r"(?:báo\s+cáo\s+)?(?:6|sáu)\s+tháng|sơ\s+kết|bán\s+niên", re.IGNORECASE)),
    (
        "annual",
        re.compile(
            r"báo\s+cáo\s+(?:cả\s+)?năm|tổng\s+kết\s+(?:cả\s+)?năm|(?:hằng|hàng)\s+năm|"
            r"báo\s+cáo\s+tổng\s+kết|cuối\s+năm",
            re.IGNORECASE,
        ),
    ),
    ("quarterly", re.compile(r"(?:hằng|hàng|mỗi)\s+quý|báo\s+cáo\s+quý|định\s+kỳ\s+quý", re.IGNORECASE)),
    ("monthly", re.compile(r"(?:hằng|hàng|mỗi)\s+tháng|báo\s+cáo\s+tháng", re.IGNORECASE)),
    ("weekly", re.compile(r"(?:hằng|hàng|mỗi)\s+tuần|báo\s+cáo\s+tuần", re.IGNORECASE)),
)
_SECOND_HALF = re.compile(r"6\s+tháng\s+cuối\s+năm", re.IGNORECASE)
_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4}
_ANY_DEADLINE = re.compile(r"\d|quý|tháng|tuần", re.IGNORECASE)
# A sentence that speaks of a deadline or a report, with a date or a number of days, months, hours: when it
# gives no deadline, it is listed as unread (never left to the default in silence).
_SPEAKS = re.compile(r"hạn\b|trước|chậm\s+nhất|muộn\s+nhất|báo\s+cáo|hoàn\s+thành|xong\b|nộp\b", re.IGNORECASE)
_NUMBERISH = re.compile(
    r"\d{1,2}\s*[/.-]\s*\d{1,2}(?!\d)|(?:\d{1,3}|một|hai|ba|bốn|sáu|bảy|tám|chín|mười)\s*(?:ngày|tháng|tuần|giờ|h\b)|(?:ngày|tháng|quý|tuần)\s+(?:\d|[IV]+\b)"
    r"|thứ\s+(?:hai|ba|tư|năm|sáu|bảy|[2-7])\b",
    re.IGNORECASE,
)
_COMPLETE = re.compile(r"hoàn\s+thành|xong\b|kết\s+thúc|tổ\s+chức|triển\s+khai", re.IGNORECASE)
_REPORT = re.compile(r"báo\s+cáo|gửi\b|nộp\b", re.IGNORECASE)
_WEEKDAY = re.compile(
    rf"(?:(?P<before>trước)\s+)?(?:{_HOUR}\s*,?\s*)?(?:ngày\s+)?(?:thứ\s+(?P<wd>hai|ba|tư|năm|sáu|bảy|[2-7])\b"
    r"|(?P<sunday>chủ\s+nhật))",
    re.IGNORECASE,
)
_NUMBER_WORDS = {"một": 1, "hai": 2, "ba": 3, "bốn": 4, "năm": 5, "sáu": 6, "bảy": 7, "tám": 8, "chín": 9, "mười": 10}
_WEEKDAYS = {"hai": 0, "ba": 1, "tư": 2, "năm": 3, "sáu": 4, "bảy": 5}
_SEGMENT = re.compile(r"[^;]+?(?:\.(?=\s|$)|;|$)")
# Why a sentence about a deadline gave none (listed with the sentence; the clerk corrects it or says it sets none).
_UNREAD = Wording(
    vi="câu nói về thời hạn nhưng không đọc được hạn", en="the sentence speaks of a deadline but none could be read"
)
_NO_ISSUE_DATE = Wording(
    vi="thời hạn tính từ ngày ban hành nhưng kế hoạch không ghi ngày ban hành",
    en="the deadline runs from the date of issue, which the plan does not give",
)


@dataclass(frozen=True)
class Deadline:
    """One reporting (or completion) period and the last day a report for it counts as on time."""

    kind: DeadlineKind
    period: str
    wording: str
    due: date
    line: int
    calendar: str | None = None
    counted_from: Literal["issue", "receipt"] | None = None  # durations only
    start: date | None = None  # the day a duration is counted from (itself not counted)
    days: int | None = None
    working_days: bool = False
    months: int | None = None  # durations in months (Civil Code art. 148)
    at: datetime | None = None  # an hour of `due` was written: the last on-time instant, UTC
    obligation: Obligation = "report"

    @property
    def effective(self) -> datetime:
        """The last on-time instant, in UTC: the hour written, else the end of `due` in Vietnam."""
        return self.at or end_of_day(self.due)


@dataclass(frozen=True)
class Unread:
    """A sentence that speaks of a deadline and from which no deadline could be read."""

    text: str
    line: int
    reason: Wording


def _day_before(day: date) -> date:
    return day - timedelta(days=1)


def _safe_date(year: int, month: int, day: int) -> date | None:
    if not (1 <= month <= 12 and 1900 <= year <= 2200):
        return None
    last = month_calendar.monthrange(year, month)[1]
    return date(year, month, min(day, last)) if day >= 1 else None


def _month_end(year: int, month: int) -> date:
    return date(year, month, month_calendar.monthrange(year, month)[1])


def _one_off(day: date) -> str:
    return f"{day.year}-D{day.month:02d}-{day.day:02d}"


def _period_words(context: str) -> list[tuple[int, int, str]]:
    """Where the words naming a period are in `context`: (start, end, kind). The nine-month and weekly words are
    looked for only where a `9` or `tuần` is (each pattern is a pass over the text)."""
    lowered = context.casefold()
    found: list[tuple[int, int, str]] = []
    for kind, pattern in _PERIOD_WORDS:
        if kind == "ninemonth" and "9" not in context and "chín" not in lowered:
            continue
        if kind == "weekly" and "tuần" not in lowered:
            continue
        found.extend((match.start(), match.end(), kind) for match in pattern.finditer(context))
    return found


def _kind_of(context: str, words: list[tuple[int, int, str]] | None = None) -> str | None:
    """The period the words closest before a date talk about (`báo cáo năm (gửi trước …)`)."""
    best: tuple[int, str] | None = None
    for _, end, kind in _period_words(context) if words is None else words:
        if best is None or end > best[0]:
            best = (end, kind)
    return best[1] if best else None


def _obligation(text: str) -> Obligation:
    """`hoàn thành trước …` sets when the work is done; `báo cáo …`, `gửi …` when it is reported."""
    return "complete" if _COMPLETE.search(text) and not _REPORT.search(text) else "report"


def _instant(day: date, hour: str | None, minute: str | None, before: bool) -> datetime | None:
    """`trước 17 giờ ngày X`: on time until just before 17:00 that day; `chậm nhất 10h00 ngày X`: until 10:00."""
    if hour is None or int(hour) > 23:
        return None
    written = datetime.combine(day, time(int(hour), int(minute or 0)), tzinfo=VIETNAM)
    return (written - timedelta(microseconds=1) if before else written).astimezone(UTC)


def _dates_of(match: re.Match[str]) -> tuple[int, int, str | None]:
    return int(match["d1"] or match["d2"]), int(match["m1"] or match["m2"]), match["y1"] or match["y2"]


class DeadlineReader:
    """Reads deadlines from a plan's paragraphs, given the plan's year and issue date, and the day it is received
    (registered) for durations counted from receipt. Sentences about a deadline that give none go to `unread`."""

    def __init__(
        self, year: int, issued_on: date | None, calendar: WorkingCalendar, received_on: date | None = None
    ) -> None:
        self.year = year
        self.issued_on = issued_on
        self.calendar = calendar
        self.received_on = received_on
        self.unread: list[Unread] = []

    def read(self, text: str, line: int) -> list[Deadline]:
        if not _ANY_DEADLINE.search(text):
            return []  # most paragraphs: no number, no period word
        found: list[Deadline] = []
        for segment in _SEGMENT.findall(text):
            segment = segment.strip(" ;.")
            read = self._segment(segment, line)
            already = self.unread and self.unread[-1].text == segment and self.unread[-1].line == line
            if not (read or already) and _SPEAKS.search(segment) and _NUMBERISH.search(segment):
                self.unread.append(Unread(segment, line, _UNREAD))
            if read:
                obligation = _obligation(segment)
                found.extend(_with(d, obligation) for d in read)
        return found

    def _segment(self, segment: str, line: int) -> list[Deadline]:
        found = self._dated(segment, line)
        if found:
            return found
        found = self._within(segment, line)
        if found:
            return found
        kind = _kind_of(segment)
        if kind in ("quarterly", "monthly"):
            return self._recurring(kind, None, False, segment, line)
        if kind == "weekly":
            return self._weekly(segment, line)
        for match in _DURATION.finditer(segment):
            found.extend(self._duration(match, segment, line))
        return found

    def _dated(self, segment: str, line: int) -> list[Deadline]:
        found: list[Deadline] = []
        previous_end = 0
        covered: list[tuple[int, int]] = []
        matches = sorted(
            [(m, "explicit") for m in _EXPLICIT.finditer(segment)]
            + [(m, "day_of_period") for m in _DAY_OF_PERIOD.finditer(segment)],
            key=lambda pair: pair[0].start(),
        )
        for match, how in matches:
            if any(start <= match.start() < end for start, end in covered):
                continue
            context = segment[previous_end : match.start()]
            if how == "explicit":
                more, end = self._more_dates(segment, match.end())
                found.extend(self._explicit(match, more, context, segment, line))
            else:
                end = match.end()
                found.extend(self._day_of_period(match, segment[: match.start()], segment, line))
            covered.append((match.start(), end))
            previous_end = end
        return found

    @staticmethod
    def _more_dates(segment: str, position: int) -> tuple[list[tuple[int, int, str | None]], int]:
        more = []
        while found := _MORE_DATE.match(segment, position):
            more.append(_dates_of(found))
            position = found.end()
        return more, position

    def _within(self, segment: str, line: int) -> list[Deadline]:
        found: list[Deadline] = []
        for match in _WITHIN_MONTH.finditer(segment):
            year = int(match["year"]) if match["year"] else self.year
            month = int(match["month"])
            if 1 <= month <= 12:
                found.append(
                    Deadline(
                        "within_period", f"{year}-{month:02d}", match.group().strip(), _month_end(year, month), line
                    )
                )
        for match in _WITHIN_QUARTER.finditer(segment):
            year = int(match["year"]) if match["year"] else self.year
            quarter = _ROMAN.get(match["quarter"].upper()) or int(match["quarter"])
            found.append(
                Deadline(
                    "within_period", f"{year}-Q{quarter}", match.group().strip(), _month_end(year, 3 * quarter), line
                )
            )
        return found

    def _explicit(
        self, match: re.Match[str], more: list[tuple[int, int, str | None]], context: str, segment: str, line: int
    ) -> list[Deadline]:
        words = _period_words(context)
        wording = _wording(segment, context, match, words)
        if more:
            return self._several([_dates_of(match), *more], context, segment, match, line)
        day, month, written_year = _dates_of(match)
        kind = _kind_of(context, words) or "date"
        if kind == "annual" and not written_year:
            # The annual report covers the whole year: a day early in the year is in the next one.
            year = self.year + 1 if month <= 6 else self.year
        else:
            year = int(written_year) if written_year else self.year
        target = _safe_date(year, month, day)
        if target is None:
            return []
        if kind == "date" and not written_year and self.issued_on and target < self.issued_on:
            target = _safe_date(year + 1, month, day) or target
        hour = _AT_HOUR.match(segment, match.end())
        hours = (match["hour"], match["minute"]) if match["hour"] else (hour["hour"], hour["minute"]) if hour else None
        if hours:
            at = _instant(target, *hours, before=bool(match["before"]))
            if at is not None:
                return [Deadline("date", _one_off(target), wording, target, line, at=at)]
        due = _day_before(target) if match["before"] else target
        return [self._period_of(kind, due, context, wording, line)]

    def _period_of(self, kind: str, due: date, context: str, wording: str, line: int) -> Deadline:
        if kind == "semiannual":
            half = 2 if _SECOND_HALF.search(context) else 1
            covered_year = self.year if half == 1 or due.month > 6 else due.year - 1
            return Deadline("semiannual", f"{covered_year}-H{half}", wording, due, line)
        if kind == "ninemonth":
            covered_year = self.year if due.month > 6 else due.year - 1
            return Deadline("ninemonth", f"{covered_year}-9M", wording, due, line)
        if kind == "annual":
            covered_year = due.year - 1 if due.month <= 6 else due.year
            return Deadline("annual", f"{covered_year}-FY", wording, due, line)
        return Deadline("date", _one_off(due), wording, due, line)

    def _several(
        self, dates: list[tuple[int, int, str | None]], context: str, segment: str, match: re.Match[str], line: int
    ) -> list[Deadline]:
        """Several dates in one list. A report on two days of each year is the six-month report and the annual
        one, on four days the quarterly reports (the periods of Decree 09/2019/ND-CP); other lists are dates."""
        before = bool(match["before"])
        targets = [t for d, m, y in dates if (t := _safe_date(int(y) if y else self.year, m, d)) is not None]
        dues = [_day_before(t) if before else t for t in targets]
        wording = segment[match.start() : match.end()] + " …"
        yearly = not any(y for _, _, y in dates) and (_REPORT.search(segment) or "năm" in segment.casefold())
        if yearly and len(dues) == 2:
            return [
                Deadline("semiannual", f"{self.year}-H1", wording, dues[0], line),
                Deadline("annual", f"{self.year}-FY", wording, dues[1], line),
            ]
        if yearly and len(dues) == 4:
            return [Deadline("quarterly", f"{self.year}-Q{q}", wording, due, line) for q, due in enumerate(dues, 1)]
        return [Deadline("date", _one_off(due), wording, due, line) for due in dues]

    def _day_of_period(self, match: re.Match[str], before: str, segment: str, line: int) -> list[Deadline]:
        rest = (match["rest"] or "").casefold()
        kind = "quarterly" if "quý" in rest or "kỳ" in rest else _kind_of(before) or "monthly"
        if kind not in ("quarterly", "monthly"):
            kind = "monthly" if "tháng" in rest else kind
        if kind not in ("quarterly", "monthly"):
            return []
        day = int(match["day"])
        following = "sau" in rest or "tiếp theo" in rest or "đầu" in rest
        starts = [start for start, _, _ in _period_words(before)]
        wording = segment[max(starts) if starts else match.start() : match.end()]
        return self._recurring(kind, day, following, wording, line, exclusive=True)

    def _recurring(
        self, kind: str, day: int | None, following: bool, wording: str, line: int, exclusive: bool = False
    ) -> list[Deadline]:
        """One period per quarter or month of the plan's year; a period already due when the plan was
        issued is left out (nobody can be late for it)."""
        found = []
        periods = range(1, 5) if kind == "quarterly" else range(1, 13)
        for index in periods:
            last_month = 3 * index if kind == "quarterly" else index
            year, month = self.year, last_month
            if following:
                month += 1
                if month > 12:
                    year, month = year + 1, 1
            target = _safe_date(year, month, day) if day else _month_end(year, month)
            if target is None:
                continue
            due = _day_before(target) if exclusive else target
            if self.issued_on and due < self.issued_on:
                continue
            key = f"{self.year}-Q{index}" if kind == "quarterly" else f"{self.year}-{index:02d}"
            found.append(Deadline(kind, key, wording.strip(), due, line))  # type: ignore[arg-type]  # kind is one of the loop's Literals
        return found

    def _weekly(self, segment: str, line: int) -> list[Deadline]:
        """One period per ISO week of the plan's year, due on the weekday named (else the week's Sunday), at
        the hour named; a week already due when the plan was issued is left out."""
        named = _WEEKDAY.search(segment)
        weekday = 6 if named is None or named["sunday"] else _WEEKDAYS.get(named["wd"].casefold(), 0)
        if named is not None and named["wd"] and named["wd"].isdigit():
            weekday = int(named["wd"]) - 2
        before = bool(named and named["before"])
        found = []
        for week in range(1, date(self.year, 12, 28).isocalendar().week + 1):
            day = date.fromisocalendar(self.year, week, weekday + 1)
            at = _instant(day, named["hour"], named["minute"], before) if named else None
            due = _day_before(day) if before and at is None else day
            if self.issued_on and due < self.issued_on:
                continue
            found.append(Deadline("weekly", f"{self.year}-W{week:02d}", segment.strip(), due, line, at=at))
        return found

    def _duration(self, match: re.Match[str], segment: str, line: int) -> list[Deadline]:
        written = match["days"].casefold()
        count = _NUMBER_WORDS[written] if written in _NUMBER_WORDS else int(written)
        unit, working = match["unit"].casefold(), bool(match["working"])
        start_words = (match["start"] or "").strip()
        before = segment[max(0, match.start() - 30) : match.start()]
        if before[-1:].isalnum() or before[-1:] in ("/", ".", "-"):
            return []  # inside a word or a number (`khai ngày`, `2024 ngày`)
        lead = _DURATION_LEAD.search(before)
        if lead is None and not start_words:
            return []  # `06 tháng đầu năm`, `15 ngày công`: a number of days, not a deadline
        months = count if unit == "tháng" else None
        days = count * 7 if unit == "tuần" else count
        if start_words and _RECEIPT.search(start_words):
            # The period is named by the rule, not by its last day: that day moves with the day of registration.
            start = self.received_on or self.issued_on
            counted_from: Literal["issue", "receipt"] = "receipt"
            key = f"{self.year}-R{count}{'M' if months else 'WD' if working else 'D'}"
        elif not start_words or _ISSUE.match(start_words.removeprefix("ngày ").strip()):
            start, counted_from, key = self.issued_on, "issue", ""
        else:
            event = Wording(
                vi=f"thời hạn tính từ một sự kiện kế hoạch không ghi ngày: {start_words!r}",
                en=f"the deadline runs from an event the plan gives no date for: {start_words!r}",
            )
            self.unread.append(Unread(segment, line, event))
            return []
        if start is None:
            self.unread.append(Unread(segment, line, _NO_ISSUE_DATE))
            return []
        due = months_end(start, months, self.calendar) if months else self.calendar.duration_end(start, days, working)
        return [
            Deadline(
                "duration",
                key or _one_off(due),
                segment[match.start() - (len(before) - lead.start() if lead else 0) : match.end()].strip(),
                due,
                line,
                calendar=self.calendar.version,
                counted_from=counted_from,
                start=start,
                days=None if months else days,
                working_days=working,
                months=months,
            )
        ]


def _with(deadline: Deadline, obligation: Obligation) -> Deadline:
    return deadline if deadline.obligation == obligation else replace(deadline, obligation=obligation)


def _wording(segment: str, context: str, match: re.Match[str], words: list[tuple[int, int, str]]) -> str:
    """The words that name the period and the date: from the period word to the end of the date."""
    start = match.start()
    kind_start = max((word_start for word_start, _, _ in words), default=None)
    if kind_start is not None:
        start = segment.find(context) + kind_start if context else start
    text = segment[start : match.end()].strip(" (,")
    return text + (")" if text.count("(") > text.count(")") else "")


DefaultReporting = Literal["annual", "semiannual", "quarterly", "none"]
DEFAULT_REPORTING_CHOICES: tuple[DefaultReporting, ...] = get_args(DefaultReporting)
_QUARTERS = ("I", "II", "III", "IV")


def default_deadlines(year: int, policy: DefaultReporting = "annual") -> list[Deadline]:
    """The deployment's default when a plan names no deadline (`INTAKE_DEFAULT_REPORTING`): the annual report
    due before 1 January; or also the semi-annual one before 1 July; or one each quarter; or none, and then a
    plan without a deadline is refused and says so."""
    annual = Deadline(
        "default",
        f"{year}-FY",
        f"báo cáo năm, gửi trước ngày 01 tháng 01 năm {year + 1} (mặc định)",
        date(year, 12, 31),
        0,
    )
    if policy == "none":
        return []
    if policy == "semiannual":
        return [
            Deadline(
                "default",
                f"{year}-H1",
                f"báo cáo 6 tháng, gửi trước ngày 01 tháng 7 năm {year} (mặc định)",
                date(year, 6, 30),
                0,
            ),
            annual,
        ]
    if policy == "quarterly":
        return [
            Deadline(
                "default",
                f"{year}-Q{q}",
                f"báo cáo quý {_QUARTERS[q - 1]}, gửi trước ngày 01 tháng {q * 3 % 12 + 1:02d} năm "
                f"{year + (q == 4)} (mặc định)",
                date(year, q * 3, 30 if q in (2, 3) else 31),
                0,
            )
            for q in (1, 2, 3, 4)
        ]
    return [annual]
