"""How a digest e-mail reads: formal Vietnamese follow-up style, one e-mail per recipient listing all its
items grouped by plan, most overdue first; a plain-text and an HTML rendering of the same content.

The assignment notice (a step asking `notice`) is an item of the same digest: what was assigned and where the
plan's document writes it (shared/domain/places.py), every reporting deadline as it stands (an extended
one says so), what to deliver, whom to contact. Personal links are not written here: the digest holds one marker
line per link (services/notifier/rules/links.py), replaced with the link's paragraph when the e-mail is sent."""

from __future__ import annotations

import html
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.notifier.rules.decisions import Notice
from services.notifier.rules.deliverables import deliverable_lines
from services.notifier.rules.headers import header_text
from services.notifier.rules.links import LinkRequest, link_requests, marker_line
from shared.contracts.ladder import Ask, Role, Track
from shared.domain.clock import VIETNAM, as_utc
from shared.domain.places import place, places


@dataclass(frozen=True)
class DeadlineLine:
    """One reporting deadline of an assignment, as the assignment notice lists it."""

    period: str
    due_at: datetime
    wording: str = ""
    provenance: Mapping[str, Any] | None = None  # where the plan's document writes it
    previous_due_at: datetime | None = None  # the deadline before an extension


@dataclass(frozen=True)
class Item:
    """One period in one recipient's digest (the highest step due for it in this run)."""

    period_id: str
    plan_id: str
    plan_number: str
    plan_title: str
    task: str
    agency_name: str
    track: Track
    period: str | None
    anchor: datetime  # the deadline (report) or the assignment (acknowledgement)
    wording: str
    step: str
    level: int
    ask: Ask
    role: Role
    copy: bool
    contact: str
    now: datetime
    agency_code: str = ""  # the body the item is about (a supervisor's view link shows its page)
    recipient_code: str = ""  # the body the recipient's address belongs to
    deadlines: tuple[DeadlineLine, ...] = ()  # the assignment's, for the assignment notice
    provenance: tuple[Mapping[str, Any], ...] = ()  # where the plan's document assigns the task, clause by clause
    deliverables: tuple[
        Mapping[str, Any], ...
    ] = ()  # what the plan asks to deliver and where (`DeliverableRequirement`)

    @property
    def overdue_by(self) -> timedelta:
        return self.now - self.anchor if self.track == "report" else timedelta(0)


@dataclass(frozen=True)
class Digest:
    subject: str
    text: str
    html: str
    links: tuple[LinkRequest, ...] = ()  # the links its marker lines stand for, in order


def describe_duration(delta: timedelta) -> str:
    """'3 ngày 2 giờ', '5 phút', '40 giây' — the two largest units that are not zero."""
    seconds = max(0, int(delta.total_seconds()))
    units = (("ngày", 86_400), ("giờ", 3_600), ("phút", 60), ("giây", 1))
    parts = []
    for name, size in units:
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount} {name}")
        if len(parts) == 2:
            break
    return " ".join(parts) or "0 giây"


def _days_or_less(delta: timedelta) -> str:
    """Whole days once a day has passed ('3 ngày'); the exact duration below that."""
    return f"{delta.days} ngày" if delta >= timedelta(days=1) else describe_duration(delta)


def local_time(instant: datetime) -> str:
    return as_utc(instant).astimezone(VIETNAM).strftime("%H:%M ngày %d/%m/%Y")


def local_date(instant: datetime) -> str:
    return as_utc(instant).astimezone(VIETNAM).strftime("%d/%m/%Y")


def items_for(
    notices: list[Notice], periods: Mapping[str, Mapping[str, Any]], contacts: dict[str, str], now: datetime
) -> list[Item]:
    """A recipient's notices of this run, one item per period: the highest step wins."""
    best: dict[str, Notice] = {}
    for notice in notices:
        period_id = notice.key.split("|", 1)[0]
        current = best.get(period_id)
        if current is None or (notice.occurrence.step.level, notice.occurrence.at) > (
            current.occurrence.step.level,
            current.occurrence.at,
        ):
            best[period_id] = notice
    items = []
    for period_id, notice in best.items():
        period = periods[period_id]
        step = notice.occurrence.step
        items.append(
            Item(
                period_id=period_id,
                plan_id=period["plan_id"],
                plan_number=period["plan_number"],
                plan_title=period["plan_title"],
                task=period.get("task", ""),
                agency_name=period["agency"]["name"],
                track=period["track"],
                period=period.get("period"),
                anchor=as_utc(period["due_at"] if period["track"] == "report" else period["assigned_at"]),
                wording=period.get("wording", ""),
                step=step.name,
                level=step.level,
                ask=step.ask,
                role=notice.recipient.role,
                copy=notice.recipient.copy,
                contact=contacts.get(period_id, ""),
                now=now,
                agency_code=period["agency"]["code"],
                recipient_code=notice.recipient.agency_code,
                deadlines=_deadlines(period),
                provenance=tuple(period.get("provenance") or ()),
                deliverables=tuple(period.get("deliverables_required") or ()),
            )
        )
    return items


def _deadlines(period: Mapping[str, Any]) -> tuple[DeadlineLine, ...]:
    rows = period.get("deadlines") or []
    lines = [
        DeadlineLine(
            str(r["period"]),
            as_utc(r["due_at"]),
            str(r.get("wording") or ""),
            r.get("provenance"),
            as_utc(r["previous_due_at"]) if r.get("previous_due_at") else None,
        )
        for r in rows
    ]
    return tuple(sorted(lines, key=lambda d: d.due_at))


def _task_lines(item: Item) -> list[str]:
    """The task as the plan words it, one line per clause naming this body, each with its place in the plan's
    document when every clause has one; else the places together on the first line."""
    clauses = [line.strip() for line in item.task.splitlines() if line.strip()] or ["(theo Kế hoạch)"]
    each = len(item.provenance) == len(clauses) and all(place(p) for p in item.provenance)
    if len(clauses) == 1:
        where = places(item.provenance)
        return [
            f"Nội dung nhiệm vụ ({where} của Kế hoạch): {clauses[0]}" if where else f"Nội dung nhiệm vụ: {clauses[0]}"
        ]
    if each:
        placed = zip(clauses, item.provenance, strict=True)
        return ["Nội dung nhiệm vụ:", *[f"– {place(p)[:1].upper()}{place(p)[1:]}: {c}" for c, p in placed]]
    where = places(item.provenance)
    return [
        f"Nội dung nhiệm vụ ({where} của Kế hoạch):" if where else "Nội dung nhiệm vụ:",
        *[f"– {c}" for c in clauses],
    ]


def _deadline_line(deadline: DeadlineLine) -> str:
    written = f"“{deadline.wording}”, " if deadline.wording else ""
    notes = []
    if deadline.previous_due_at is not None and deadline.previous_due_at != deadline.due_at:
        moved = "đã gia hạn" if deadline.due_at > deadline.previous_due_at else "đã điều chỉnh"
        notes.append(f"{moved}, hạn trước đây {local_time(deadline.previous_due_at)}")
    if where := place(deadline.provenance):
        notes.append(f"ghi tại {where}")
    noted = f" ({'; '.join(notes)})" if notes else ""
    return f"– Kỳ {deadline.period}: {written}hạn cuối {local_time(deadline.due_at)}{noted}."


def _notice_lines(item: Item) -> list[str]:
    """The assignment notice: the task and where the plan writes it, every reporting deadline, what to deliver."""
    lines = [f"{item.agency_name} — được giao lúc {local_time(item.anchor)}.", *_task_lines(item)]
    if item.deadlines:
        lines.append("Thời hạn báo cáo:")
        lines += [_deadline_line(deadline) for deadline in item.deadlines]
    lines += deliverable_lines(item.deliverables)
    lines.append("Đề nghị đơn vị xác nhận đã nhận nhiệm vụ trên hệ thống đôn đốc và tổ chức thực hiện đúng thời hạn.")
    return lines


def _status(item: Item) -> str:
    if item.track == "acknowledgement":
        return f"chưa xác nhận đã nhận nhiệm vụ (giao lúc {local_time(item.anchor)})."
    if item.now < item.anchor:
        return f"còn {_days_or_less(item.anchor - item.now)} đến hạn, chưa nhận được báo cáo."
    return f"đã quá hạn {_days_or_less(item.overdue_by)}, chưa nhận được báo cáo."


def _request(item: Item) -> str:
    if item.copy:
        return "Gửi để biết và phối hợp đôn đốc."
    if item.role != "agency":
        explain = " và yêu cầu đơn vị báo cáo giải trình" if item.ask == "explain" else ""
        return f"Đề nghị đồng chí chỉ đạo, đôn đốc đơn vị thực hiện{explain}."
    if item.ask == "acknowledge":
        return "Đề nghị đơn vị xác nhận đã nhận nhiệm vụ trên hệ thống đôn đốc."
    if item.ask == "explain":
        return "Đề nghị đơn vị gửi ngay báo cáo; trường hợp chưa thể gửi, đề nghị báo cáo giải trình rõ lý do."
    return "Đề nghị đơn vị khẩn trương hoàn thành và gửi báo cáo qua hệ thống đôn đốc."


def _lines(item: Item) -> list[str]:
    if item.ask == "notice" and item.role == "agency" and not item.copy:
        return _notice_lines(item)
    lines = [f"{item.agency_name} — nhiệm vụ: {item.task or '(theo Kế hoạch)'}"]
    if item.track == "report":
        written = f"“{item.wording}” " if item.wording else ""
        period = f" (kỳ báo cáo {item.period})" if item.period else ""
        lines.append(f"Thời hạn: {written}— hạn cuối {local_time(item.anchor)}{period}.")
    lines.append(f"Tình trạng: {_status(item)}")
    lines.append(_request(item))
    return lines


def _subject(items: list[Item]) -> str:
    if all(i.ask == "notice" for i in items):
        if len(items) == 1:
            item = items[0]
            return f"[Đôn đốc] Thông báo giao nhiệm vụ – Kế hoạch số {item.plan_number} – {item.agency_name}"
        return f"[Đôn đốc] Thông báo giao {len(items)} nhiệm vụ"
    if len(items) == 1:
        item = items[0]
        if item.track == "acknowledgement":
            what = "Đề nghị xác nhận nhận nhiệm vụ"
        elif item.now < item.anchor:
            what = "Nhắc hạn báo cáo"
        else:
            what = "Quá hạn báo cáo" if item.level == 0 else f"Đôn đốc cấp {item.level}: quá hạn báo cáo"
        return f"[Đôn đốc] {what} – Kế hoạch số {item.plan_number} – {item.agency_name}"
    overdue = sum(1 for i in items if i.track == "report" and i.now >= i.anchor)
    return f"[Đôn đốc] {len(items)} nội dung cần đôn đốc ({overdue} quá hạn báo cáo)"


def _intro(items: list[Item]) -> str:
    if all(i.ask == "notice" for i in items):
        return "Hệ thống đôn đốc trân trọng thông báo nhiệm vụ được giao cho đơn vị theo kế hoạch dưới đây:"
    return "Hệ thống đôn đốc trân trọng thông báo tình hình thực hiện các nhiệm vụ dưới đây:"


_WEB_ADDRESS = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_TRAILING = ".,;:!?)]"  # punctuation that ends a sentence, not the address


def html_line(line: str) -> str:
    """One line of the e-mail's HTML part: escaped, each web address in it (a plan's shared-folder link) a link
    the recipient can tap."""
    parts: list[str] = []
    start = 0
    for found in _WEB_ADDRESS.finditer(line):
        address = found.group().rstrip(_TRAILING)
        end = found.start() + len(address)
        parts += [
            html.escape(line[start : found.start()]),
            f'<a href="{html.escape(address)}">{html.escape(address)}</a>',
        ]
        start = end
    parts.append(html.escape(line[start:]))
    return "".join(parts)


def render_digest(recipient_name: str, items: list[Item], marker: str = "") -> Digest:
    """One e-mail for all of a recipient's items, grouped by plan, most overdue first. With a `marker`, the
    e-mail gets a marker line for each personal link it will carry (services/notifier/rules/links.py)."""
    by_plan: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        by_plan[item.plan_id].append(item)
    plans = sorted(by_plan.values(), key=lambda group: -max(i.overdue_by for i in group))
    intro = _intro(items)
    links = link_requests(items) if marker else ()
    markers = [marker_line(marker, index) for index in range(len(links))]
    contacts = sorted({i.contact for i in items if i.contact})
    closing = [f"Mọi vướng mắc xin liên hệ: {c}." for c in contacts]
    closing += ["Đây là thư tự động, vui lòng không trả lời thư này.", "Trân trọng,", "Hệ thống đôn đốc"]
    text = [f"Kính gửi: {recipient_name}.", "", intro]
    page = [f"<p>Kính gửi: <strong>{html.escape(recipient_name)}</strong>.</p>", f"<p>{html.escape(intro)}</p>"]
    for group in plans:
        first = group[0]
        heading = f"Kế hoạch số {first.plan_number}: {first.plan_title}"
        text += ["", heading]
        page += [f"<h3>{html.escape(heading)}</h3>", "<ol>"]
        for number, item in enumerate(sorted(group, key=lambda i: (-i.overdue_by, i.agency_name)), start=1):
            lines = _lines(item)
            text.append(f"  {number}. {lines[0]}")
            text += [f"     {line}" for line in lines[1:]]
            page.append("<li>" + "<br>".join(html_line(line) for line in lines) + "</li>")
        page.append("</ol>")
    for line in markers:
        text += ["", line]
        page.append(line)
    text += ["", *closing]
    page += [f"<p>{html.escape(line)}</p>" for line in closing]
    body = '<!DOCTYPE html><html lang="vi"><meta charset="utf-8"><body>' + "\n".join(page) + "</body></html>"
    # The subject is stored as it will be sent: through the one function every header value goes through.
    return Digest(header_text(_subject(items)), "\n".join(text) + "\n", body + "\n", links)
