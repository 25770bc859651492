"""End to end: one trace from `POST /plans` to the e-mail. The three services run as separate processes with
`OTEL_EXPORTER_OTLP_ENDPOINT` pointing at a small OTLP/HTTP collector in this test (it decodes what they send with
opentelemetry-proto); one plan with a deadline seconds away ends in e-mails, and intake's request, tracking's
consumer and the notifier's SMTP send must share one trace id. No span attribute may hold the bearer token."""

from __future__ import annotations

import gzip
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from deploy.local.infra import Processes, free_port, http_ready, wait_until
from tests.conftest import random_ref

SERVICES = ("intake", "tracking", "notifier")
TOKEN = "e2e-trace-operator-token"
DEADLINE_SECONDS = 8


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    trace_id: str
    attributes: tuple[str, ...]  # every attribute's value, as text


class Collector(ThreadingHTTPServer):
    """OTLP/HTTP with protobuf bodies (what the exporter sends to `<endpoint>/v1/traces`)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", free_port()), _Receiver)
        self.spans: list[ReceivedSpan] = []
        self.lock = threading.Lock()

    def take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    values = tuple(str(a.value).strip() for a in span.attributes)
                    received = ReceivedSpan(resource.get("service.name", ""), span.name, span.trace_id.hex(), values)
                    with self.lock:
                        self.spans.append(received)

    def found(self, service: str, name: str) -> list[ReceivedSpan]:
        with self.lock:
            return [s for s in self.spans if s.service == service and s.name == name]


class _Receiver(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        status = 200 if self.path == "/v1/traces" else 404
        if status == 200:
            self.server.take(body)
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        pass


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def traced_stack(own_vhost: str, mongo_url: str, mail_folder, tmp_path: Path, collector: Collector):  # type: ignore[no-untyped-def]
    folder, smtp_port = mail_folder
    ports = {name: free_port() for name in SERVICES}
    env = {
        "AMQP_URL": own_vhost,
        "MONGO_URL": mongo_url,
        "LOG_FORMAT": "json",
        "NOTIFIER_SMTP_PORT": str(smtp_port),
        "TRACKING_OPERATOR_TOKEN": TOKEN,
        "NOTIFIER_SCAN_INTERVAL_SECONDS": "0.3",
        "NOTIFIER_SENDING_WINDOW": "always",
        "AUTH_URL": f"http://127.0.0.1:{ports['tracking']}",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.server_address[1]}",
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # milliseconds: spans reach the collector soon after they end
    }
    run = random_ref()
    for name, port in ports.items():
        env[f"{name.upper()}_HTTP_PORT"] = str(port)
        env[f"{name.upper()}_MONGO_DATABASE"] = f"dondoc_e2e_{name}_{run}"
    processes = Processes()
    for name in SERVICES:
        processes.start(name, [sys.executable, "-m", f"services.{name}"], tmp_path / f"{name}.log", env)
        wait_until(
            lambda name=name: (processes.check_alive(), http_ready(f"http://127.0.0.1:{ports[name]}/readyz"))[1],
            60,
            f"{name} ready (log {tmp_path / f'{name}.log'})",
        )
    yield {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}, folder
    processes.stop()


def test_one_trace_from_the_plans_request_to_the_e_mail(traced_stack, collector: Collector) -> None:  # type: ignore[no-untyped-def]
    urls, mail = traced_stack
    due = datetime.now(UTC) + timedelta(seconds=DEADLINE_SECONDS)
    plan = {
        "issuer": "Đảng ủy phường",
        "number": f"{random_ref('t')}-KH/ĐU",
        "title": "Kế hoạch tổng kết công tác dân vận năm 2026",
        "assignments": [{"agency": "UBMTTQ phường", "task": "Lấy ý kiến nhân dân."}],
        "deadlines": [{"period": "2026-DEMO", "due": due.isoformat(), "wording": "gửi trong vài giây"}],
    }
    headers = {"Authorization": f"Bearer {TOKEN}"}
    response = httpx.post(f"{urls['intake']}/plans", json=plan, headers=headers, timeout=30)
    assert response.status_code == 201, response.text
    wait_until(lambda: any(mail.glob("*.eml")), DEADLINE_SECONDS + 60, "the escalation e-mail")
    # Each service exports its spans on its own schedule: wait for every span the checks below read, not one.
    for service, span in (
        ("dondoc-notifier", "smtp send"),
        ("dondoc-tracking", "assignment.created process"),
        ("dondoc-notifier", "assignment.created process"),
        ("dondoc-intake", "assignment.created publish"),
    ):
        wait_until(lambda s=service, n=span: collector.found(s, n), 30, f"{service}'s {span} span")

    # One span for the request: ours, named by its route template (FastAPI's own, which records the raw path and
    # query, would be a second one).
    [request] = collector.found("dondoc-intake", "POST /plans")
    trace_id = request.trace_id
    consumed = [s.trace_id for s in collector.found("dondoc-tracking", "assignment.created process")]
    projected = [s.trace_id for s in collector.found("dondoc-notifier", "assignment.created process")]
    sent = [s.trace_id for s in collector.found("dondoc-notifier", "smtp send")]
    assert consumed == [trace_id], consumed
    assert projected == [trace_id], projected
    assert sent and set(sent) == {trace_id}, sent
    # Intake asked tracking whom the token belongs to (first use: not cached yet), within the request's trace.
    assert trace_id in [s.trace_id for s in collector.found("dondoc-tracking", "GET /tokens/me")]
    relayed = collector.found("dondoc-intake", "assignment.created publish")
    assert [s.trace_id for s in relayed] == [trace_id]
    # The scan's escalations (the assignment notice, the overdue notice) continue the plan's trace too, through the
    # notifier's outbox and into tracking's audit trail.
    wait_until(lambda: collector.found("dondoc-tracking", "escalation.sent process"), 30, "tracking's escalation span")
    escalated = collector.found("dondoc-notifier", "escalation.sent publish")
    recorded = collector.found("dondoc-tracking", "escalation.sent process")
    assert escalated and {s.trace_id for s in [*escalated, *recorded]} == {trace_id}, (escalated, recorded)
    leaked = [s for s in collector.spans if any(TOKEN in value for value in s.attributes)]
    assert not leaked, leaked
