"""What tracing costs in process, off and on (docs/performance.md, *Tracing overhead*).

    .venv/bin/python benchmarks/tracing_overhead.py            # 3,000 requests and 20,000 events per mode
    .venv/bin/python benchmarks/tracing_overhead.py --quick    # a tenth of that

Two paths, each timed with tracing off (no OTEL_* variables: the default) and on (an SDK tracer provider with
the batch processor the services use, its exporter dropping what it gets, so the figure is the process's own
cost and not the collector's):

- one HTTP request through a service's middleware (`add_operational_routes`: request id, metrics, access log,
  and the server span) to a route that does nothing, over httpx's in-process ASGI transport;
- one event's trip through the platform: its outbox row written in a change's span (`outbox_rows`), the relay's
  publish span and headers (`publish_row`, to a publisher that keeps nothing), and the consumer's side (the
  context read back from the headers, a span around the handler).

Prints the median CPU time of nine rounds per mode (the two modes' rounds alternate) in microseconds per request or
event, and the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import structlog  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult  # noqa: E402

from shared.contracts.events import AgencyRef, PlanRegistered  # noqa: E402
from shared.platform import tracing  # noqa: E402
from shared.platform.http import add_operational_routes  # noqa: E402
from shared.platform.outbox import publish_row  # noqa: E402
from shared.platform.outbox_writer import outbox_rows  # noqa: E402

ROUNDS = 9


class Dropped(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class Kept:
    async def publish_raw(self, **kwargs: Any) -> None:
        return None


def event() -> PlanRegistered:
    issuer = AgencyRef(code="dang-uy", kind="office", name="Đảng ủy phường")
    return PlanRegistered(
        correlation_id="p-1", plan_id="p-1", number="1-KH/ĐU", title="Thử", issuer=issuer, assignment_count=4
    )


async def requests(count: int) -> None:
    app = FastAPI(title="dondoc bench")
    add_operational_routes(app, {})

    @app.get("/plans/{plan_id}")
    async def nothing(plan_id: str) -> dict[str, str]:
        return {"plan_id": plan_id}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        for number in range(count):
            await client.get(f"/plans/{number}")


async def events(count: int) -> None:
    publisher, sample = Kept(), event()
    for _ in range(count):
        with tracing.span("change"):
            [row] = outbox_rows([sample], datetime.now(UTC))
        await publish_row(publisher, row)  # type: ignore[arg-type]  # only publish_raw is used
        with tracing.span("process", kind=tracing.CONSUMER, parent=row.get(tracing.TRACE_FIELD)):
            pass


def once(path: Callable[[int], Awaitable[None]], count: int) -> float:
    """CPU microseconds per item (this process's, the exporting thread's included): what the other engineers' jobs
    on a shared machine do to the wall clock is left out."""
    started = time.process_time()
    asyncio.run(path(count))
    return (time.process_time() - started) / count * 1e6


def compared(path: Callable[[int], Awaitable[None]], count: int, provider: TracerProvider) -> tuple[float, float]:
    """Median microseconds per item, off and on. The rounds alternate (off, on, off, on, ...): on a shared machine
    the load changes from one second to the next, and both modes should see the same."""
    rounds: dict[bool, list[float]] = {False: [], True: []}
    for number in range(ROUNDS + 1):
        for on in (False, True):
            tracing.use(provider if on else None)
            took = once(path, count)
            if number:  # the first round warms up
                rounds[on].append(took)
    tracing.use(None)
    return statistics.median(rounds[False]), statistics.median(rounds[True])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    quick = parser.parse_args().quick
    # The access log line is the same in both modes, and not what is measured.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    paths = {"HTTP request": (requests, 300 if quick else 3_000), "event": (events, 2_000 if quick else 20_000)}
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Dropped()))
    for name, (path, count) in paths.items():
        off, on = compared(path, count, provider)
        print(f"{name:13} off {off:8.1f} µs   on {on:8.1f} µs   tracing adds {on - off:6.1f} µs ({on / off - 1:+.0%})")
    provider.shutdown()


if __name__ == "__main__":
    main()
