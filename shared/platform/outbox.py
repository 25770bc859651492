"""Transactional outbox: events are written in the same transaction as the change that caused them,
and a relay publishes them with broker confirms afterwards. Nothing is published that was not
stored; nothing stored is left unpublished while the broker is reachable.

Several relays (replicas of a service) may run; one of them relays at a time. It holds a *leader lease*:
one document (`outbox_relay`) naming it, renewed on every pass. The others only check, once a pass,
whether the lease has run out, and the first to see it expired takes over. After their confirms, the relay
moves the rows out of the outbox: one `insert_many` of the batch into `outbox_published` (kept a week for
inspection), then one `delete_many` per chunk of ids. On the MongoDB-wire stand-in that is 0.28-0.31 ms a
row against 0.47-0.53 ms for an `update_many` marking them in place (docs/performance.md), and the outbox
holds only what is still to be sent. A leader that dies mid-batch leaves rows confirmed but not yet moved;
the next leader publishes them again, and so does a leader whose lease ran out while it was paused (two
leaders for a moment). Consumers are idempotent by `event_id`, so a second copy changes nothing.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import deque
from datetime import datetime, timedelta
from typing import Any

import structlog
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.domain.clock import Clock, as_utc
from shared.platform import tracing
from shared.platform.broker import EventPublisher, PublishError
from shared.platform.metrics import OUTBOX_OLDEST_AGE, OUTBOX_PENDING
from shared.platform.mongo import insert_new
from shared.platform.outbox_writer import OUTBOX, PENDING

log = structlog.get_logger()

PUBLISHED = "published"
LEADER = "relay"  # the `_id` of the one lease document in `outbox_relay`
BACKLOG_REPORT_SECONDS = 1.0
# A query costs the MongoDB-wire stand-in every row its index bounds match, whatever its `limit`: reading the
# oldest 1,000 of 50,000 pending rows took 1.3-1.9 s, counting them 1.4-2.0 s (docs/performance.md). So the
# leader reads the backlog's keys once (a *snapshot*, oldest first) and then each batch's rows by a narrow
# `created_at` range; what was added meanwhile is in the next snapshot, taken when this one is used up.
SNAPSHOT_KEYS = 50_000  # keys held at most (a few MB); a larger backlog is taken in several snapshots
COUNT_COST_SHARE = 0.05  # a count over a large backlog may take at most this share of the relay's time
ID_CHUNK = 25  # the stand-in compares every row with every id of an `$in`: keep the lists short
PUBLISHED_ROWS = "outbox_published"  # the rows already sent, kept a week
KEPT_FOR = 7 * 24 * 3600


def _chunks(ids: list[Any]) -> list[list[Any]]:
    return [ids[i : i + ID_CHUNK] for i in range(0, len(ids), ID_CHUNK)]


def publish_span(row: dict[str, Any]) -> dict[str, Any]:
    """The relay's span for one row: a producer span, child of the context stored with the row (the change that
    caused the event), whose own context goes out in the message's headers for the consumers to continue."""
    return {
        "name": f"{row['event_type']} publish",
        "kind": tracing.PRODUCER,
        "parent": row.get(tracing.TRACE_FIELD),
        "attributes": {
            "messaging.system": "rabbitmq",
            "messaging.operation.type": "send",
            "messaging.destination.name": row["routing_key"],
            "messaging.message.id": row["_id"],
            "messaging.message.conversation_id": row["correlation_id"],
        },
    }


async def publish_row(publisher: EventPublisher, row: dict[str, Any]) -> None:
    """Publish one outbox row (raises PublishError), with the trace context of its publish span in the headers."""
    with tracing.span(**publish_span(row)) as span:
        await publisher.publish_raw(
            routing_key=row["routing_key"],
            body=row["body"].encode(),
            event_id=row["_id"],
            event_type=row["event_type"],
            correlation_id=row["correlation_id"],
            headers=tracing.carrier() if span is not None else None,
        )


async def ensure_outbox_indexes(rows: AsyncCollection[dict[str, Any]]) -> None:
    await rows.create_index([("status", ASCENDING), ("created_at", ASCENDING)])
    # Rows marked published in place by versions before 2026-12 expire from the outbox itself.
    await rows.create_index("published_at", expireAfterSeconds=KEPT_FOR)
    await rows.database[PUBLISHED_ROWS].create_index("published_at", expireAfterSeconds=KEPT_FOR)


async def stored_rows(
    db: AsyncDatabase[dict[str, Any]], query: dict[str, Any], projection: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The outbox rows matching `query`, still pending or already published (for inspection and tests)."""
    pending = await db["outbox"].find(query, projection).to_list()
    published = await db[PUBLISHED_ROWS].find(query, projection).to_list()
    seen = {row["_id"] for row in published}  # a row moved twice is in both for a moment
    return published + [row for row in pending if row["_id"] not in seen]


class Outbox:
    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        publisher: EventPublisher,
        service: str,
        clock: Clock,
        poll_seconds: float = 0.5,
        batch_size: int = 1000,
        concurrency: int = 500,
        lease_seconds: float = 30.0,
    ) -> None:
        self._rows = db[OUTBOX]
        self._published = db[PUBLISHED_ROWS]
        self._leases = db["outbox_relay"]
        self._publisher = publisher
        self._service = service
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._concurrency = concurrency
        self._lease = timedelta(seconds=lease_seconds)
        self._holder = uuid.uuid4().hex  # this relay, for the leader lease
        self._wakeup = asyncio.Event()
        self._backlog_reported = float("-inf")
        self._count_seconds = 0.0  # what the last count of the backlog cost
        self._snapshot: deque[tuple[datetime, str]] = deque()  # (created_at, _id) of pending rows, oldest first
        self._beyond_snapshot = 0  # pending rows the last snapshot left out (it holds SNAPSHOT_KEYS at most)
        # Rows confirmed by the broker whose mark is still being written: the next batch is published meanwhile.
        self._marking: set[str] = set()
        self._marks: list[asyncio.Task[None]] = []

    async def ensure_indexes(self) -> None:
        await ensure_outbox_indexes(self._rows)

    def wake(self) -> None:
        self._wakeup.set()

    async def lead(self) -> bool:
        """Take or renew the leader lease; False while another relay holds a lease that has not run out."""
        now = self._clock.now()
        try:
            # Matches our own lease or an expired one. When neither matches, the upsert's insert collides with
            # the live lease's `_id`: someone else leads.
            await self._leases.update_one(
                {"_id": LEADER, "$or": [{"holder": self._holder}, {"until": {"$lt": now}}]},
                {"$set": {"holder": self._holder, "until": now + self._lease, "renewed_at": now}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return True

    async def resign(self) -> None:
        """Give the lease up (on a clean stop), so another replica takes over at once instead of after it."""
        await self._leases.update_one(
            {"_id": LEADER, "holder": self._holder}, {"$set": {"until": self._clock.now() - self._lease}}
        )

    async def pending(self) -> list[dict[str, Any]]:
        """The oldest rows not yet published (nor confirmed and being marked), at most one batch."""
        if not self._snapshot:
            await self._take_snapshot()
        keys: list[tuple[datetime, str]] = []
        while self._snapshot and len(keys) < self._batch_size:
            key = self._snapshot.popleft()
            if key[1] not in self._marking:
                keys.append(key)
        self._report_snapshot()
        if not keys:
            return []
        wanted = {row_id for _, row_id in keys}
        first, last = keys[0][0], keys[-1][0]
        # Rows of one transaction share their `created_at`: when many more rows than this batch sit in its
        # range, read the batch by id instead.
        sharing = sum(1 for created_at, _ in itertools.takewhile(lambda k: k[0] == last, self._snapshot))
        if sharing <= len(keys):
            found = await self._rows.find({"status": PENDING, "created_at": {"$gte": first, "$lte": last}}).to_list()
        else:
            found = [
                row
                for chunk in _chunks(sorted(wanted))
                for row in await self._rows.find({"_id": {"$in": chunk}, "status": PENDING}).to_list()
            ]
        order = {row_id: index for index, (_, row_id) in enumerate(keys)}
        return sorted((row for row in found if row["_id"] in wanted), key=lambda row: order[row["_id"]])

    async def _take_snapshot(self) -> None:
        """Read the keys of the oldest pending rows (one query: its cost is the backlog's size, once)."""
        keys = (
            await self._rows.find({"status": PENDING}, {"created_at": 1})
            .sort("created_at", ASCENDING)
            .limit(SNAPSHOT_KEYS)
            .to_list()
        )
        self._snapshot.extend((as_utc(k["created_at"]), k["_id"]) for k in keys)
        self._beyond_snapshot = 0
        if len(keys) == SNAPSHOT_KEYS:
            counted = await self._count_backlog()
            if counted is not None:
                self._beyond_snapshot = max(counted - len(keys), 0)

    def _report_snapshot(self) -> None:
        """The leader's gauges, from its snapshot: rows added since are counted from the next one."""
        OUTBOX_PENDING.labels(self._service).set(len(self._snapshot) + self._beyond_snapshot)
        oldest = self._snapshot[0][0] if self._snapshot else None
        age = (self._clock.now() - oldest).total_seconds() if oldest else 0.0
        OUTBOX_OLDEST_AGE.labels(self._service).set(max(age, 0.0))

    async def publish_pending(self) -> int:
        """As the leader, publish one batch; returns how many rows were published (0 when not the leader)."""
        if not await self.lead():
            self._snapshot.clear()  # the leader's now: what this relay read may be published already
            await self._report_backlog()
            await self._marks_written()
            return 0
        await self._marks_written(keep=1)  # one batch's mark may still be written while this one is published
        started = time.perf_counter()
        rows = await self.pending()
        if not rows:
            await self._marks_written()
            return 0
        read = time.perf_counter()
        limiter = asyncio.Semaphore(self._concurrency)

        async def publish(row: dict[str, Any]) -> dict[str, Any] | None:
            async with limiter:
                try:
                    await publish_row(self._publisher, row)
                except PublishError as exc:
                    log.error("outbox publish failed", outbox_id=row["_id"], error=str(exc))
                    await self._rows.update_one(
                        {"_id": row["_id"], "status": PENDING},
                        {"$inc": {"attempts": 1}, "$set": {"last_error": str(exc)}},
                    )
                    return None
                return row

        published = [row for row in await asyncio.gather(*(publish(r) for r in rows)) if row]
        log.info(
            "outbox batch published",
            published=len(published),
            failed=len(rows) - len(published),
            read_seconds=round(read - started, 3),
            publish_seconds=round(time.perf_counter() - read, 3),
        )
        self._mark_in_background(published)
        return len(published)

    def _mark_in_background(self, rows: list[dict[str, Any]]) -> None:
        """Move confirmed rows out of the outbox while the next batch is read and published. Those rows are left
        out of the next reads until they are moved; if that fails they are read again and published twice,
        which consumers recognise by `event_id`."""
        if not rows:
            return
        ids = [row["_id"] for row in rows]
        self._marking.update(ids)
        task = asyncio.create_task(self._mark_published(rows))

        def done(finished: asyncio.Task[None]) -> None:
            self._marking.difference_update(ids)
            if not finished.cancelled() and finished.exception() is not None:
                log.error(
                    "outbox rows published but not moved out; they will be published again",
                    rows=len(ids),
                    error=repr(finished.exception()),
                )

        task.add_done_callback(done)
        self._marks.append(task)

    async def _marks_written(self, keep: int = 0) -> None:
        """Wait until at most `keep` marks are still being written."""
        while len(self._marks) > keep:
            await asyncio.wait([self._marks.pop(0)])

    async def _mark_published(self, rows: list[dict[str, Any]]) -> None:
        """After their confirms: copy the rows to `outbox_published`, then delete them from the outbox. In that
        order, a failure in between leaves a row in both, which is published again (and its copy kept)."""
        published_at = self._clock.now()
        # A row published twice keeps its first copy.
        await insert_new(self._published, [{**row, "status": PUBLISHED, "published_at": published_at} for row in rows])
        for chunk in _chunks([row["_id"] for row in rows]):
            await self._rows.delete_many({"_id": {"$in": chunk}})

    async def _count_backlog(self) -> int | None:
        """Count pending rows, unless the last count was too recent for its cost (None then): once a second at
        most, and less often when counting is slow (a count walks every pending row)."""
        moment = time.monotonic()
        if moment - self._backlog_reported < max(BACKLOG_REPORT_SECONDS, self._count_seconds / COUNT_COST_SHARE):
            return None
        self._backlog_reported = moment
        counted = await self._rows.count_documents({"status": PENDING})
        self._count_seconds = time.monotonic() - moment
        return counted

    async def _report_backlog(self) -> None:
        """A relay that does not lead still reports the backlog (if the leader is gone, its gauges are too)."""
        pending = await self._count_backlog()
        if pending is None:
            return
        OUTBOX_PENDING.labels(self._service).set(pending)
        oldest = None
        if pending:
            oldest = await self._rows.find_one({"status": PENDING}, {"created_at": 1}, sort=[("created_at", ASCENDING)])
        age = (self._clock.now() - as_utc(oldest["created_at"])).total_seconds() if oldest else 0.0
        OUTBOX_OLDEST_AGE.labels(self._service).set(max(age, 0.0))

    async def run(self) -> None:
        """Relay loop: publish what is pending, then wait for a wake-up or the poll interval."""
        failures = 0
        try:
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
        finally:
            try:
                await asyncio.wait_for(self._marks_written(), timeout=5.0)
            except Exception:  # noqa: BLE001 - unmarked rows are published again by the next relay
                log.warning("outbox relay stopped before its last marks were written", exc_info=True)
            try:
                await asyncio.wait_for(self.resign(), timeout=2.0)
            except Exception:  # noqa: BLE001 - best effort: otherwise the lease simply runs out
                log.warning("outbox relay could not give up its lease", exc_info=True)
