"""Transactional outbox: events are written in the same transaction as the change that caused them,
and a relay publishes them with broker confirms afterwards. Nothing is published that was not
stored; nothing stored is left unpublished while the broker is reachable.

Several relays (replicas of a service) may run: each claims a batch with a lease before publishing.
A relay that dies mid-batch leaves its claim to expire; another relay then publishes those rows
again. That can publish a row twice (after its confirm, before it was marked) — consumers are
idempotent by `event_id`, so a second copy changes nothing.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import structlog
from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from shared.broker import EventPublisher, PublishError
from shared.clock import Clock, as_utc
from shared.contracts import Event
from shared.metrics import OUTBOX_OLDEST_AGE, OUTBOX_PENDING

log = structlog.get_logger()

PENDING = "pending"
PUBLISHED = "published"
BACKLOG_REPORT_SECONDS = 1.0
ID_CHUNK = 100  # the stand-in compares every row with every id of an `$in`: keep the lists short


def _chunks(ids: list[Any]) -> list[list[Any]]:
    return [ids[i:i + ID_CHUNK] for i in range(0, len(ids), ID_CHUNK)]


class Outbox:
    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        publisher: EventPublisher,
        service: str,
        clock: Clock,
        poll_seconds: float = 0.5,
        batch_size: int = 1000,
        concurrency: int = 64,
        lease_seconds: float = 30.0,
    ) -> None:
        self._rows = db["outbox"]
        self._publisher = publisher
        self._service = service
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._concurrency = concurrency
        self._lease = timedelta(seconds=lease_seconds)
        self._wakeup = asyncio.Event()
        self._backlog_reported = float("-inf")

    async def ensure_indexes(self) -> None:
        await self._rows.create_index([("status", ASCENDING), ("created_at", ASCENDING)])
        # Published rows are kept a week for inspection, then expire.
        await self._rows.create_index("published_at", expireAfterSeconds=7 * 24 * 3600)

    async def add(self, events: Iterable[Event], session: AsyncClientSession | None) -> None:
        """Store events inside the caller's transaction (or alone, with None); call `wake()` after it commits."""
        now = self._clock.now()
        rows = [
            {
                "_id": event.event_id,
                "event_type": event.event_type,
                "routing_key": event.routing_key(),
                "correlation_id": event.correlation_id,
                "body": event.model_dump_json(),
                "status": PENDING,
                "created_at": now,
                "attempts": 0,
                "lease_until": None,
            }
            for event in events
        ]
        if rows:
            await self._rows.insert_many(rows, ordered=False, session=session)

    def wake(self) -> None:
        self._wakeup.set()

    async def claim(self) -> list[dict[str, Any]]:
        """Take a lease on the oldest unclaimed (or abandoned) pending rows; return the rows we hold."""
        now = self._clock.now()
        claimable = {"status": PENDING, "$or": [{"lease_until": None}, {"lease_until": {"$lt": now}}]}
        candidates = await self._rows.find(claimable).sort("created_at", ASCENDING).limit(self._batch_size).to_list()
        if not candidates:
            return []
        token = uuid.uuid4().hex
        until = now + self._lease
        lease = {"$set": {"lease_until": until, "claimed_by": token}}
        # Each row is claimed only if it is still claimable (another relay may have taken it since the read). The
        # filters are `_id` lookups plus equality, in chunks: a top-level `$or`, or one long `$in`, made the
        # MongoDB-wire stand-in scan or compare far more than the batch (docs/performance.md, row 1).
        unleased = [c["_id"] for c in candidates if c.get("lease_until") is None]
        expired = [c["_id"] for c in candidates if c.get("lease_until") is not None]
        claimed = 0
        for ids in _chunks(unleased):
            result = await self._rows.update_many({"_id": {"$in": ids}, "status": PENDING, "lease_until": None}, lease)
            claimed += result.modified_count
        for ids in _chunks(expired):
            result = await self._rows.update_many(
                {"_id": {"$in": ids}, "status": PENDING, "lease_until": {"$lt": now}}, lease
            )
            claimed += result.modified_count
        if claimed == len(candidates):  # every row is ours (the usual case): no need to read them again
            for row in candidates:
                row.update(lease_until=until, claimed_by=token)
            return candidates
        rows: list[dict[str, Any]] = []
        for ids in _chunks([c["_id"] for c in candidates]):
            rows += await self._rows.find({"_id": {"$in": ids}, "claimed_by": token, "status": PENDING}).to_list()
        return sorted(rows, key=lambda row: row["created_at"])

    async def publish_pending(self) -> int:
        """Publish one claimed batch; returns how many rows were published."""
        rows = await self.claim()
        await self._report_backlog()
        if not rows:
            return 0
        limiter = asyncio.Semaphore(self._concurrency)

        async def publish(row: dict[str, Any]) -> str | None:
            async with limiter:
                try:
                    await self._publisher.publish_raw(
                        routing_key=row["routing_key"],
                        body=row["body"].encode(),
                        event_id=row["_id"],
                        event_type=row["event_type"],
                        correlation_id=row["correlation_id"],
                    )
                except PublishError as exc:
                    log.error("outbox publish failed", outbox_id=row["_id"], error=str(exc))
                    await self._rows.update_one(
                        {"_id": row["_id"], "claimed_by": row["claimed_by"]},
                        {"$inc": {"attempts": 1}, "$set": {"last_error": str(exc), "lease_until": None}},
                    )
                    return None
                return str(row["_id"])

        published = [row_id for row_id in await asyncio.gather(*(publish(r) for r in rows)) if row_id]
        published_at = self._clock.now()
        for ids in _chunks(published):
            await self._rows.update_many(
                {"_id": {"$in": ids}},
                {"$set": {"status": PUBLISHED, "published_at": published_at, "lease_until": None}},
            )
        return len(published)

    async def _report_backlog(self) -> None:
        # A gauge for scrapes: once a second is enough, and counting pending rows on every pass of a busy relay
        # cost the database as much as the relaying (a count walks every pending index entry).
        moment = time.monotonic()
        if moment - self._backlog_reported < BACKLOG_REPORT_SECONDS:
            return
        self._backlog_reported = moment
        pending = await self._rows.count_documents({"status": PENDING})
        OUTBOX_PENDING.labels(self._service).set(pending)
        oldest = await self._rows.find_one({"status": PENDING}, {"created_at": 1}, sort=[("created_at", ASCENDING)])
        age = (self._clock.now() - as_utc(oldest["created_at"])).total_seconds() if oldest else 0.0
        OUTBOX_OLDEST_AGE.labels(self._service).set(max(age, 0.0))

    async def run(self) -> None:
        """Relay loop: publish what is pending, then wait for a wake-up or the poll interval."""
        failures = 0
        while True:
            try:
                published = await self.publish_pending()
                failures = 0
            except Exception:  # noqa: BLE001 - the relay must outlive a database or broker outage
                failures += 1
                log.exception("outbox relay pass failed", consecutive_failures=failures)
                await asyncio.sleep(min(30.0, self._poll_seconds * 2**failures))
                continue
            if published == self._batch_size:
                continue  # more is waiting
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=self._poll_seconds)
            except TimeoutError:
                pass


