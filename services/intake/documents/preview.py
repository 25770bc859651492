"""What `POST /plans/preview` and `dondoc plan parse --json` show: the plan as parsed, and whether it can be
published as it stands. Pure: nothing is stored or sent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from services.intake.documents.model import ParsedPlan
from services.intake.documents.to_submission import UnresolvedBodies, to_submission
from services.intake.domain import PlanRejected, PlanSubmission, register_plan
from shared.contracts.events import AssignmentCreated
from shared.domain.directory import Directory
from shared.domain.wording import Wording


def preview(
    document: ParsedPlan | PlanSubmission, directory: Directory, today: date, max_assignments: int
) -> dict[str, Any]:
    if isinstance(document, PlanSubmission):
        return _structured(document, directory, today, max_assignments)
    body: dict[str, Any] = {
        "format": "document",
        **document.model_dump(mode="json"),
        "deadline_sources": _deadline_sources(document),
    }
    try:
        submission = to_submission(document)
        register_plan(submission, directory, today, max_assignments)
        body["ready"], body["problems"] = True, []
    except UnresolvedBodies as exc:
        body["ready"], body["problems"] = False, exc.problems
    except PlanRejected as exc:
        body["ready"], body["problems"] = False, _vietnamese(exc.problems)
    return body


def _structured(submission: PlanSubmission, directory: Directory, today: date, max_assignments: int) -> dict[str, Any]:
    body: dict[str, Any] = {"format": "json", "submission": submission.model_dump(mode="json")}
    try:
        _, events = register_plan(submission, directory, today, max_assignments)
    except PlanRejected as exc:
        body.update(ready=False, problems=_vietnamese(exc.problems), assignments=[])
        return body
    body.update(
        ready=True,
        problems=[],
        assignments=[
            {
                "agency": e.agency.code,
                "kind": e.agency.kind,
                "task": e.task,
                "deadlines": [d.model_dump(mode="json") for d in e.deadlines],
                "deliverables_required": [d.model_dump(mode="json") for d in e.deliverables_required],
            }
            for e in events
            if isinstance(e, AssignmentCreated)
        ],
    )
    return body


def _vietnamese(problems: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The preview is an answer, not a refusal: its problems are plain Vietnamese strings, as they always were (a
    problem the rules word in both languages gives its Vietnamese; a Wording itself would not serialise)."""
    return [{key: text.vi if isinstance(text, Wording) else text for key, text in p.items()} for p in problems]


def _deadline_sources(plan: ParsedPlan) -> list[dict[str, Any]]:
    """Per body: which deadlines the plan's text sets (its clause's own, or the plan's for every body), and which
    are the deployment's default (only for bodies the plan says nothing about)."""
    own_lines = {clause.line for clause in plan.clauses if clause.deadlines}
    return [
        {
            "agency": item.agency,
            "clause": item.clause,
            "line": item.line,
            "from_clause": [d.period for d in item.deadlines if d.source == "text" and d.line == item.line],
            "from_plan": [d.period for d in item.deadlines if d.source == "text" and d.line != item.line],
            "from_default": [d.period for d in item.deadlines if d.source == "default"],
            "clause_has_own": item.line in own_lines,
        }
        for item in plan.assignments
    ]
