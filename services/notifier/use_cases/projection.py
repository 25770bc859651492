"""Project an event onto the notifier's periods: an assignment opens its reporting periods and its
acknowledgement window (each with the ladder it opened with and its first check), an acknowledgement or a report
closes one, a cancellation closes them all, a new deadline re-bases a period, a corrected plan rewords its task.

`PROJECTIONS` maps each event type to its handler; the consumer and the bulk path dispatch through it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from services.notifier import domain
from services.notifier.rules.decisions import Rules, opening_state
from services.notifier.use_cases.errors import AlreadyProcessed, NotKnownYet
from services.notifier.use_cases.ports import Projection, Session
from shared.contracts.events import (
    AssignmentAcknowledged,
    AssignmentCancelled,
    AssignmentCreated,
    AssignmentRevised,
    DeadlineExtended,
    Event,
    ReportSubmitted,
)
from shared.platform.unit_of_work import Transaction, UnitOfWork

Projected = (
    AssignmentCreated
    | AssignmentAcknowledged
    | ReportSubmitted
    | AssignmentCancelled
    | DeadlineExtended
    | AssignmentRevised
)


async def _created(event: AssignmentCreated, store: Projection, rules: Rules, session: Session) -> None:
    assignment = event.model_dump(mode="python")
    version = rules.calendar.version
    items = [
        (
            domain.acknowledgement_id(event.assignment_id),
            domain.acknowledgement_window(assignment, rules.ladder, version),
        )
    ]
    items += [
        (domain.period_id(event.assignment_id, d["period"]), domain.report_period(assignment, d, rules.ladder, version))
        for d in assignment["deadlines"]
    ]
    for item_id, record in items:
        skipped, first = opening_state(record, event.occurred_at, rules.calendar, rules.window)
        await store.open_item(item_id, record, domain.opened(skipped, first, event.occurred_at), session)


async def _reported(event: ReportSubmitted, store: Projection, rules: Rules, session: Session) -> None:
    # A report stops that period's ladder at once, late or not.
    await store.close_period(
        domain.period_id(event.assignment_id, event.period),
        {"submitted_at": event.submitted_at, "late_by_seconds": event.late_by_seconds},
        session,
    )


async def _acknowledged(event: AssignmentAcknowledged, store: Projection, rules: Rules, session: Session) -> None:
    await store.acknowledge(domain.acknowledgement_id(event.assignment_id), event.occurred_at, session)


async def _cancelled(event: AssignmentCancelled, store: Projection, rules: Rules, session: Session) -> None:
    if not await store.cancel_assignment(event.assignment_id, session):
        # Retry (bounded by the delivery limit) rather than cancel nothing and open its periods later.
        raise NotKnownYet("the assignment this cancellation refers to is not known yet")


async def _extended(event: DeadlineExtended, store: Projection, rules: Rules, session: Session) -> None:
    """A new deadline (an approved extension, or a corrected plan that moves it): the period's ladder starts
    again from it (a new revision, so notices about the old deadline do not count against the new one), and the
    acknowledgement window's list of deadlines shows it, so an assignment notice still queued says it."""
    item_id = domain.period_id(event.assignment_id, event.period)
    period = await store.get(item_id, session)
    if period is None:
        raise NotKnownYet(f"deadline extended for period {item_id}, which is not known yet")
    wording = event.wording or period.get("wording", "")
    fields: dict[str, Any] = {
        "due_at": event.due_at,
        "wording": wording,
        "previous_due_at": period.get("due_at"),
        "extended_at": event.occurred_at,
    }
    if period.get("state") == domain.OPEN:
        changed = {**period, "due_at": event.due_at, "wording": wording}
        skipped, first = opening_state(changed, event.occurred_at, rules.calendar, rules.window)
        fields |= {"rev": period.get("rev", 0) + 1, "done": skipped, "next_check_at": first}
    await store.rebase(item_id, fields, session)
    window_id = domain.acknowledgement_id(event.assignment_id)
    window = await store.get(window_id, session)
    listed = None
    if window is not None:
        listed = domain.listed_deadline_moved(
            window.get("deadlines") or [], event.period, event.due_at, event.wording, event.previous_due_at
        )
    if listed is not None:
        await store.amend(window_id, {"deadlines": listed}, session)


async def _revised(event: AssignmentRevised, store: Projection, rules: Rules, session: Session) -> None:
    """A corrected plan reworded the task or what to deliver: the e-mails still to come about its open items say
    the new text."""
    if not await store.revise(event.assignment_id, event.revised_fields(), event.plan_version, session):
        raise NotKnownYet("the assignment this revision rewords is not known yet")


Handler = Callable[[Any, Projection, Rules, Session], Awaitable[None]]

PROJECTIONS: dict[type[Event], Handler] = {
    AssignmentCreated: _created,
    AssignmentAcknowledged: _acknowledged,
    ReportSubmitted: _reported,
    AssignmentCancelled: _cancelled,
    DeadlineExtended: _extended,
    AssignmentRevised: _revised,
}


async def apply(event: Event, store: Projection, rules: Rules, session: Session) -> None:
    """The projection's writes for one event, in `session` (no processed-event record)."""
    await PROJECTIONS[type(event)](event, store, rules, session)


async def project(event: Event, uow: UnitOfWork, store: Projection, rules: Rules) -> bool:
    """Record the event as processed and project it, in one transaction. False: it was projected before."""

    async def work(tx: Transaction) -> None:
        await store.mark_processed(event.event_id, event.event_type, event.occurred_at, tx.session)
        await apply(event, store, rules, tx.session)

    try:
        await uow.run(work)
    except AlreadyProcessed:
        return False
    return True
