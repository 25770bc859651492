"""OpenTelemetry traces: the one place that sets tracing up and the helpers the platform's plumbing uses to
carry one trace from an HTTP request through the outbox, the broker and the consumers to the e-mail it causes.

Off by default. It is on when the standard variables ask for it: `OTEL_EXPORTER_OTLP_ENDPOINT` (or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) sends spans over OTLP/HTTP, `OTEL_TRACES_EXPORTER=console` prints them;
`OTEL_TRACES_EXPORTER=none` or `OTEL_SDK_DISABLED=true` keep it off. While off, every helper returns at its first
line: no span objects, no context copies, no `trace` field in stored rows, no headers.

The context travels as W3C Trace Context (`traceparent`, `tracestate`) and nothing else (no baggage): in HTTP
requests' headers, in the `trace` field of an outbox row (written with the change), in the
AMQP headers the relay publishes with, and in the notifier's period and e-mail rows. Span attributes are route
templates, routing keys, event types and ids: never a raw path, a query, a header, a token or a link secret.
What a trace holds, how to see one, and what it costs: docs/tracing.md.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Final

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The field of a stored row (outbox, the notifier's periods and e-mails) holding the context it was written in.
TRACE_FIELD: Final = "trace"
_PROPAGATOR = TraceContextTextMapPropagator()
_WANTED = frozenset(_PROPAGATOR.fields)  # traceparent, tracestate
SERVER, CLIENT, PRODUCER, CONSUMER = SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER
_state: dict[str, trace.Tracer | None] = {"tracer": None}
_carried: dict[int, Context] = {}
_OFF: AbstractContextManager[None] = nullcontext()


def _env(*names: str, default: object = None) -> Any:
    return Field(default=default, validation_alias=AliasChoices(*names))


class TracingSettings(BaseSettings):
    """The standard OpenTelemetry variables this system reads (no service prefix: they are the SDK's)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    disabled: bool = _env("OTEL_SDK_DISABLED", default=False)
    exporter: str = _env("OTEL_TRACES_EXPORTER", default="otlp")
    endpoint: str | None = _env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
    service_name: str | None = _env("OTEL_SERVICE_NAME")

    def chosen_exporter(self) -> str | None:
        """`otlp`, `console`, or None when tracing stays off."""
        kind = self.exporter.strip().lower()
        if self.disabled or kind == "none":
            return None
        if kind == "console":
            return "console"
        return "otlp" if self.endpoint else None


def _exporter(kind: str) -> SpanExporter:
    if kind == "console":
        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()  # the endpoint, headers, timeout and TLS from the standard OTEL_EXPORTER_OTLP_* variables


def configure(service: str, settings: TracingSettings | None = None) -> bool:
    """Set tracing up for the process of `service` (service.name `dondoc-<service>` unless OTEL_SERVICE_NAME says
    otherwise); True when it is on. Called once, at the process's start (`run_service`)."""
    settings = settings or TracingSettings()
    kind = settings.chosen_exporter()
    if kind is None:
        use(None)
        return False
    resource = Resource.create({"service.name": settings.service_name or f"dondoc-{service}"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(_exporter(kind)))
    # Not made the global provider: FastAPI's own telemetry starts as soon as there is one, and it records the raw
    # path and query (a link's secret is in its path). Our HTTP span is `http_observability.RequestObservability`'s.
    use(provider)
    return True


def use(provider: trace.TracerProvider | None) -> None:
    """Trace with `provider` from now on (None: off). `configure` calls it; tests give an in-memory one."""
    _state["tracer"] = provider.get_tracer("dondoc") if provider is not None else None
    _carried.clear()


def enabled() -> bool:
    return _state["tracer"] is not None


def carrier() -> dict[str, str]:
    """The current trace context as W3C headers (empty when off or outside any span)."""
    if _state["tracer"] is None:
        return {}
    headers: dict[str, str] = {}
    _PROPAGATOR.inject(headers)
    return headers


def context_of(headers: Mapping[str, Any] | None) -> Context | None:
    """The context `headers` carry (traceparent, tracestate; whatever else is there is ignored)."""
    if not headers:
        return None
    wanted = {name: str(value) for name, value in headers.items() if name in _WANTED and value is not None}
    return _PROPAGATOR.extract(wanted) if wanted else None


def span(
    name: str,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: Mapping[str, Any] | Context | None = None,
    attributes: Mapping[str, str | int] | None = None,
) -> AbstractContextManager[Span | None]:
    """A span, current while the block runs, child of `parent` (headers or a context; the current span without).
    An exception leaving the block marks it failed. Yields None when tracing is off (one shared no-op block)."""
    tracer = _state["tracer"]
    if tracer is None:
        return _OFF
    context = parent if isinstance(parent, Context) or parent is None else context_of(parent)
    return tracer.start_as_current_span(name, context=context, kind=kind, attributes=attributes)


def fail(current: Span | None, reason: str) -> None:
    """Mark a span failed with a short reason (for outcomes that are not exceptions: a dead letter, a 5xx)."""
    if current is not None:
        current.set_status(Status(StatusCode.ERROR, reason[:200]))


def carry(thing: object, parent: Mapping[str, Any] | Context | None = None) -> None:
    """Let `thing` (a message, an e-mail) take a trace context along where no context variable follows it: into a
    batch written for many messages, into the transport that sends a built e-mail. Without `parent`, the current
    context. Kept until `thing` is gone."""
    if _state["tracer"] is None:
        return
    if parent is None:
        context: Context | None = otel_context.get_current()
    else:
        context = parent if isinstance(parent, Context) else context_of(parent)
    if context is None:
        return
    key = id(thing)
    _carried[key] = context
    weakref.finalize(thing, _carried.pop, key, None)


def carried(thing: object) -> Context | None:
    """The context `carry` gave `thing`, if any."""
    return _carried.get(id(thing)) if _state["tracer"] is not None else None


@contextmanager
def resumed(thing: object) -> Iterator[None]:
    """Make the context carried by `thing` the current one while the block runs (nothing changes without one)."""
    context = carried(thing)
    if context is None:
        yield
        return
    token = otel_context.attach(context)
    try:
        yield
    finally:
        otel_context.detach(token)


def stamped(row: dict[str, Any]) -> dict[str, Any]:
    """`row` with the current trace context in its `trace` field (the row itself when there is none)."""
    headers = carrier()
    return {**row, TRACE_FIELD: headers} if headers else row


def add_trace_ids(_: object, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: a log line written inside a span names its `trace_id` (what to search for in the trace
    backend) and `span_id`. Nothing is added while tracing is off."""
    if _state["tracer"] is None:
        return event
    current = trace.get_current_span().get_span_context()
    if current.is_valid:
        event.setdefault("trace_id", f"{current.trace_id:032x}")
        event.setdefault("span_id", f"{current.span_id:016x}")
    return event
