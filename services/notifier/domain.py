"""The notifier's projection: what it keeps about each reporting period and acknowledgement window.

Built from events alone. Each tracked item carries its anchors (when it was assigned, when it is due),
the ladder steps it opened with (a snapshot) and which occurrences are already handled; the schedule
itself is recomputed from those (services/notifier/rules/schedule.py). `ladder_source` says whether the steps
are the deployment's or the plan's own; `ladder_changes` lists operators' re-applications of the ladder.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.notifier.rules.ladder import for_track
from shared.contracts.ladder import Ladder, Track

OPEN = "open"
SUBMITTED = "submitted"
ACKNOWLEDGED = "acknowledged"
CANCELLED = "cancelled"


def period_id(assignment_id: str, period: str) -> str:
    return f"{assignment_id}:{period}"


def acknowledgement_id(assignment_id: str) -> str:
    return f"{assignment_id}:ack"


def _common(assignment: dict[str, Any], track: Track, ladder: Ladder, calendar_version: str) -> dict[str, Any]:
    # The plan's own ladder for this track when the assignment carries one, else the deployment's `ladder`.
    chosen = for_track(ladder, assignment.get("escalation_ladder"), track)
    return {
        "track": track,
        "assignment_id": assignment["assignment_id"],
        "plan_id": assignment["plan_id"],
        "plan_number": assignment["plan_number"],
        "plan_title": assignment["plan_title"],
        "task": assignment.get("task", ""),
        "issuer": assignment.get("issuer"),
        "agency": assignment["agency"],
        "assigned_at": assignment["occurred_at"],
        **chosen.fields(),
        "calendar_version": calendar_version,
    }


def report_period(
    assignment: dict[str, Any], deadline: dict[str, Any], ladder: Ladder, calendar_version: str
) -> dict[str, Any]:
    """One reporting period, from an `assignment.created` event (dumped to python) and one of its deadlines."""
    return {
        **_common(assignment, "report", ladder, calendar_version),
        "period": deadline["period"],
        "due_at": deadline["due_at"],
        "wording": deadline.get("wording", ""),
    }


def acknowledgement_window(assignment: dict[str, Any], ladder: Ladder, calendar_version: str) -> dict[str, Any]:
    """The time an agency has to acknowledge an assignment, chased by the acknowledgement steps; it keeps the
    assignment's reporting deadlines, where the plan's document writes the task and each deadline, and what the
    plan asks the body to deliver and where, which the assignment notice lists."""
    deadlines = [
        {
            "period": d["period"],
            "due_at": d["due_at"],
            "wording": d.get("wording", ""),
            "provenance": d.get("provenance"),
        }
        for d in assignment.get("deadlines") or []
    ]
    return {
        **_common(assignment, "acknowledgement", ladder, calendar_version),
        "period": None,
        "due_at": None,
        "deadlines": deadlines,
        "provenance": list(assignment.get("provenance") or []),
        "deliverables_required": list(assignment.get("deliverables_required") or []),
    }


def listed_deadline_moved(
    deadlines: list[dict[str, Any]], period: str, due_at: datetime, wording: str, previous_due_at: datetime
) -> list[dict[str, Any]] | None:
    """An acknowledgement window's deadline list with `period` moved to `due_at` (the assignment notice shows the
    deadline as it stands, and the one before); None when the list does not hold `period`."""
    if not any(d.get("period") == period for d in deadlines):
        return None
    return [
        {**d, "due_at": due_at, "wording": wording or d.get("wording", ""), "previous_due_at": previous_due_at}
        if d.get("period") == period
        else d
        for d in deadlines
    ]


def opened(skipped: list[str], first_check: datetime | None, at: datetime) -> dict[str, Any]:
    """The fields set only when a tracked item is first opened (a report that came first keeps its state)."""
    return {
        "state": OPEN,
        "rev": 0,
        "done": skipped,
        "next_check_at": first_check,
        "opened_at": at,
    }
