"""Tracking's rules: the assignment state machine, reports per period, and the four-state status.

assigned -> acknowledged -> in_progress -> completed; any live state -> cancelled (by the issuer).
Each reporting period is open until a report arrives (on time or late); a second report is a revision.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from shared.clock import as_utc

AssignmentState = Literal["assigned", "acknowledged", "in_progress", "completed", "cancelled"]
PeriodStatus = Literal["done_on_time", "done_late", "open", "overdue"]
FOUR_STATES: tuple[PeriodStatus, ...] = ("done_on_time", "done_late", "open", "overdue")


class IllegalTransition(Exception):
    """The action is not allowed in the assignment's current state; nothing changes."""


class UnknownPeriod(Exception):
    """The report names a period the assignment does not have."""


def new_assignment(event: dict[str, Any]) -> dict[str, Any]:
    """The tracked record of an assignment, from its `assignment.created` event."""
    return {
        "_id": event["assignment_id"],
        "plan_id": event["plan_id"],
        "plan_number": event["plan_number"],
        "plan_title": event["plan_title"],
        "agency": event["agency"],
        "issuer": event["issuer"],
        "task": event["task"],
        "state": "assigned",
        "progress": 0,
        "periods": {
            d["period"]: {"due_at": d["due_at"], "wording": d.get("wording", ""), "reports": []}
            for d in event["deadlines"]
        },
        "period_keys": [d["period"] for d in event["deadlines"]],
        "created_at": event["occurred_at"],
        "version": 0,
    }


def acknowledge(assignment: dict[str, Any]) -> AssignmentState:
    state = assignment["state"]
    if state == "assigned":
        return "acknowledged"
    if state == "cancelled":
        raise IllegalTransition("the assignment was cancelled by its issuer")
    raise IllegalTransition(f"the assignment is already {state}; it was acknowledged before")


def report_progress(assignment: dict[str, Any], percent: int) -> AssignmentState:
    state = assignment["state"]
    if state == "cancelled":
        raise IllegalTransition("the assignment was cancelled by its issuer")
    if state == "completed":
        raise IllegalTransition("the assignment is completed; submit a report revision instead")
    if percent < assignment.get("progress", 0):
        raise IllegalTransition(f"progress cannot go back from {assignment['progress']}% to {percent}%")
    return "in_progress"


@dataclass(frozen=True)
class ReportOutcome:
    state: AssignmentState
    due_at: datetime
    late_by_seconds: int
    revision: int


def _live_period(assignment: dict[str, Any], period: str) -> dict[str, Any]:
    """The assignment's periods, once it is sure the assignment is live and has `period`."""
    if assignment["state"] == "cancelled":
        raise IllegalTransition("the assignment was cancelled by its issuer")
    periods: dict[str, Any] = assignment["periods"]
    if period not in periods:
        known = ", ".join(sorted(periods)) or "none"
        raise UnknownPeriod(f"the assignment has no reporting period {period!r} (its periods: {known})")
    return periods


def submit_report(assignment: dict[str, Any], period: str, submitted_at: datetime) -> ReportOutcome:
    periods = _live_period(assignment, period)
    due_at = as_utc(periods[period]["due_at"])
    # Rounded up: a report a fraction of a second after the deadline is late, not on time.
    late_by = max(0, math.ceil((submitted_at - due_at).total_seconds()))
    revision = len(periods[period]["reports"]) + 1
    others_done = all(p["reports"] for key, p in periods.items() if key != period)
    state: AssignmentState = "completed" if others_done else "in_progress"
    return ReportOutcome(state=state, due_at=due_at, late_by_seconds=late_by, revision=revision)


def request_extension(assignment: dict[str, Any], period: str, requested_due_at: datetime) -> datetime:
    """Check an extension request; returns the period's current deadline."""
    periods = _live_period(assignment, period)
    if periods[period]["reports"]:
        raise IllegalTransition(f"the report for {period} is already in; no extension is needed")
    current = as_utc(periods[period]["due_at"])
    if requested_due_at <= current:
        raise IllegalTransition(f"the requested deadline must be later than the current one ({current.isoformat()})")
    return current


def period_status(period: dict[str, Any], now: datetime) -> PeriodStatus:
    reports = period["reports"]
    if reports:
        return "done_late" if reports[0]["late_by_seconds"] > 0 else "done_on_time"
    return "overdue" if as_utc(period["due_at"]) < now else "open"


def plan_status(assignments: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """Counts and percentages in the four states, overall, per agency kind and per period."""
    overall: Counter[str] = Counter()
    by_kind: dict[str, Counter[str]] = {}
    by_period: dict[str, Counter[str]] = {}
    rows = []
    for assignment in assignments:
        if assignment["state"] == "cancelled":
            continue
        statuses = {}
        for key, period in assignment["periods"].items():
            status = period_status(period, now)
            statuses[key] = status
            overall[status] += 1
            by_kind.setdefault(assignment["agency"]["kind"], Counter())[status] += 1
            by_period.setdefault(key, Counter())[status] += 1
        rows.append(
            {
                "assignment_id": assignment["_id"],
                "agency": assignment["agency"],
                "state": assignment["state"],
                "progress": assignment.get("progress", 0),
                "periods": statuses,
            }
        )
    return {
        "totals": _with_percentages(overall),
        "by_agency_kind": {kind: _with_percentages(c) for kind, c in sorted(by_kind.items())},
        "by_period": {key: _with_percentages(c) for key, c in sorted(by_period.items())},
        "assignments": rows,
    }


def _with_percentages(counts: Counter[str]) -> dict[str, Any]:
    total = sum(counts.values())
    return {
        "total": total,
        **{state: counts.get(state, 0) for state in FOUR_STATES},
        "percent": {state: round(100 * counts.get(state, 0) / total, 1) if total else 0.0 for state in FOUR_STATES},
    }
