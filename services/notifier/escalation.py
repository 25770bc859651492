"""The scan loop: runs the scan use case (services/notifier/use_cases/scan.py) every interval, as long as whole
batches come back, and reports it in metrics."""

from __future__ import annotations

import asyncio
import time

import structlog
from prometheus_client import Counter, Gauge, Histogram

from services.notifier.use_cases.scan import EscalationScan

log = structlog.get_logger()

NOTICES = Counter(
    "dondoc_notices_total", "Ladder notices, by step and result (queued, suppressed).", ["step", "result"]
)
SCAN_SECONDS = Histogram("dondoc_notifier_scan_seconds", "Duration of one due-period scan.")
LAST_SCAN = Gauge("dondoc_notifier_last_scan_timestamp_seconds", "When the last scan finished successfully.")


async def scan_once(scan: EscalationScan) -> int:
    """One batch; returns how many periods were claimed."""
    taken = await scan.once()
    for step in taken.queued:
        NOTICES.labels(step, "queued").inc()
    for step in taken.muted:
        NOTICES.labels(step, "suppressed").inc()
    return taken.claimed


async def run_scans(scan: EscalationScan, interval_seconds: float) -> None:
    while True:
        started = time.perf_counter()
        try:
            while await scan_once(scan) == scan.limits.batch_size:
                pass
            LAST_SCAN.set(time.time())
        except Exception:  # noqa: BLE001 - the next scan retries; nothing was half-written
            log.exception("escalation scan failed")
        SCAN_SECONDS.observe(time.perf_counter() - started)
        await asyncio.sleep(interval_seconds)
