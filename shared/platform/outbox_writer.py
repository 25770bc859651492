"""The writing half of the transactional outbox: events become rows of the `outbox` collection inside the
transaction of the change that caused them. `shared/platform/outbox.py` is the other half, the relay that publishes
them afterwards. Only the unit of work (`shared/platform/unit_of_work.py`) calls this."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from shared.contracts.events import Event
from shared.domain.clock import Clock
from shared.platform import tracing
from shared.platform.mongo import insert_new

OUTBOX = "outbox"
PENDING = "pending"


# The trace each of some events belongs to when it is not the one current while they are written, by event id:
# a service's adapter that knows it (the notifier's repository: an escalation belongs to its plan's trace).
TraceOrigins = Callable[[Sequence[Event], AsyncClientSession | None], Awaitable[Mapping[str, Mapping[str, str]]]]


def outbox_rows(
    events: Iterable[Event], now: datetime, origins: Mapping[str, Mapping[str, str]] | None = None
) -> list[dict[str, Any]]:
    """The stored form of each event, pending until the relay has the broker's confirm; with the trace context of
    the change that caused it when tracing is on (shared/platform/tracing.py), which the relay publishes with it:
    the event's entry in `origins`, else the context the event carries (`tracing.pass_on`: a batch writes the
    events of many messages), else the current one."""
    origins = origins or {}
    return [
        tracing.stamped(
            {
                "_id": event.event_id,
                "event_type": event.event_type,
                "routing_key": event.routing_key(),
                "correlation_id": event.correlation_id,
                "body": event.model_dump_json(),
                "status": PENDING,
                "created_at": now,
                "attempts": 0,
            },
            origins.get(event.event_id),
            event,
        )
        for event in events
    ]


class OutboxWriter:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], clock: Clock, origins: TraceOrigins | None = None) -> None:
        self._rows = db[OUTBOX]
        self._clock = clock
        self._origins = origins

    async def add(self, events: Iterable[Event], session: AsyncClientSession | None) -> None:
        """Store events inside the caller's transaction (or alone, with None). With tracing on and `origins`
        given, the traces they name are looked up first, in the same session."""
        events = list(events)
        if not events:
            return
        origins = await self._origins(events, session) if self._origins is not None and tracing.enabled() else None
        await self._rows.insert_many(outbox_rows(events, self._clock.now(), origins), ordered=False, session=session)

    async def add_new(self, events: Iterable[Event]) -> None:
        """Store events outside a transaction, leaving a row already there (a redelivery's) as it is."""
        await insert_new(self._rows, outbox_rows(events, self._clock.now()))
