"""The notifier's scan on the real database with tracing on (the SDK's in-memory exporter): the `escalation.sent`
events it writes to the outbox carry the trace of their plan (the one the period row keeps from the event that
opened it), as the e-mails do, instead of starting traces of their own (docs/tracing.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.domain.clock import FakeClock
from shared.platform import tracing
from shared.platform.mongo import make_client
from tests.integration.notifier_harness import created, drop, notifier
from tests.integration.test_notifier_smtp import DUE, START


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    yield exporter
    tracing.use(None)


def trace_id(headers: dict[str, str]) -> int:
    return int(headers["traceparent"].split("-")[1], 16)


async def test_each_escalation_of_a_scan_is_written_in_its_own_plan_s_trace(
    spans: InMemorySpanExporter, mongo_url: str, database_name: str
) -> None:
    clock = FakeClock(START)
    async with notifier(mongo_url, database_name, clock) as n:
        plans = {}
        for cell in ("chi-bo-khu-1", "chi-bo-khu-2"):
            event = created(cell, DUE, START)
            with tracing.span("assignment.created process", kind=tracing.CONSUMER) as opening:
                await n.projector(event)
            assert opening is not None
            plans[event.assignment_id] = opening.get_span_context().trace_id
        clock.set(DUE + timedelta(hours=1))
        await n.scan_all()  # outside any span, as the scan task runs
        reader = make_client(mongo_url)
        rows = await reader[database_name]["outbox"].find({"event_type": "escalation.sent"}).to_list()
        await reader.close()
        assert len(rows) >= 4  # per assignment: its notice, then its overdue steps
        for row in rows:
            assignment_id = json.loads(row["body"])["assignment_id"]
            assert trace_id(row[tracing.TRACE_FIELD]) == plans[assignment_id], row["_id"]
        emails = await n.repository.emails.find().to_list()
        assert {trace_id(e[tracing.TRACE_FIELD]) for e in emails} == set(plans.values())
    await drop(mongo_url, database_name)
