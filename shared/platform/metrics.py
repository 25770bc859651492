"""Prometheus metrics every service shares. Label sets stay bounded: no per-assignment labels."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

MESSAGES_CONSUMED = Counter(
    "dondoc_messages_consumed_total",
    "Messages taken from a service queue, by outcome (processed, duplicate, dead_lettered, retried).",
    ["service", "event_type", "outcome"],
)
MESSAGES_PUBLISHED = Counter(
    "dondoc_messages_published_total", "Events published with a broker confirm.", ["service", "event_type"]
)
PUBLISH_FAILURES = Counter(
    "dondoc_publish_failures_total", "Publishes that were not confirmed or were returned.", ["service"]
)
OUTBOX_PENDING = Gauge("dondoc_outbox_pending", "Outbox rows not yet published.", ["service"])
OUTBOX_OLDEST_AGE = Gauge("dondoc_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row.", ["service"])
HTTP_REQUEST_SECONDS = Histogram(
    "dondoc_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template (never the raw path), method and status code.",
    ["service", "method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HANDLER_SECONDS = Histogram(
    "dondoc_handler_seconds", "Time to process one message, write included.", ["service", "event_type"]
)


def render_latest() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
