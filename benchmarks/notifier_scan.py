"""The notifier's due-scan time with many open periods of which few are due (target: the time with
1,000,000 open periods is under 1.5 × the time with 10,000).

    .venv/bin/python benchmarks/notifier_scan.py                      # 10,000 then 1,000,000 open periods
    .venv/bin/python benchmarks/notifier_scan.py --sizes 10000 100000 # quicker

Each size is reached by adding periods to the same collection (not due: their next check is weeks ahead),
with 100 due ones among them. The scan is what a notifier replica runs: the due query on
(state, next_check_at), then the claim of what it found. Uses MONGO_URL if given, otherwise starts
SecantusDB (the MongoDB-wire stand-in); it inserts about 8,000 documents a second, so 1,000,000 takes
about two minutes to load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deploy.local.infra import Processes, start_mongo_stand_in  # noqa: E402
from services.notifier.repository import NotifierRepository  # noqa: E402
from shared.platform.mongo import make_client  # noqa: E402

DUE = 100
CHUNK = 10_000


def period(index: int, now: datetime, due: bool) -> dict[str, object]:
    return {
        "_id": f"bench-{index}",
        "track": "report",
        "state": "open",
        "assignment_id": f"a{index}",
        "plan_id": f"p{index % 500}",
        "agency": {"code": f"chi-bo-{index % 60}", "kind": "party_cell", "name": "x"},
        "period": "2026-FY",
        "due_at": now + timedelta(days=30),
        "rev": 0,
        "done": [],
        # Not due: weeks ahead, spread so the index has a realistic shape. Due: a moment ago.
        "next_check_at": now - timedelta(seconds=index % 60 + 1) if due else now + timedelta(days=7, seconds=index),
    }


async def fill(repository: NotifierRepository, start: int, stop: int, now: datetime) -> None:
    for first in range(start, stop, CHUNK):
        rows = [period(i, now, due=False) for i in range(first, min(stop, first + CHUNK))]
        await repository.periods.insert_many(rows, ordered=False)


async def scan_time(repository: NotifierRepository, now: datetime, runs: int = 15) -> float:
    """Median seconds of one due scan (query + claim), the claims released between runs."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        token, claimed = await repository.claim_due(now, 1_000, timedelta(seconds=60))
        timings.append(time.perf_counter() - started)
        if len(claimed) != DUE:
            raise RuntimeError(f"expected {DUE} due periods, claimed {len(claimed)}")
        await repository.periods.update_many(
            {"_id": {"$in": [p["_id"] for p in claimed]}},
            {"$set": {"next_check_at": now - timedelta(seconds=1), "claimed_by": None}},
        )
    return statistics.median(timings)


async def main(sizes: list[int], mongo_url: str) -> None:
    client = make_client(mongo_url)
    database = f"bench_notifier_{uuid.uuid4().hex[:8]}"
    repository = NotifierRepository(client[database])
    await repository.ensure_indexes()
    now = datetime.now(UTC)
    try:
        await repository.periods.insert_many([period(-i - 1, now, due=True) for i in range(DUE)])
        loaded, results = 0, []
        for size in sorted(sizes):
            started = time.perf_counter()
            await fill(repository, loaded, size - DUE, now)
            loaded = size - DUE
            count = await repository.periods.count_documents({})
            took = await scan_time(repository, now)
            results.append((count, took))
            sys.stdout.write(
                f"{count:>10,} open periods, {DUE} due: scan {took * 1000:8.2f} ms "
                f"(loaded in {time.perf_counter() - started:.0f} s)\n"
            )
            sys.stdout.flush()
        if len(results) > 1:
            ratio = results[-1][1] / results[0][1]
            verdict = "within" if ratio < 1.5 else "OVER"
            sys.stdout.write(f"ratio {results[-1][0]:,} / {results[0][0]:,}: {ratio:.2f} ({verdict} the 1.5 target)\n")
    finally:
        await client.drop_database(database)
        await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000], help="open periods in total")
    args = parser.parse_args()
    processes = Processes()
    url = os.environ.get("MONGO_URL")
    try:
        if not url:
            folder = Path(tempfile.mkdtemp(prefix="bench-secantus-"))
            url = start_mongo_stand_in(processes, folder / "data", folder / "secantusdb.log")
        asyncio.run(main(args.sizes, url))
    finally:
        processes.stop()
