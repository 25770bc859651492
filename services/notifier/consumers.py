"""Notifier's subscriber: translates each message into its use case and the use case's answer into the
consumer's outcome. Which event goes where is one registry (`handlers`), not a chain of type tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from services.notifier.directory_copy import DirectoryFollower
from services.notifier.use_cases.bundle import NotifierUseCases
from services.notifier.use_cases.projection import PROJECTIONS, Projected
from shared.contracts.events import DirectoryUpdated, Event, LinkRequested
from shared.platform.deliveries import Outcome


class PeriodProjector:
    """An assignment, acknowledgement, report, cancellation, extension or revision event → the projection."""

    def __init__(self, use_cases: NotifierUseCases) -> None:
        self._use_cases = use_cases

    async def __call__(self, event: Event) -> Outcome:
        if not isinstance(event, Projected):
            return Outcome.IGNORED
        structlog.contextvars.bind_contextvars(assignment_id=event.assignment_id, agency=event.agency.code)
        return Outcome.PROCESSED if await self._use_cases.project(event) else Outcome.DUPLICATE


class NewLinkSender:
    """`link.requested` → the new-link e-mail to the body's registered addresses."""

    def __init__(self, use_cases: NotifierUseCases) -> None:
        self._use_cases = use_cases

    async def __call__(self, event: LinkRequested) -> Outcome:
        structlog.contextvars.bind_contextvars(agency=event.agency)
        return Outcome.PROCESSED if await self._use_cases.send_new_link(event) else Outcome.DUPLICATE


def handlers(
    projector: PeriodProjector, follow_directory: DirectoryFollower, new_link: NewLinkSender | None = None
) -> dict[type[Any], Callable[[Any], Awaitable[Outcome]]]:
    """Every event type this service acts on, with its handler; the rest are acknowledged as ignored."""
    registry: dict[type[Any], Callable[[Any], Awaitable[Outcome]]] = {
        DirectoryUpdated: follow_directory,
        **{event_type: projector for event_type in PROJECTIONS},
    }
    if new_link is not None:
        registry[LinkRequested] = new_link
    return registry


def dispatch(registry: dict[type[Any], Callable[[Any], Awaitable[Outcome]]]) -> Callable[[Any], Awaitable[Outcome]]:
    """The queue's one handler: each message to the handler of its type; a type not in the registry is ignored
    (acknowledged, nothing written)."""

    async def handle(message: Any) -> Outcome:
        handler = registry.get(type(message))
        return Outcome.IGNORED if handler is None else await handler(message)

    return handle
