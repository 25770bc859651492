"""The writing half of the transactional outbox: events become rows of the `outbox` collection inside the
transaction of the change that caused them. `shared/platform/outbox.py` is the other half, the relay that publishes
them afterwards. Only the unit of work (`shared/platform/unit_of_work.py`) calls this."""

from __future__ import annotations

from collections.abc import Iterable
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


def outbox_rows(events: Iterable[Event], now: datetime) -> list[dict[str, Any]]:
    """The stored form of each event, pending until the relay has the broker's confirm; with the trace context of
    the change that caused it when tracing is on (shared/platform/tracing.py), which the relay publishes with it."""
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
            }
        )
        for event in events
    ]


class OutboxWriter:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], clock: Clock) -> None:
        self._rows = db[OUTBOX]
        self._clock = clock

    async def add(self, events: Iterable[Event], session: AsyncClientSession | None) -> None:
        """Store events inside the caller's transaction (or alone, with None)."""
        rows = outbox_rows(events, self._clock.now())
        if rows:
            await self._rows.insert_many(rows, ordered=False, session=session)

    async def add_new(self, events: Iterable[Event]) -> None:
        """Store events outside a transaction, leaving a row already there (a redelivery's) as it is."""
        await insert_new(self._rows, outbox_rows(events, self._clock.now()))
