"""Reporting deadlines as plans word them (DOMAIN.md §4) → reporting periods with their last on-time day.

Everything here works on normalised text (normalise.py). A date deadline `trước ngày 01 tháng 7` means on
time until the end of 30 June, Asia/Ho_Chi_Minh; the stored instant is that day's last microsecond in UTC.
"""

from __future__ import annotations

import calendar as month_calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, get_args

from shared.calendar import WorkingCalendar, end_of_day

DeadlineKind = Literal["semiannual", "annual", "quarterly", "monthly", "date", "within_period", "duration", "default"]

_DATE = (
    r"(?:ngày\s+)?(?:(?P<d1>\d{1,2})\s+tháng\s+(?P<m1>\d{1,2})(?:\s+năm\s+(?P<y1>\d{4}))?"
    r"|(?P<d2>\d{1,2})\s*[/.-]\s*(?P<m2>\d{1,2})(?:\s*[/.-]\s*(?P<y2>\d{4}))?(?!\s*[/.-]?\d))"
)
_BEFORE = r"(?P<before>trước|không\s+quá)\s+"
_BY = r"(?P<by>chậm\s+nhất|muộn\s+nhất|hạn\s+chót|hạn\s+cuối|(?:đến|tới)\s+hết|trong)(?:\s+là)?(?:\s+vào)?\s+"
_EXPLICIT = re.compile(rf"(?:{_BEFORE}|{_BY})(?=ngày\s|\d)(?:{_DATE})", re.IGNORECASE)
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
_DURATION = re.compile(
    r"(?:trong\s+(?:thời\s+hạn|vòng|thời\s+gian)|chậm\s+nhất\s+sau|sau|trong)\s+(?P<days>\d{1,3})\s+ngày"
    r"(?P<working>\s+làm\s+việc)?(?:\s*,?\s*(?:(?:kể\s+)?từ|sau\s+khi)\s+(?:ngày\s+)?(?P<start>[^,.;)]{0,40}))?",
    re.IGNORECASE,
)
# `kể từ ngày nhận được kế hoạch`, `sau khi tiếp nhận`: counted from receipt, which the plan cannot date.
_RECEIPT = re.compile(r"\bnhận\b", re.IGNORECASE)
_PERIOD_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
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
)
_SECOND_HALF = re.compile(r"6\s+tháng\s+cuối\s+năm", re.IGNORECASE)
_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4}
_ANY_DEADLINE = re.compile(r"\d|quý|tháng", re.IGNORECASE)
_SEGMENT = re.compile(r"[^;]+?(?:\.(?=\s|$)|;|$)")


@dataclass(frozen=True)
class Deadline:
    """One reporting period and the last day a report for it counts as on time."""

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

    @property
    def effective(self) -> datetime:
        """The last on-time instant, in UTC: the end of `due` in Vietnam."""
        return end_of_day(self.due)


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


def _kind_of(context: str) -> str | None:
    """The period the words closest before a date talk about (`báo cáo năm (gửi trước …)`)."""
    best: tuple[int, str] | None = None
    for kind, pattern in _PERIOD_WORDS:
        for match in pattern.finditer(context):
            if best is None or match.end() > best[0]:
                best = (match.end(), kind)
    return best[1] if best else None


class DeadlineReader:
    """Reads deadlines from a plan's paragraphs, given the plan's year and issue date, and the day it is received
    (registered) for durations counted from receipt."""

    def __init__(
        self, year: int, issued_on: date | None, calendar: WorkingCalendar, received_on: date | None = None
    ) -> None:
        self.year = year
        self.issued_on = issued_on
        self.calendar = calendar
        self.received_on = received_on

    def read(self, text: str, line: int) -> list[Deadline]:
        if not _ANY_DEADLINE.search(text):
            return []  # most paragraphs: no number, no period word
        found: list[Deadline] = []
        for segment in _SEGMENT.findall(text):
            found.extend(self._segment(segment.strip(" ;."), line))
        return found

    def _segment(self, segment: str, line: int) -> list[Deadline]:
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
                found.extend(self._explicit(match, context, segment, line))
            else:
                found.extend(self._day_of_period(match, segment[: match.start()], segment, line))
            covered.append((match.start(), match.end()))
            previous_end = match.end()
        if found:
            return found
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
        if found:
            return found
        kind = _kind_of(segment)
        if kind in ("quarterly", "monthly"):
            return self._recurring(kind, None, False, segment, line)
        for match in _DURATION.finditer(segment):
            found.append(self._duration(match, line))
        return found

    def _explicit(self, match: re.Match[str], context: str, segment: str, line: int) -> list[Deadline]:
        day = int(match["d1"] or match["d2"])
        month = int(match["m1"] or match["m2"])
        written_year = match["y1"] or match["y2"]
        kind = _kind_of(context) or "date"
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
        due = _day_before(target) if match["before"] else target
        wording = _wording(segment, context, match)
        if kind == "semiannual":
            half = 2 if _SECOND_HALF.search(context) else 1
            covered_year = self.year if half == 1 or due.month > 6 else due.year - 1
            return [Deadline("semiannual", f"{covered_year}-H{half}", wording, due, line)]
        if kind == "annual":
            covered_year = due.year - 1 if due.month <= 6 else due.year
            return [Deadline("annual", f"{covered_year}-FY", wording, due, line)]
        if kind in ("quarterly", "monthly"):
            return [Deadline("date", _one_off(due), wording, due, line)]
        return [Deadline("date", _one_off(due), wording, due, line)]

    def _day_of_period(self, match: re.Match[str], before: str, segment: str, line: int) -> list[Deadline]:
        rest = (match["rest"] or "").casefold()
        kind = "quarterly" if "quý" in rest or "kỳ" in rest else _kind_of(before) or "monthly"
        if kind not in ("quarterly", "monthly"):
            kind = "monthly" if "tháng" in rest else kind
        if kind not in ("quarterly", "monthly"):
            return []
        day = int(match["day"])
        following = "sau" in rest or "tiếp theo" in rest or "đầu" in rest
        starts = [m.start() for _, pattern in _PERIOD_WORDS for m in pattern.finditer(before)]
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
            found.append(Deadline(kind, key, wording.strip(), due, line))  # type: ignore[arg-type]
        return found

    def _duration(self, match: re.Match[str], line: int) -> Deadline:
        days, working = int(match["days"]), bool(match["working"])
        fallback = self.issued_on or date(self.year, 1, 1)
        if match["start"] and _RECEIPT.search(match["start"]):
            # The period is named by the rule, not by its last day: that day moves with the day of registration.
            start = self.received_on or fallback
            due = self.calendar.duration_end(start, days, working_days=working)
            return Deadline(
                "duration",
                f"{self.year}-R{days}{'WD' if working else 'D'}",
                match.group().strip(),
                due,
                line,
                calendar=self.calendar.version,
                counted_from="receipt",
                start=start,
                days=days,
                working_days=working,
            )
        due = self.calendar.duration_end(fallback, days, working_days=working)
        return Deadline(
            "duration",
            _one_off(due),
            match.group().strip(),
            due,
            line,
            calendar=self.calendar.version,
            counted_from="issue",
            start=fallback,
            days=days,
            working_days=working,
        )


def _wording(segment: str, context: str, match: re.Match[str]) -> str:
    """The words that name the period and the date: from the period word to the end of the date."""
    start = match.start()
    kind_start = None
    for _, pattern in _PERIOD_WORDS:
        for found in pattern.finditer(context):
            kind_start = found.start() if kind_start is None else max(kind_start, found.start())
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
