"""A plan submitted again: the same text changes nothing; a corrected version (same number, issuer and
year) publishes only the difference — new assignments, cancellations for bodies no longer named, new
deadlines for periods whose date moved, and the new wording of tasks, or of what a body is to deliver, that
changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.intake.domain import AssignmentRecord, DeadlineRecord, PlanRecord
from shared.contracts.events import (
    AgencyRef,
    AssignmentCancelled,
    AssignmentCreated,
    AssignmentRevised,
    DeadlineExtended,
    Event,
)
from shared.domain.wording import Wording

REMOVED_REASON = "Cơ quan không còn được giao nhiệm vụ trong bản kế hoạch đã sửa đổi."


class UnsupportedAmendment(ValueError):
    """The correction changes something that cannot be applied as a difference yet."""


@dataclass
class Amendment:
    events: list[Event] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    deadlines_changed: list[str] = field(default_factory=list)
    tasks_changed: list[str] = field(default_factory=list)
    deliverables_changed: list[str] = field(default_factory=list)
    places_changed: list[str] = field(default_factory=list)  # only the section or clause that assigns the task

    @property
    def unchanged(self) -> bool:
        return not (
            self.created
            or self.cancelled
            or self.deadlines_changed
            or self.tasks_changed
            or self.deliverables_changed
            or self.places_changed
        )


def _deadlines(assignment: AssignmentRecord) -> dict[str, DeadlineRecord]:
    return {d["period"]: d for d in assignment.get("deadlines", [])}


def _instant(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


@dataclass
class _Comparison:
    """The stored and the submitted version of one plan, assignment by assignment."""

    plan_id: str
    before: dict[str, AssignmentRecord]
    after: dict[str, AssignmentRecord]
    created: dict[str, AssignmentCreated]
    issuer: AgencyRef | None
    version: int
    now: datetime
    amendment: Amendment = field(default_factory=Amendment)


def plan_amendment(
    stored: PlanRecord, record: PlanRecord, events: list[Event], version: int, now: datetime
) -> Amendment:
    """What changed between the stored plan and the one submitted again, as the events to publish."""
    created = {e.assignment_id: e for e in events if isinstance(e, AssignmentCreated)}
    plan = _Comparison(
        plan_id=record["_id"],
        before={a["assignment_id"]: a for a in stored["assignments"]},
        after={a["assignment_id"]: a for a in record["assignments"]},
        created=created,
        issuer=next(e.issuer for e in created.values()) if created else None,
        version=version,
        now=now,
    )
    for assignment_id in plan.after.keys() - plan.before.keys():
        plan.amendment.events.append(plan.created[assignment_id])
        plan.amendment.created.append(plan.after[assignment_id]["agency"])
    for assignment_id in plan.before.keys() - plan.after.keys():
        _cancel(plan, plan.before[assignment_id])
    for assignment_id in sorted(plan.before.keys() & plan.after.keys()):
        _compare_deadlines(plan, assignment_id)
        _compare_task(plan, assignment_id)
    return plan.amendment


def _cancel(plan: _Comparison, gone: AssignmentRecord) -> None:
    if "agency_ref" not in gone:
        raise UnsupportedAmendment(
            Wording(
                vi=f"bản kế hoạch đã lưu thiếu thông tin cơ quan của nhiệm vụ {gone['assignment_id']}",
                en=f"the stored plan lacks the agency of assignment {gone['assignment_id']}",
            )
        )
    plan.amendment.events.append(
        AssignmentCancelled(
            correlation_id=plan.plan_id,
            actor=plan.issuer,
            agency=AgencyRef.model_validate(gone["agency_ref"]),
            occurred_at=plan.now,
            assignment_id=gone["assignment_id"],
            plan_id=plan.plan_id,
            reason=REMOVED_REASON,
        )
    )
    plan.amendment.cancelled.append(gone["agency"])


def _compare_deadlines(plan: _Comparison, assignment_id: str) -> None:
    old, new = _deadlines(plan.before[assignment_id]), _deadlines(plan.after[assignment_id])
    agency = plan.after[assignment_id]["agency"]
    if old.keys() != new.keys():
        change = f"{', '.join(sorted(old))} → {', '.join(sorted(new))}"
        raise UnsupportedAmendment(
            Wording(
                vi=f"bản sửa đổi thay đổi các kỳ báo cáo của {agency} ({change}): hãy thu hồi kế hoạch và đăng ký kế "
                "hoạch mới với số, ký hiệu khác",
                en=f"the correction changes the reporting periods of {agency} ({change}): withdraw the plan and "
                "register a new one under another number",
            )
        )
    for period in sorted(new):
        previous, due = _instant(old[period]["due_at"]), _instant(new[period]["due_at"])
        if previous == due:
            continue
        plan.amendment.events.append(
            DeadlineExtended(
                correlation_id=plan.plan_id,
                actor=plan.issuer,
                agency=plan.created[assignment_id].agency,
                occurred_at=plan.now,
                request_id=f"amendment-{plan.version}",
                assignment_id=assignment_id,
                plan_id=plan.plan_id,
                period=period,
                previous_due_at=previous,
                due_at=due,
                wording=new[period].get("wording", ""),
            )
        )
        plan.amendment.deadlines_changed.append(f"{agency}:{period}")


def _asked(assignment: AssignmentRecord) -> list[tuple[tuple[str, ...], str]]:
    """What a body is asked to deliver and where, as it matters to the body: the items and the destination of each
    requirement (not where the document writes it: a correction that only moves lines asks nothing new)."""
    return [(tuple(d.get("items") or ()), d.get("send_to") or "") for d in assignment.get("deliverables_required", [])]


def _cited(assignment: AssignmentRecord) -> list[tuple[object, object]]:
    """The sections and clauses that assign the task, as a person cites them (a line or a page moved alone by an
    inserted sentence is no change worth telling a body)."""
    return [(p.get("section"), p.get("clause")) for p in assignment.get("provenance", [])]


def _compare_task(plan: _Comparison, assignment_id: str) -> None:
    before, after = plan.before[assignment_id], plan.after[assignment_id]
    reworded = before["task"] != after["task"]
    redelivered = _asked(before) != _asked(after)
    moved = _cited(before) != _cited(after)
    if not (reworded or redelivered or moved):
        return
    plan.amendment.events.append(
        AssignmentRevised(
            correlation_id=plan.plan_id,
            actor=plan.issuer,
            agency=plan.created[assignment_id].agency,
            occurred_at=plan.now,
            assignment_id=assignment_id,
            plan_id=plan.plan_id,
            task=after["task"],
            previous_task=before["task"],
            plan_version=plan.version,
            deliverables_required=plan.created[assignment_id].deliverables_required if redelivered else None,
            provenance=plan.created[assignment_id].provenance or None,
        )
    )
    if reworded:
        plan.amendment.tasks_changed.append(after["agency"])
    if redelivered:
        plan.amendment.deliverables_changed.append(after["agency"])
    if moved and not (reworded or redelivered):
        plan.amendment.places_changed.append(after["agency"])
