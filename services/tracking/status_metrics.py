"""Business metrics from tracking's records: how many reporting periods are in each of the four
states, by agency kind. The states depend on the clock (open turns overdue by itself), so the gauge
is recomputed on a timer by streaming the assignments' periods, never by loading a collection."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime
from typing import Any

import structlog
from prometheus_client import Gauge, Histogram

from services.tracking.domain import FOUR_STATES, period_status
from services.tracking.repository import TrackingRepository
from shared.clock import Clock, as_utc

log = structlog.get_logger()

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
    async for assignment in repository.assignments.find({"state": {"$ne": "cancelled"}}, projection):
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
        try:
            await refresh(repository, clock)
        except Exception:  # noqa: BLE001 - metrics must not stop the service
            log.warning("status metrics pass failed", exc_info=True)
        await asyncio.sleep(interval_seconds)


def observe_acknowledgement(assignment: dict[str, Any], acknowledged_at: datetime) -> None:
    created = assignment.get("created_at")
    if created is not None:
        ACKNOWLEDGEMENT_SECONDS.labels(assignment["agency"]["kind"]).observe(
            max(0.0, (acknowledged_at - as_utc(created)).total_seconds())
        )
