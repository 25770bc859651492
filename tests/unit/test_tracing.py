"""One trace from a change to its consumers (shared/platform/tracing.py), with the SDK's in-memory exporter: the
outbox row stores the context of the change, the relay publishes it in the message's headers, the consumer (and
a batch handler) continue it; an HTTP request continues its caller's `traceparent`; an e-mail's SMTP send
continues the trace its row carries. With tracing off nothing is stored or sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from faststream.rabbit import TestRabbitBroker
from faststream.rabbit.message import RabbitMessage
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from deploy.local.infra import free_port
from services.notifier.config import Settings as NotifierSettings
from services.notifier.mailer import SendFailed, SmtpTransport
from shared.contracts.events import AgencyRef, PlanRegistered
from shared.contracts.topology import ServiceQueue
from shared.platform import tracing
from shared.platform.broker import make_broker
from shared.platform.consumer import subscribe
from shared.platform.deliveries import Message, Outcome
from shared.platform.http import add_operational_routes
from shared.platform.outbox import publish_row
from shared.platform.outbox_writer import outbox_rows
from tests.conftest import random_ref

# TestRabbitBroker delivers a message published to a queue's name with that name as its routing key.
QUEUE = ServiceQueue("plan.registered.tracing", bindings=())


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    yield exporter
    tracing.use(None)


def plan_event(number: str = "1-KH/ĐU") -> PlanRegistered:
    plan_id = random_ref("plan")
    issuer = AgencyRef(code="dang-uy", kind="office", name="Đảng ủy phường")
    return PlanRegistered(
        correlation_id=plan_id, plan_id=plan_id, number=number, title="Thử", issuer=issuer, assignment_count=0
    )


@dataclass
class Publisher:
    """Records what the relay hands the broker."""

    published: list[dict[str, Any]] = field(default_factory=list)

    async def publish_raw(self, **kwargs: Any) -> None:
        self.published.append(kwargs)


@dataclass
class Handlers:
    """The consumer's handler and batch handler: each records the trace context current while it ran."""

    seen: dict[str, trace.SpanContext] = field(default_factory=dict)

    async def handle(self, message: Message) -> Outcome:
        self.seen[message.number] = trace.get_current_span().get_span_context()  # type: ignore[union-attr]
        return Outcome.PROCESSED

    def accepts(self, message: Message) -> bool:
        return message.number.startswith("bulk")  # type: ignore[union-attr]

    async def __call__(self, messages: list[Message]) -> list[Outcome | Exception]:
        for message in messages:
            with tracing.resumed(message):
                self.seen[message.number] = trace.get_current_span().get_span_context()  # type: ignore[union-attr]
        return [Outcome.PROCESSED for _ in messages]


@pytest.fixture
async def consumer(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[TestRabbitBroker, Handlers]]:
    async def settled(self: RabbitMessage, **_: Any) -> None:
        return None

    monkeypatch.setattr(RabbitMessage, "ack", settled)
    monkeypatch.setattr(RabbitMessage, "reject", settled)
    handlers = Handlers()
    broker = make_broker("amqp://guest:guest@127.0.0.1:5672/", "test")
    subscribe(
        broker,
        QUEUE,
        "test",
        handlers.handle,
        Publisher(),
        description="tracing",
        batch_handler=handlers,  # type: ignore[arg-type]
    )
    async with TestRabbitBroker(broker) as test_broker:
        yield test_broker, handlers


async def relayed(number: str) -> tuple[dict[str, Any], dict[str, Any], int]:
    """A change in a request's span stores its event; the relay publishes the row. Returns the row, what the
    relay published, and the request's trace id."""
    with tracing.span("POST /plans", kind=tracing.SERVER) as request:
        [row] = outbox_rows([plan_event(number)], datetime.now(UTC))
    publisher = Publisher()
    await publish_row(publisher, row)  # type: ignore[arg-type]  # only publish_raw is used
    trace_id = request.get_span_context().trace_id if request is not None else 0
    return row, publisher.published[0], trace_id


def by_name(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    found = [s for s in exporter.get_finished_spans() if s.name == name]
    assert len(found) == 1, [s.name for s in exporter.get_finished_spans()]
    return found[0]


async def test_the_row_keeps_the_changes_trace_and_the_relay_publishes_it_in_the_headers(spans) -> None:  # type: ignore[no-untyped-def]
    row, published, trace_id = await relayed("1-KH/ĐU")
    assert row[tracing.TRACE_FIELD]["traceparent"].split("-")[1] == f"{trace_id:032x}"
    relay = by_name(spans, "plan.registered publish")
    assert relay.kind == trace.SpanKind.PRODUCER
    assert relay.context.trace_id == trace_id
    assert relay.parent is not None and relay.parent.span_id == by_name(spans, "POST /plans").context.span_id
    # The message carries the relay's span, not the request's: the consumer's span is the relay's child.
    assert published["headers"]["traceparent"].split("-")[2] == f"{relay.context.span_id:016x}"


async def test_the_consumer_continues_the_trace_from_the_message_headers(spans, consumer) -> None:  # type: ignore[no-untyped-def]
    broker, handlers = consumer
    _, published, trace_id = await relayed("2-KH/ĐU")
    await broker.publish(published["body"], queue=QUEUE.name, headers=published["headers"])
    processing = by_name(spans, "plan.registered process")
    assert processing.kind == trace.SpanKind.CONSUMER
    assert processing.context.trace_id == trace_id
    assert processing.parent is not None
    assert processing.parent.span_id == by_name(spans, "plan.registered publish").context.span_id
    assert handlers.seen["2-KH/ĐU"].span_id == processing.context.span_id


async def test_each_message_of_a_batch_keeps_its_own_trace(spans, consumer) -> None:  # type: ignore[no-untyped-def]
    broker, handlers = consumer
    sent = {number: await relayed(number) for number in ("bulk-1", "bulk-2")}
    # Together, so they are one batch, written in the context of the first message's delivery.
    await asyncio.gather(
        *(broker.publish(p["body"], queue=QUEUE.name, headers=p["headers"]) for _, p, _ in sent.values())
    )
    assert {number: handlers.seen[number].trace_id for number in sent} == {n: t for n, (_, _, t) in sent.items()}
    assert len({trace_id for _, _, trace_id in sent.values()}) == 2


async def test_a_message_without_a_trace_starts_one(spans, consumer) -> None:  # type: ignore[no-untyped-def]
    broker, handlers = consumer
    await broker.publish(plan_event("3-KH/ĐU").model_dump_json().encode(), queue=QUEUE.name)
    processing = by_name(spans, "plan.registered process")
    assert processing.parent is None and handlers.seen["3-KH/ĐU"].trace_id == processing.context.trace_id


async def test_with_tracing_off_nothing_is_stored_or_sent(consumer) -> None:  # type: ignore[no-untyped-def]
    broker, handlers = consumer
    assert not tracing.enabled()
    row, published, _ = await relayed("4-KH/ĐU")
    assert tracing.TRACE_FIELD not in row
    assert published["headers"] is None
    await broker.publish(published["body"], queue=QUEUE.name)
    assert not handlers.seen["4-KH/ĐU"].is_valid


async def test_an_http_request_continues_its_callers_trace_under_its_route_template(spans) -> None:  # type: ignore[no-untyped-def]
    app = FastAPI(title="dondoc unittest")
    add_operational_routes(app, {})

    @app.get("/links/{secret}")
    async def link(secret: str) -> dict[str, str]:
        return {"ok": "yes"}

    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/links/s3cr3t-link-token?session=abc", headers={"traceparent": caller})
    assert response.status_code == 200
    request = by_name(spans, "GET /links/{secret}")
    assert request.kind == trace.SpanKind.SERVER
    assert request.context.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert request.parent is not None and request.parent.span_id == 0xB7AD6B7169203331
    assert request.attributes is not None and request.attributes["http.response.status_code"] == 200
    assert request.attributes["dondoc.request_id"] == response.headers["X-Request-ID"]
    values = " ".join(str(v) for v in request.attributes.values())
    assert "s3cr3t" not in values and "session" not in values


async def test_the_smtp_send_continues_the_trace_its_e_mail_row_carries(spans) -> None:  # type: ignore[no-untyped-def]
    """Against a port where nothing listens: the send fails, its span says so, under the plan's trace."""
    with tracing.span("assignment.created process") as projection:
        row_trace = tracing.carrier()
    message = EmailMessage()
    message["To"] = "ubnd@hoa-an.example"
    tracing.carry(message, row_trace)
    settings = NotifierSettings(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_timeout_seconds=2)
    with pytest.raises(SendFailed):
        await SmtpTransport(settings).send(message)
    send = by_name(spans, "smtp send")
    assert projection is not None and send.context.trace_id == projection.get_span_context().trace_id
    assert send.kind == trace.SpanKind.CLIENT and send.status.status_code == trace.StatusCode.ERROR


def test_a_log_line_written_inside_a_span_names_its_trace(spans) -> None:  # type: ignore[no-untyped-def]
    with tracing.span("assignment.created process") as current:
        line = tracing.add_trace_ids(None, "info", {"event": "message processed"})
    assert current is not None
    assert line["trace_id"] == f"{current.get_span_context().trace_id:032x}"
    assert "trace_id" not in tracing.add_trace_ids(None, "info", {"event": "outside any span"})
    tracing.use(None)
    with tracing.span("off"):
        assert "trace_id" not in tracing.add_trace_ids(None, "info", {"event": "tracing off"})


@pytest.mark.parametrize(
    ("variables", "exporter"),
    [
        ({}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, "otlp"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "console"}, "console"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_EXPORTER": "none"}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}, None),
    ],
)
def test_tracing_is_on_only_when_the_standard_variables_ask_for_it(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], exporter: str | None
) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_EXPORTER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert tracing.TracingSettings().chosen_exporter() == exporter
    try:
        assert tracing.configure("intake") is (exporter is not None)
        assert tracing.enabled() is (exporter is not None)
    finally:
        tracing.use(None)
