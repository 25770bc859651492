"""Every HTTP request: its X-Request-ID (the caller's when short and safe, a new one otherwise) is echoed and bound
to the log lines written while it runs; one access log line says method, route template, status and duration;
the duration histogram is labelled by route template, never by the raw path."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI
from prometheus_client import REGISTRY

from shared.platform.http import add_operational_routes
from shared.platform.logs import configure_logging


@pytest.fixture
def logging_restored() -> Iterator[None]:
    saved = structlog.get_config()
    root = logging.getLogger()
    saved_root = (list(root.handlers), root.level)
    yield
    structlog.configure(**saved)
    structlog.contextvars.clear_contextvars()
    root.handlers[:], root.level = saved_root


pytestmark = pytest.mark.usefixtures("logging_restored")


def app() -> FastAPI:
    application = FastAPI(title="dondoc unittest")
    add_operational_routes(application, {})
    log = structlog.get_logger()

    @application.get("/plans/{plan_id}")
    async def plan(plan_id: str) -> dict[str, str]:
        log.info("plan read", plan_id=plan_id)
        return {"plan_id": plan_id}

    @application.get("/broken")
    async def broken() -> None:
        raise RuntimeError("a bug")

    return application


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]


def observed(route: str, status: str, method: str = "GET") -> float:
    labels = {"service": "unittest", "method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("dondoc_http_request_duration_seconds_count", labels) or 0.0


async def get(path: str, headers: Any = None, method: str = "GET") -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://t") as client:
        return await client.request(method, path, headers=headers)


async def test_the_callers_request_id_is_echoed_and_on_every_line_of_the_request(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("unittest", "json")
    before = observed("/plans/{plan_id}", "200")
    response = await get("/plans/kh-85", {"X-Request-ID": "req-2026.12:abc_1"})
    assert response.status_code == 200 and response.headers["X-Request-ID"] == "req-2026.12:abc_1"
    inside, access = lines(capsys)
    assert inside["event"] == "plan read" and inside["request_id"] == "req-2026.12:abc_1"
    assert access["event"] == "http request" and access["request_id"] == "req-2026.12:abc_1"
    assert (access["method"], access["route"], access["status"]) == ("GET", "/plans/{plan_id}", 200)
    assert access["duration_ms"] >= 0 and access["level"] == "info" and access["service"] == "unittest"
    assert observed("/plans/{plan_id}", "200") == before + 1  # the template, not /plans/kh-85
    assert "request_id" not in structlog.contextvars.get_contextvars()  # unbound after the request


@pytest.mark.parametrize("offered", [None, "x" * 65, "a b", "<script>", "id\u00e9".encode("latin-1"), "a\nb", ""])
async def test_a_missing_or_unsafe_request_id_is_replaced(
    capsys: pytest.CaptureFixture[str], offered: str | bytes | None
) -> None:
    configure_logging("unittest", "json")
    headers: Any = None if offered is None else {"X-Request-ID": offered}
    response = await get("/plans/kh-85", headers)
    made = response.headers["X-Request-ID"]
    assert made != offered and len(made) == 32 and all(c in "0123456789abcdef" for c in made)
    assert {line["request_id"] for line in lines(capsys)} == {made}


async def test_unmatched_paths_and_invented_methods_add_no_label_values(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("unittest", "json")
    before_unmatched, before_other = observed("unmatched", "404"), observed("/plans/{plan_id}", "405", "other")
    assert (await get("/no/such/path/4711")).status_code == 404
    assert (await get("/plans/kh-85", method="BREW")).status_code == 405
    assert observed("unmatched", "404") == before_unmatched + 1
    assert observed("/plans/{plan_id}", "405", "other") == before_other + 1
    assert [line["route"] for line in lines(capsys)] == ["unmatched", "/plans/{plan_id}"]


async def test_an_unhandled_error_is_one_traceback_with_the_request_id_and_a_500(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("unittest", "json")
    response = await get("/broken", {"X-Request-ID": "bug-1"})
    assert response.status_code == 500 and response.headers["X-Request-ID"] == "bug-1"
    assert "bug-1" in response.json()["detail"]
    failed, access = lines(capsys)
    assert failed["event"] == "request failed" and failed["request_id"] == "bug-1"
    assert "RuntimeError: a bug" in failed["exception"]
    assert (access["status"], access["level"], access["request_id"]) == (500, "warning", "bug-1")


async def test_probes_and_scrapes_leave_no_access_line_at_info(capsys: pytest.CaptureFixture[str]) -> None:
    """Kubernetes probes and Prometheus scrapes come every few seconds: their lines are debug, unless they fail."""
    configure_logging("unittest", "json", "info")
    assert (await get("/healthz")).status_code == 200
    assert (await get("/metrics")).status_code == 200
    assert (await get("/plans/p1")).status_code == 200
    assert [line["route"] for line in lines(capsys) if line["event"] == "http request"] == ["/plans/{plan_id}"]
