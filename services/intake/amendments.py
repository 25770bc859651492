"""A plan submitted again: the same text changes nothing; a corrected version (same number, issuer and
year) publishes only the difference — new assignments, cancellations for bodies no longer named, new
deadlines for periods whose date moved, and the new wording of tasks that changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.contracts import (
    AgencyRef,
    AssignmentCancelled,
    AssignmentCreated,
    AssignmentRevised,
    DeadlineExtended,
    Event,
)

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

    @property
    def unchanged(self) -> bool:
        return not (self.created or self.cancelled or self.deadlines_changed or self.tasks_changed)


def _deadlines(assignment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["period"]: d for d in assignment.get("deadlines", [])}


def _instant(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def plan_amendment(
    stored: dict[str, Any], record: dict[str, Any], events: list[Event], version: int, now: datetime
) -> Amendment:
    """What changed between the stored plan and the one submitted again, as the events to publish."""
    before = {a["assignment_id"]: a for a in stored["assignments"]}
    after = {a["assignment_id"]: a for a in record["assignments"]}
    created = {e.assignment_id: e for e in events if isinstance(e, AssignmentCreated)}
    issuer = next(e.issuer for e in created.values()) if created else None
    amendment = Amendment()
    for assignment_id in after.keys() - before.keys():
        amendment.events.append(created[assignment_id])
        amendment.created.append(after[assignment_id]["agency"])
    for assignment_id in before.keys() - after.keys():
        gone = before[assignment_id]
        agency = AgencyRef.model_validate(gone["agency_ref"]) if "agency_ref" in gone else None
        if agency is None:
            raise UnsupportedAmendment(f"the stored plan lacks the agency of {assignment_id}")
        amendment.events.append(
            AssignmentCancelled(
                correlation_id=record["_id"],
                actor=issuer,
                agency=agency,
                occurred_at=now,
                assignment_id=assignment_id,
                plan_id=record["_id"],
                reason=REMOVED_REASON,
            )
        )
        amendment.cancelled.append(gone["agency"])
    for assignment_id in sorted(before.keys() & after.keys()):
        old, new = _deadlines(before[assignment_id]), _deadlines(after[assignment_id])
        if old.keys() != new.keys():
            raise UnsupportedAmendment(
                f"the correction changes the reporting periods of {after[assignment_id]['agency']} "
                f"({', '.join(sorted(old))} → {', '.join(sorted(new))}); withdraw the plan and submit it anew"
            )
        event = created[assignment_id]
        for period in sorted(new):
            previous, due = _instant(old[period]["due_at"]), _instant(new[period]["due_at"])
            if previous != due:
                amendment.events.append(
                    DeadlineExtended(
                        correlation_id=record["_id"],
                        actor=issuer,
                        agency=event.agency,
                        occurred_at=now,
                        request_id=f"amendment-{version}",
                        assignment_id=assignment_id,
                        plan_id=record["_id"],
                        period=period,
                        previous_due_at=previous,
                        due_at=due,
                        wording=new[period].get("wording", ""),
                    )
                )
                amendment.deadlines_changed.append(f"{after[assignment_id]['agency']}:{period}")
        if before[assignment_id]["task"] != after[assignment_id]["task"]:
            amendment.events.append(
                AssignmentRevised(
                    correlation_id=record["_id"],
                    actor=issuer,
                    agency=event.agency,
                    occurred_at=now,
                    assignment_id=assignment_id,
                    plan_id=record["_id"],
                    task=after[assignment_id]["task"],
                    previous_task=before[assignment_id]["task"],
                    plan_version=version,
                )
            )
            amendment.tasks_changed.append(after[assignment_id]["agency"])
    return amendment
