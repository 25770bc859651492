"""The personal links of one e-mail, asked of tracking one by one (`POST /links` each, as the notifier did) and in one
call (`POST /links/batch`, as it does now): a supervisor's digest of 14 late bodies carries 14 view links.

    .venv/bin/python benchmarks/link_batch.py                     # 14 links, 30 e-mails each way
    .venv/bin/python benchmarks/link_batch.py --links 40 --repetitions 50

Tracking runs as its own process (as in production) on SecantusDB (the MongoDB-wire stand-in; MONGO_URL if given),
with a RabbitMQ vhost of its own; the links are asked through the notifier's own adapter
(services/notifier/links.py `TrackingLinks`: one client, its connection kept alive). The two ways alternate, after
a warm-up, so that a slower moment of the shared machine falls on both; the ratio in one run is the figure to
read, not the milliseconds.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import stack  # noqa: E402
from deploy.local.infra import Processes, start_mongo_stand_in  # noqa: E402
from services.notifier.links import TrackingLinks  # noqa: E402
from services.notifier.rules.links import IssuedLink, LinkRequest  # noqa: E402

WARM_UP = 3


def digest(links: int) -> list[LinkRequest]:
    """A supervisor's digest: one view link per late body."""
    return [LinkRequest(stack.ISSUER, "view", stack.cell_code(i), f"Chi bộ {i}") for i in range(1, links + 1)]


async def one_by_one(links: TrackingLinks, requests: list[LinkRequest]) -> float:
    started = time.perf_counter()
    for request in requests:
        await links.issue(request)
    return time.perf_counter() - started


async def batched(links: TrackingLinks, requests: list[LinkRequest]) -> float:
    started = time.perf_counter()
    answers = await links.issue_all(requests)
    elapsed = time.perf_counter() - started
    if not all(isinstance(answer, IssuedLink) and answer.personal for answer in answers):
        raise RuntimeError("tracking refused a link of the batch")
    return elapsed


async def measure(tracking_url: str, count: int, repetitions: int) -> dict[str, list[float]]:
    links = TrackingLinks(tracking_url, stack.OPERATOR_TOKEN, "http://127.0.0.1:8004")
    requests = digest(count)
    times: dict[str, list[float]] = {"one by one": [], "batched": []}
    try:
        for round_ in range(WARM_UP + repetitions):
            pair = [("one by one", one_by_one), ("batched", batched)]
            for name, way in pair if round_ % 2 == 0 else reversed(pair):
                elapsed = await way(links, requests)
                if round_ >= WARM_UP:
                    times[name].append(elapsed)
    finally:
        await links.aclose()
    return times


def report(times: dict[str, list[float]], count: int) -> None:
    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    for name, values in times.items():
        ordered = sorted(value * 1000 for value in values)
        p90 = ordered[int(0.9 * (len(ordered) - 1))]
        print(f"{name:>11}: {count} links, median {medians[name]:.1f} ms, p90 {p90:.1f} ms ({len(values)} e-mails)")
    print(f"ratio batched / one by one (medians): {medians['batched'] / medians['one by one']:.2f}")


def main(args: argparse.Namespace) -> None:
    processes = Processes()
    folder = Path(tempfile.mkdtemp(prefix="dondoc-bench-links-"))
    vhost = stack.Vhost().create()
    mongo_url = os.environ.get("MONGO_URL") or start_mongo_stand_in(processes, folder / "data", folder / "mongo.log")
    services = stack.Services(folder, vhost.url, mongo_url, uuid.uuid4().hex[:8])
    try:
        services.start("tracking")
        report(asyncio.run(measure(services.url("tracking"), args.links, args.repetitions)), args.links)
    finally:
        services.stop()
        processes.stop()
        vhost.delete()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--links", type=int, default=14, help="links in the e-mail (late bodies of the digest)")
    parser.add_argument("--repetitions", type=int, default=30, help="e-mails timed each way")
    main(parser.parse_args())
