"""Notifier's subscriber: keeps its own projection of reporting periods and acknowledgement windows
from events alone, each with the ladder it opened with and the next time it needs looking at."""

from __future__ import annotations

from typing import Any

import structlog
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from services.notifier import domain
from services.notifier.repository import NotifierRepository
from services.notifier.rules.decisions import Rules, opening_state
from shared.consumer import Outcome, TransientError
from shared.contracts import (
    AssignmentAcknowledged,
    AssignmentCancelled,
    AssignmentCreated,
    AssignmentRevised,
    DeadlineExtended,
    Event,
    ReportSubmitted,
)
from shared.mongo import in_transaction

log = structlog.get_logger()

Handled = (
    AssignmentCreated
    | AssignmentAcknowledged
    | ReportSubmitted
    | AssignmentCancelled
    | DeadlineExtended
    | AssignmentRevised
)


class PeriodProjector:
    def __init__(self, client: AsyncMongoClient[dict[str, Any]], repository: NotifierRepository, rules: Rules) -> None:
        self._client = client
        self._repository = repository
        self._rules = rules

    async def __call__(self, event: Event) -> Outcome:
        if not isinstance(event, Handled):
            return Outcome.IGNORED
        structlog.contextvars.bind_contextvars(assignment_id=event.assignment_id, agency=event.agency.code)

        async def work(session: Any) -> None:
            await self._repository.mark_processed(event.event_id, event.event_type, event.occurred_at, session)
            await self._apply(event, session)

        try:
            await in_transaction(self._client, work)
        except DuplicateKeyError:
            return Outcome.DUPLICATE
        return Outcome.PROCESSED

    async def _apply(self, event: Handled, session: Any) -> None:
        repo, rules = self._repository, self._rules
        if isinstance(event, AssignmentCreated):
            assignment = event.model_dump(mode="python")
            version = rules.calendar.version
            items = [
                (
                    domain.acknowledgement_id(event.assignment_id),
                    domain.acknowledgement_window(assignment, rules.ladder, version),
                )
            ]
            items += [
                (
                    domain.period_id(event.assignment_id, d["period"]),
                    domain.report_period(assignment, d, rules.ladder, version),
                )
                for d in assignment["deadlines"]
            ]
            for item_id, record in items:
                skipped, first = opening_state(record, event.occurred_at, rules.calendar, rules.window)
                await repo.open_item(item_id, record, domain.opened(skipped, first, event.occurred_at), session)
        elif isinstance(event, ReportSubmitted):
            # A report stops that period's ladder at once, late or not.
            await repo.close_period(
                domain.period_id(event.assignment_id, event.period),
                {"submitted_at": event.submitted_at, "late_by_seconds": event.late_by_seconds},
                session,
            )
        elif isinstance(event, AssignmentAcknowledged):
            await repo.acknowledge(domain.acknowledgement_id(event.assignment_id), event.occurred_at, session)
        elif isinstance(event, DeadlineExtended):
            await self._extend(event, session)
        elif isinstance(event, AssignmentRevised):
            await self._revise(event, session)
        elif not await repo.cancel_assignment(event.assignment_id, session):
            # Messages are processed concurrently: the cancellation overtook the assignment it cancels.
            # Retry (bounded by the delivery limit) rather than cancel nothing and open its periods later.
            raise TransientError("the assignment this cancellation refers to is not known yet")

    async def _extend(self, event: DeadlineExtended, session: Any) -> None:
        """A new deadline: the period's ladder starts again from it (a new revision, so notices about the
        old deadline do not count against the new one)."""
        item_id = domain.period_id(event.assignment_id, event.period)
        period = await self._repository.get(item_id, session)
        if period is None:
            # The new deadline overtook the assignment it moves: retry, bounded by the delivery limit.
            raise TransientError(f"deadline extended for period {item_id}, which is not known yet")
        changed = {**period, "due_at": event.due_at, "wording": event.wording or period.get("wording", "")}
        fields: dict[str, Any] = {
            "due_at": event.due_at,
            "wording": changed["wording"],
            "previous_due_at": period.get("due_at"),
            "extended_at": event.occurred_at,
        }
        if period.get("state") == domain.OPEN:
            skipped, first = opening_state(changed, event.occurred_at, self._rules.calendar, self._rules.window)
            fields |= {"rev": period.get("rev", 0) + 1, "done": skipped, "next_check_at": first}
        await self._repository.rebase(item_id, fields, session)

    async def _revise(self, event: AssignmentRevised, session: Any) -> None:
        """A corrected plan reworded the task: the e-mails still to come about its open items quote the new text."""
        if not await self._repository.revise_task(event.assignment_id, event.task, event.plan_version, session):
            # The revision overtook the assignment it rewords: retry, bounded by the delivery limit.
            raise TransientError("the assignment this revision rewords is not known yet")
