"""How tracking's records read on a page: Vietnamese words for states and events, dates in Vietnam's time, where the
plan's document assigns a task (shared/domain/places.py, the rule the notifier's e-mails cite it by), and an
agency's assignments in the four groups of the status (done on time, done late, open, overdue). The four-state rule
itself is tracking's: its API gives each period's `status`, read here as it is, not restated."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.domain.clock import VIETNAM
from shared.domain.deliverables import requirement_text
from shared.domain.places import places

STATES = {
    "assigned": "Chưa tiếp nhận",
    "acknowledged": "Đã tiếp nhận",
    "in_progress": "Đang thực hiện",
    "completed": "Đã hoàn thành",
    "cancelled": "Đã hủy",
}
PERIOD_STATES = {
    "overdue": "Quá hạn",
    "open": "Trong hạn",
    "done_late": "Hoàn thành trễ hạn",
    "done_on_time": "Hoàn thành đúng hạn",
}
GROUP_TITLES = {
    "overdue": "Quá hạn, chưa báo cáo",
    "open": "Đang trong hạn",
    "done_late": "Đã hoàn thành, trễ hạn",
    "done_on_time": "Đã hoàn thành đúng hạn",
    "cancelled": "Đã hủy",
}
EVENTS = {
    "assignment.created": "Được giao nhiệm vụ",
    "assignment.revised": "Nội dung nhiệm vụ được điều chỉnh",
    "assignment.cancelled": "Nhiệm vụ bị hủy",
    "assignment.acknowledged": "Đã tiếp nhận nhiệm vụ",
    "assignment.progress": "Báo cáo tiến độ",
    "report.submitted": "Nộp báo cáo",
    "extension.requested": "Đề nghị gia hạn",
    "extension.refused": "Không chấp thuận gia hạn",
    "deadline.extended": "Được gia hạn",
    "escalation.sent": "Hệ thống gửi thư thông báo, nhắc việc",
}
CHANNELS = {"http": "qua hệ thống", "amqp": "qua kết nối hệ thống", "web": "qua trang web"}
KIND_ORDER = ("overdue", "open", "done_late", "done_on_time", "cancelled")


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def when(value: Any) -> str:
    """`16:59 ngày 30/06/2027`, in Vietnam's time; empty when there is no time."""
    moment = parse_time(value)
    if moment is None:
        return ""
    local = moment.astimezone(VIETNAM)
    return f"{local:%H:%M} ngày {local:%d/%m/%Y}"


def day(value: Any) -> str:
    moment = parse_time(value)
    return "" if moment is None else f"{moment.astimezone(VIETNAM):%d/%m/%Y}"


@dataclass
class Period:
    key: str
    wording: str
    due_at: datetime
    status: str
    reports: list[dict[str, Any]]
    extensions: list[dict[str, Any]]

    @property
    def label(self) -> str:
        return PERIOD_STATES[self.status]

    @property
    def reportable(self) -> bool:
        return True

    @property
    def extendable(self) -> bool:
        return not self.reports


@dataclass
class Assignment:
    record: dict[str, Any]
    periods: list[Period]
    group: str
    next_due: Period | None = None
    files: int = field(default=0)

    @property
    def id(self) -> str:
        return str(self.record.get("assignment_id", ""))

    @property
    def state(self) -> str:
        return str(self.record.get("state", ""))

    @property
    def state_label(self) -> str:
        return STATES.get(self.state, self.state)

    @property
    def live(self) -> bool:
        return self.state != "cancelled"

    @property
    def requirements(self) -> list[str]:
        """What the plan asks the body to deliver and where, each as the notice says it, capitalised: '01 file word
        và 01 file scan, gửi đến Văn phòng Đảng ủy (mục IV, dòng 52 của Kế hoạch)'; none said, none listed."""
        kept = self.record.get("deliverables_required")
        texts = [requirement_text(r) for r in kept if isinstance(r, dict)] if isinstance(kept, list) else []
        return [f"{text[:1].upper()}{text[1:]}" for text in texts if text]

    @property
    def grounds(self) -> str:
        """Where the plan's document assigns the task, as the notifier's e-mail cites it plus each section's
        heading: 'mục III «Tổ chức thực hiện», khoản 2, trang 3, dòng 40'; '' for a structured plan or a record
        tracking kept before it kept places."""
        kept = self.record.get("provenance")
        return places((p for p in kept if isinstance(p, dict)), titled=True) if isinstance(kept, list) else ""


def periods_of(record: dict[str, Any]) -> list[Period]:
    periods = []
    for key in record.get("period_keys") or sorted(record.get("periods", {})):
        raw = dict(record.get("periods", {}).get(key) or {})
        due = parse_time(raw.get("due_at"))
        if due is None:
            continue
        raw["due_at"] = due
        raw.setdefault("reports", [])
        status = raw.get("status") if raw.get("status") in PERIOD_STATES else "open"  # tracking always gives one
        periods.append(
            Period(key, str(raw.get("wording", "")), due, str(status), raw["reports"], raw.get("extensions") or [])
        )
    return periods


def assignment(record: dict[str, Any]) -> Assignment:
    """One assignment as the pages show it, in the group of its most pressing period."""
    periods = periods_of(record)
    kinds = {p.status for p in periods}
    group = (
        "cancelled"
        if record.get("state") == "cancelled"
        else next((kind for kind in KIND_ORDER if kind in kinds), "open")
    )
    pending = [p for p in periods if not p.reports]
    files = sum(len(r.get("deliverables") or []) for p in periods for r in p.reports)
    return Assignment(record, periods, group, min(pending, key=lambda p: p.due_at) if pending else None, files)


def grouped(records: list[dict[str, Any]]) -> list[tuple[str, str, list[Assignment]]]:
    """(group, its title, its assignments by next deadline), most pressing group first, empty groups left out."""
    groups: dict[str, list[Assignment]] = {kind: [] for kind in KIND_ORDER}
    for record in records:
        item = assignment(record)
        groups[item.group].append(item)
    far = datetime.max.replace(tzinfo=VIETNAM)
    return [
        (kind, GROUP_TITLES[kind], sorted(items, key=lambda a: a.next_due.due_at if a.next_due else far))
        for kind, items in groups.items()
        if items
    ]


def event_label(event_type: str) -> str:
    return EVENTS.get(event_type, event_type)


def size(n: Any) -> str:
    if not isinstance(n, int):
        return ""
    if n < 1024 * 1024:
        return f"{max(1, round(n / 1024))} KB"
    return f"{n / (1024 * 1024):.1f} MB".replace(".", ",")
