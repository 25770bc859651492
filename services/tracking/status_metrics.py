"""Business metrics from tracking's records: how many reporting periods are in each of the four
states, by agency kind. The states depend on the clock (open turns overdue by itself), so the gauge
is recomputed on a timer by streaming the assignments' periods, never by loading a collection."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import Gauge, Histogram

from services.tracking.domain import FOUR_STATES, period_status
from shared.domain.clock import Clock, as_utc

if TYPE_CHECKING:  # the repository's use cases import this module's gauges: a runtime import would be a cycle
    from services.tracking.repository import TrackingRepository

log = structlog.get_logger()

STREAM_BATCH = 1_000  # assignments decoded at a time
MAX_TIME_SHARE = 0.05  # of the service's (and the database's) time spent recomputing the gauge

PERIODS_BY_STATE = Gauge(
    "dondoc_reporting_periods", "Reporting periods by the four states, by agency kind.", ["agency_kind", "state"]
)
ACKNOWLEDGEMENT_SECONDS = Histogram(
    "dondoc_acknowledgement_latency_seconds",
    "Time from an assignment's creation to its acknowledgement, by agency kind.",
    ["agency_kind"],
    buckets=(60, 600, 3600, 4 * 3600, 86_400, 2 * 86_400, 4 * 86_400, 7 * 86_400, 30 * 86_400),
)


async def refresh(repository: TrackingRepository, clock: Clock) -> Counter[tuple[str, str]]:
    now = clock.now()
    counts: Counter[tuple[str, str]] = Counter()
    projection = {"agency.kind": 1, "state": 1, "periods": 1}
    # In batches of a bounded size: left to the server, a batch fills up to 16 MB of BSON, which decoded was
    # ~170 MB of dicts at 100,000 assignments (the benchmark's tracking peaked at 296 MB).
    cursor = repository.assignments.find({"state": {"$ne": "cancelled"}}, projection, batch_size=STREAM_BATCH)
    async for assignment in cursor:
        kind = assignment["agency"]["kind"]
        for period in assignment["periods"].values():
            counts[(kind, period_status(period, now))] += 1
    kinds = {kind for kind, _ in counts}
    for kind in kinds:
        for state in FOUR_STATES:
            PERIODS_BY_STATE.labels(kind, state).set(counts.get((kind, state), 0))
    return counts


async def run(repository: TrackingRepository, clock: Clock, interval_seconds: float) -> None:
    while True:
        started = time.monotonic()
        try:
            await refresh(repository, clock)
        except Exception:  # noqa: BLE001 - metrics must not stop the service
            log.warning("status metrics pass failed", exc_info=True)
        await asyncio.sleep(next_pass_after(interval_seconds, time.monotonic() - started))


def next_pass_after(interval_seconds: float, pass_seconds: float) -> float:
    """The pass reads every assignment: at most a twentieth of the time goes to it, whatever the interval."""
    return max(interval_seconds, pass_seconds * (1 / MAX_TIME_SHARE - 1))


def observe_acknowledgement(assignment: Mapping[str, Any], acknowledged_at: datetime) -> None:
    """Called by the use case and the bulk path that acknowledge, never by a decision (which stays pure)."""
    created = assignment.get("created_at")
    if created is not None:
        ACKNOWLEDGEMENT_SECONDS.labels(assignment["agency"]["kind"]).observe(
            max(0.0, (acknowledged_at - as_utc(created)).total_seconds())
        )
