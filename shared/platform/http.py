"""HTTP pieces every service has: /healthz, /readyz, /metrics, 503 during a database outage, the error answers
that keep input from turning into a 5xx or a reflected megabyte (with the body checks of
shared/platform/request_body.py;
threat model in docs/security.md), and a uvicorn runner that times out slow clients."""

from __future__ import annotations

import asyncio
import math
import re
import reprlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Annotated, Any

import h11
import structlog
import uvicorn
from fastapi import FastAPI, Path, Request, Response
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.protocols.http.h11_impl import H11Protocol

from shared.platform import tracing
from shared.platform.http_observability import RequestObservability, route_of
from shared.platform.logs import configure_logging
from shared.platform.metrics import render_latest
from shared.platform.mongo import TRANSIENT_ERRORS
from shared.platform.request_body import MAX_ECHOED, RequestBodyGuard, clip
from shared.platform.settings import HTTP_BODY_TIMEOUT_SECONDS, ServiceSettings

ReadinessCheck = Callable[[], Awaitable[bool]]

DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024
DATABASE_RETRY_AFTER_SECONDS = 5
MAX_MESSAGE = 300  # characters of one validation message
MAX_DETAIL = 1000  # characters of any one string in an error's detail
MAX_ERRORS = 50  # validation errors listed in one answer; the rest are counted

log = structlog.get_logger()

# Every path parameter that names something dondoc issued: letters, digits, "-" and "_", nothing a query could read
# as an operator or a path.
Identifier = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="an identifier issued by dondoc")]


# --- error answers: never a 5xx for input, never a large input echoed -------------------------------------------

_SHORT = reprlib.Repr()  # its keyword arguments are Python 3.12's
_SHORT.maxlevel, _SHORT.maxdict, _SHORT.maxlist, _SHORT.maxtuple, _SHORT.maxset = 2, 4, 4, 4, 4
_SHORT.maxstring, _SHORT.maxlong, _SHORT.maxother = 40, 40, 40


def small(value: Any, limit: int = MAX_ECHOED) -> Any:
    """`value` as an error answer may quote it: short scalars as they are, strings clipped, anything else (a
    sub-document, a list, an exception) as a short description."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        text = repr(value)
        return value if len(text) <= limit and math.isfinite(value) else clip(text, limit)
    if isinstance(value, str):
        return clip(value, limit)
    if isinstance(value, BaseException):
        return clip(str(value), limit)
    return clip(_SHORT.repr(value), limit)


def _small_error(error: Mapping[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "type": small(error.get("type", "value_error")),
        "loc": [small(part) for part in error.get("loc", ())],
        "msg": small(error.get("msg", ""), MAX_MESSAGE),
    }
    if "input" in error:
        answer["input"] = small(error["input"])
    if error.get("ctx"):
        answer["ctx"] = {str(key): small(value) for key, value in error["ctx"].items()}
    return answer


async def validation_failed(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, naming each field and its problem, but quoting at most MAX_ECHOED characters of what was
    sent (FastAPI's own answer quotes the whole input: 8 MB sent, 8 MB reflected) and nothing unencodable."""
    errors: Sequence[Mapping[str, Any]] = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [_small_error(error) for error in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        more = len(errors) - MAX_ERRORS
        detail.append({"type": "too_many_errors", "loc": ["body"], "msg": f"… và {more} lỗi khác"})
    return JSONResponse({"detail": detail}, status_code=422)


def _clean(detail: Any) -> Any:
    if isinstance(detail, str):
        return clip(detail, MAX_DETAIL)
    if isinstance(detail, Mapping):
        return {_clean(key): _clean(value) for key, value in detail.items()}
    if isinstance(detail, list | tuple):
        return [_clean(item) for item in detail]
    return detail


async def http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's answer to an HTTPException, with every string of the detail clipped and made encodable: a
    route's message may quote what it was sent (an unknown agency's name, a lone surrogate in it)."""
    if not isinstance(exc, StarletteHTTPException):
        raise exc
    cleaned = StarletteHTTPException(exc.status_code, _clean(exc.detail), getattr(exc, "headers", None))
    return await http_exception_handler(request, cleaned)


async def unprocessable_text(request: Request, exc: Exception) -> JSONResponse:
    """Input that got past the body checks (an uploaded file, a text body) and still could not be encoded or
    decoded as UTF-8, or nested past the parser's recursion limit: the sender's problem, 422, not a 500."""
    if isinstance(exc, RecursionError):
        kind, msg = "json_too_deep", "Dữ liệu lồng nhau quá sâu, không đọc được. Hãy gửi dữ liệu phẳng hơn."
    else:
        kind, msg = "unicode_invalid", "Dữ liệu có ký tự không phải Unicode hợp lệ (UTF-8). Hãy kiểm tra lại văn bản."
    log.warning("input refused late", method=request.method, route=route_of(request.scope), error=type(exc).__name__)
    return JSONResponse({"detail": [{"type": kind, "loc": ["body"], "msg": msg}]}, status_code=422)


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """A request that met a database outage: 503 and when to retry, not a 500 that reads like a bug."""
    # The route's template, never the path: a path may hold a secret (the web service's /l/{secret}).
    log.warning("database unavailable", method=request.method, route=route_of(request.scope), error=repr(exc)[:300])
    return JSONResponse(
        {"detail": "the database is unavailable; retry shortly"},
        status_code=503,
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


def install_input_limits(
    app: FastAPI, max_request_bytes: int, body_timeout_seconds: float, streamed: re.Pattern[str] | None = None
) -> None:
    """The body guard and the error answers that keep input from becoming a 5xx or a reflected megabyte. A
    service's own handler for HTTPException or validation errors is kept; only FastAPI's defaults are replaced.
    POST requests to `streamed` paths pass the guard unread: their route streams the body with its own limits."""
    app.add_middleware(
        RequestBodyGuard, max_bytes=max_request_bytes, timeout_seconds=body_timeout_seconds, streamed=streamed
    )
    defaults = {
        RequestValidationError: (request_validation_exception_handler, validation_failed),
        StarletteHTTPException: (http_exception_handler, http_error),
    }
    for error, (default, ours) in defaults.items():
        if app.exception_handlers.get(error) is default:
            app.add_exception_handler(error, ours)
    for late in (RecursionError, UnicodeError):
        app.add_exception_handler(late, unprocessable_text)
    for transient in TRANSIENT_ERRORS:
        if issubclass(transient, Exception):
            app.add_exception_handler(transient, database_unavailable)


def add_operational_routes(
    app: FastAPI,
    checks: dict[str, ReadinessCheck],
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    settings: ServiceSettings | None = None,
    streamed: re.Pattern[str] | None = None,
) -> None:
    """Health, readiness and metrics routes, and the input limits every service applies (from `settings`:
    the body's deadline; the defaults without; `streamed`: see `install_input_limits`)."""
    body_timeout = settings.http_body_timeout_seconds if settings is not None else HTTP_BODY_TIMEOUT_SECONDS
    install_input_limits(app, max_request_bytes, body_timeout, streamed)
    app.add_middleware(RequestObservability, service=app.title.removeprefix("dondoc "))

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """Alive: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz() -> JSONResponse:
        """Ready: the broker and the database are reachable."""
        results = {name: await check() for name, check in checks.items()}
        ready = all(results.values())
        body = {"status": "ready" if ready else "not ready", "checks": results}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    async def metrics() -> Response:
        payload, content_type = render_latest()
        return Response(payload, media_type=content_type)


# --- the server: slow clients are cut off -----------------------------------------------------------------------

_HEAD_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class HeadDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request's head (request line and headers).

    uvicorn times out only a connection idle between requests, and the first byte of a new request cancels that
    timer: a client that sends its headers a byte every few seconds (slowloris) holds the connection for ever.
    Here the head must be complete `head_timeout` seconds after the connection opens or the previous response
    ends; otherwise the client is told 408 and the connection closed. The body has its own deadline
    (RequestBodyGuard). Relies on H11Protocol's `conn`, `transport` and `loop`, stable across uvicorn 0.2x-0.5x.
    """

    head_timeout = 10.0
    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]  # uvicorn narrows it to asyncio.Transport
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm_head_deadline()  # the head has arrived

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_head_deadline()  # the next request's head, on a kept-alive connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        self._head_deadline = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            log.warning("request head too slow", client=str(self.client), seconds=self.head_timeout)
            self.transport.write(_HEAD_TIMED_OUT)
            self.transport.close()


def build_server(app: FastAPI, settings: ServiceSettings) -> uvicorn.Server:
    """The uvicorn server every service runs: its slow-client limits from `settings`."""
    protocol = type(
        "ServiceHttpProtocol", (HeadDeadlineProtocol,), {"head_timeout": settings.http_head_timeout_seconds}
    )
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        http=protocol,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        timeout_keep_alive=settings.http_keep_alive_seconds,
        h11_max_incomplete_event_size=settings.http_max_header_bytes,
    )
    return uvicorn.Server(config)


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run the service until SIGINT/SIGTERM; uvicorn finishes in-flight requests and runs the lifespan exit."""
    build_server(app, settings).run()


def run_service(service: str, settings: ServiceSettings, create_app: Callable[[Any], FastAPI]) -> None:
    """Entry point of `python -m services.<name>`: logging first, then the app until a signal."""
    configure_logging(service, settings.log_format, settings.log_level)
    tracing.configure(service)
    serve(create_app(settings), settings)
