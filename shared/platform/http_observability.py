"""What every HTTP request leaves behind: its duration in a histogram by route template, method and status, one
access log line, and a request id (taken from `X-Request-ID` when it is safe, made otherwise) that is echoed in
the response and bound to every log line written while the request runs."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

import structlog
from opentelemetry.trace import Span
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.domain.wording import Wording
from shared.platform import tracing
from shared.platform.metrics import HTTP_REQUEST_SECONDS
from shared.platform.problems import answer_problem

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_KEY = REQUEST_ID_HEADER.lower().encode("ascii")
# Short and inert: it lands in log lines and response headers, so nothing that could break either.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# Label values come from a closed set: a client's invented method or a path that matches no route must not add
# series to the histogram.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"
_TRACE_HEADERS = (b"traceparent", b"tracestate")
# Probes and scrapes arrive every few seconds: their access lines are debug, unless they fail.
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})


def internal_error(request_id: str) -> Wording:
    """The detail of a 500: what happened and the id to quote."""
    return Wording(
        vi="Máy chủ gặp lỗi khi xử lý yêu cầu. Vui lòng thử lại; nếu lỗi còn, "
        f"báo cho quản trị viên mã yêu cầu {request_id}.",
        en=f"the server failed to handle the request; retry, and if it fails again give an operator the request id "
        f"{request_id}",
    )


log = structlog.get_logger()


def request_id_of(scope: Scope) -> str:
    """The caller's request id when it is short and safe, so one id follows a call across services; else a new one."""
    for name, value in scope.get("headers") or ():
        if name == _REQUEST_ID_KEY:
            candidate = bytes(value).decode("latin-1")
            if _SAFE_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def route_of(scope: Scope) -> str:
    """The route's template (`/plans/{plan_id}`), never the raw path: bounded, and free of ids and tokens."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


def server_span(scope: Scope) -> dict[str, Any]:
    """The request's span: a child of the caller's `traceparent` when it sent one. Named and labelled by the
    method alone until the route is known (`finish_span`): never the raw path, which may hold a link's secret."""
    method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
    parent = None
    if tracing.enabled():
        parent = {
            bytes(name).decode("latin-1"): bytes(value).decode("latin-1")
            for name, value in scope.get("headers") or ()
            if name in _TRACE_HEADERS
        }
    return {"name": method, "kind": tracing.SERVER, "parent": parent, "attributes": {"http.request.method": method}}


def finish_span(span: Span | None, scope: Scope, status: int, request_id: str) -> None:
    if span is None:
        return
    route = route_of(scope)
    method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
    span.update_name(f"{method} {route}")
    span.set_attributes({"http.route": route, "http.response.status_code": status, "dondoc.request_id": request_id})
    if status >= 500:
        tracing.fail(span, f"HTTP {status}")


class RequestObservability:
    """Pure ASGI middleware (no BaseHTTPMiddleware: that one runs the app in another task and costs more)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        echoed = (_REQUEST_ID_KEY, request_id.encode("ascii"))
        response = {"status": 500, "started": False}

        async def send_with_request_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                response.update(status=message["status"], started=True)
                message = {**message, "headers": [*message.get("headers", ()), echoed]}
            await send(message)

        started = time.perf_counter()
        with tracing.span(**server_span(scope)) as span, structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_request_id)
            except Exception:
                # Logged here, inside the request's context, so the traceback carries the request id the client
                # got back; re-raised only when an answer was already on its way (nothing else can be sent).
                log.exception("request failed", method=scope["method"], route=route_of(scope))
                if response["started"]:
                    raise
                answer = answer_problem(scope, 500, internal_error(request_id), request_id=request_id)
                await answer(scope, receive, send_with_request_id)
            finally:
                self._record(scope, int(response["status"]), time.perf_counter() - started)
                finish_span(span, scope, int(response["status"]), request_id)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
        route = route_of(scope)
        HTTP_REQUEST_SECONDS.labels(self.service, method, route, str(status)).observe(seconds)
        level = logging.INFO
        if status >= 500:
            level = logging.WARNING
        elif route in QUIET_ROUTES and status < 400:
            level = logging.DEBUG
        duration_ms = round(seconds * 1e3, 2)
        log.log(level, "http request", method=method, route=route, status=status, duration_ms=duration_ms)
