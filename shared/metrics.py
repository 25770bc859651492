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
HTTP_REQUESTS = Counter(
    "dondoc_http_requests_total",
    "HTTP requests answered, by service, method and status class.",
    ["service", "method", "status"],
)
HANDLER_SECONDS = Histogram(
    "dondoc_handler_seconds", "Time to process one message, write included.", ["service", "event_type"]
)


def render_latest() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
