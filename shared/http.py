"""HTTP pieces every service has: /healthz, /readyz, /metrics, 503 during a database outage, the limits that keep
input from turning into a 5xx (threat model, docs/security.md), and a uvicorn runner that times out slow clients."""

from __future__ import annotations

import asyncio
import json
import math
import re
import reprlib
from array import array
from collections.abc import Awaitable, Callable, Mapping, Sequence
from itertools import accumulate
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

from shared.logs import configure_logging
from shared.metrics import HTTP_REQUESTS, render_latest
from shared.mongo import TRANSIENT_ERRORS
from shared.settings import HTTP_BODY_TIMEOUT_SECONDS, ServiceSettings

ReadinessCheck = Callable[[], Awaitable[bool]]

DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024
DATABASE_RETRY_AFTER_SECONDS = 5
MAX_JSON_DEPTH = 32  # a plan with its own ladder nests 6 deep; nothing dondoc takes needs more than a few
MAX_ECHOED = 100  # characters of an input value a 422 quotes back
MAX_MESSAGE = 300  # characters of one validation message
MAX_DETAIL = 1000  # characters of any one string in an error's detail
MAX_ERRORS = 50  # validation errors listed in one answer; the rest are counted

log = structlog.get_logger()

# Every path parameter that names something dondoc issued: letters, digits, "-" and "_", nothing a query could read
# as an operator or a path.
Identifier = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="an identifier issued by dondoc")]


class RequestMetrics:
    """Counts HTTP requests by service, method and status class (bounded labels: no paths, no ids)."""

    def __init__(self, app: Any, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}

        async def remember(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, remember)
        finally:
            HTTP_REQUESTS.labels(self.service, scope["method"], f"{status['code'] // 100}xx").inc()


# --- the request body, read whole and checked before any route -------------------------------------------------

# After the escapes that can hide a quote (\\ and \") are gone, every " opens or closes a string.
_JSON_STRINGS = re.compile(rb'"[^"]*(?:"|\Z)')
_NOT_QUOTE_OR_BRACKET = bytes(sorted(set(range(256)) - set(b'"[]{}')))
_DEPTH_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 and -1 as signed bytes
# A \uD800-\uDFFF escape: half of a UTF-16 surrogate pair. Python's json decodes a lone one into a str that no
# UTF-8 encoder (BSON, the JSON response, the log) accepts.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
# Every escape that is not a lone surrogate: a whole pair, any other \u, or a one-character escape (\\ included,
# so that "\\ud800" - a backslash, then the text ud800 - is not mistaken for one).
_SURROGATE = re.compile("[\ud800-\udfff]")
_HARMLESS_ESCAPE = re.compile(
    rb"\\(?:u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|u(?![dD][89a-fA-F])|[^u])", re.DOTALL
)


def json_depth(body: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest, brackets inside strings not counted; read with a few
    passes of C-speed byte operations, before (and instead of) a recursive parser meets the text."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return 0  # cannot be too deep; the common case costs two counts
    quotes_and_brackets = body.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_QUOTE_OR_BRACKET)
    steps = _JSON_STRINGS.sub(b"", quotes_and_brackets).translate(_DEPTH_STEPS)
    return max(accumulate(array("b", steps)), default=0)


def lone_surrogate(body: bytes) -> str | None:
    """The first \\uD800-\\uDFFF escape in a JSON text that is not half of a pair, as written; None if none."""
    if _SURROGATE_ESCAPE.search(body) is None:
        return None
    found = _SURROGATE_ESCAPE.search(_HARMLESS_ESCAPE.sub(b"", body))
    return None if found is None else found.group().decode("ascii")


def _where_unencodable(body: bytes) -> list[str | int]:
    """The path to the first key or string of `body` that holds a lone surrogate (only asked once the body is known
    to have one and to be shallow enough to parse safely); empty when the body does not parse."""
    try:
        stack: list[tuple[list[str | int], Any]] = [([], json.loads(body))]
    except ValueError:
        return []
    while stack:
        path, value = stack.pop()
        if isinstance(value, str) and _SURROGATE.search(value):
            return path
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, item in reversed(list(items)):
            if isinstance(key, str) and _SURROGATE.search(key):
                return [*path, _clip(key, MAX_ECHOED)]
            stack.append(([*path, _clip(key, MAX_ECHOED) if isinstance(key, str) else key], item))
    return []


def json_problem(body: bytes) -> dict[str, Any] | None:
    """Why a JSON body must be refused before it is parsed, as a validation error (type, loc, Vietnamese msg);
    None if it may be parsed."""
    if not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            msg = (
                f"Nội dung không phải văn bản UTF-8 hợp lệ (byte sai ở vị trí {exc.start}). Hãy gửi JSON mã hoá UTF-8."
            )
            return {"type": "utf8_invalid", "loc": ["body"], "msg": msg}
    if json_depth(body) > MAX_JSON_DEPTH:
        msg = (
            f"Dữ liệu JSON lồng nhau quá sâu (quá {MAX_JSON_DEPTH} cấp ngoặc [ ] hoặc {{ }}); "
            "không dữ liệu nào của hệ thống cần sâu đến vậy."
        )
        return {"type": "json_too_deep", "loc": ["body"], "msg": msg}
    surrogate = lone_surrogate(body)
    if surrogate is None:
        return None
    where = _where_unencodable(body)
    field = f"Trường {'.'.join(map(str, where))}" if where else "Dữ liệu JSON"
    msg = (
        f"{field} có mã {surrogate} đứng lẻ (nửa của một cặp UTF-16), không phải ký tự Unicode. "
        "Hãy gửi văn bản Unicode hợp lệ."
    )
    return {"type": "unicode_lone_surrogate", "loc": ["body", *where], "msg": msg}


def _is_json(scope: Mapping[str, Any]) -> bool:
    """Whether FastAPI would parse this body as JSON: a JSON media type, or none at all."""
    content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
    media = content_type.split(b";")[0].strip().lower()
    return media in (b"", b"application/json") or (media.startswith(b"application/") and media.endswith(b"+json"))


class _TooLarge(Exception):
    pass


class RequestBodyGuard:
    """Reads the whole request body before any route runs, and refuses it: when it does not arrive within
    `timeout_seconds` of the request's head (408: a client that trickles its body would otherwise hold a
    connection and a task for ever), when it passes `max_bytes` with or without a Content-Length (413), and when
    a JSON body is not UTF-8, nests deeper than MAX_JSON_DEPTH or escapes a lone surrogate (422, before a
    recursive parser or a UTF-8 encoder meets it)."""

    def __init__(self, app: Any, max_bytes: int, timeout_seconds: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _answer(send, 413, f"the request body is larger than {self.max_bytes} bytes")
            return
        try:
            async with asyncio.timeout(self.timeout_seconds):
                body = await self._read(receive)
        except TimeoutError:
            log.warning("request body too slow", method=scope["method"], seconds=self.timeout_seconds)
            detail = f"Phần thân yêu cầu không đến đủ trong {self.timeout_seconds:g} giây; hãy gửi lại."
            await _answer(send, 408, detail, close=True)
            return
        except _TooLarge:
            await _answer(send, 413, f"the request body is larger than {self.max_bytes} bytes")
            return
        if body is None:
            return  # the client went away: nobody to answer
        problem = json_problem(body) if body and _is_json(scope) else None
        if problem is not None:
            await _answer(send, 422, [problem])
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Any) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                raise _TooLarge
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes, receive: Any) -> Callable[[], Awaitable[Any]]:
    """The body as one message, then the server's own receive (which reports a disconnect)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Any:
        return pending.pop() if pending else await receive()

    return replay


async def _answer(send: Any, status: int, detail: Any, close: bool = False) -> None:
    headers = {"Connection": "close"} if close else None
    response = JSONResponse({"detail": detail}, status_code=status, headers=headers)
    await response({"type": "http"}, _nothing, send)


async def _nothing() -> Any:
    return {"type": "http.disconnect"}


# --- error answers: never a 5xx for input, never a large input echoed -------------------------------------------

_SHORT = reprlib.Repr()  # its keyword arguments are Python 3.12's
_SHORT.maxlevel, _SHORT.maxdict, _SHORT.maxlist, _SHORT.maxtuple, _SHORT.maxset = 2, 4, 4, 4, 4
_SHORT.maxstring, _SHORT.maxlong, _SHORT.maxother = 40, 40, 40


def _clip(text: str, limit: int) -> str:
    """At most `limit` characters, and none a UTF-8 encoder refuses (a lone surrogate is written as \\udXXX)."""
    cut = text if len(text) <= limit else text[:limit] + "…"
    return cut.encode("utf-8", "backslashreplace").decode("utf-8")


def small(value: Any, limit: int = MAX_ECHOED) -> Any:
    """`value` as an error answer may quote it: short scalars as they are, strings clipped, anything else (a
    sub-document, a list, an exception) as a short description."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        text = repr(value)
        return value if len(text) <= limit and math.isfinite(value) else _clip(text, limit)
    if isinstance(value, str):
        return _clip(value, limit)
    if isinstance(value, BaseException):
        return _clip(str(value), limit)
    return _clip(_SHORT.repr(value), limit)


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
        return _clip(detail, MAX_DETAIL)
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
    log.warning("input refused late", method=request.method, path=request.url.path, error=type(exc).__name__)
    return JSONResponse({"detail": [{"type": kind, "loc": ["body"], "msg": msg}]}, status_code=422)


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """A request that met a database outage: 503 and when to retry, not a 500 that reads like a bug."""
    log.warning("database unavailable", method=request.method, path=request.url.path, error=repr(exc)[:300])
    return JSONResponse(
        {"detail": "the database is unavailable; retry shortly"},
        status_code=503,
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


def install_input_limits(app: FastAPI, max_request_bytes: int, body_timeout_seconds: float) -> None:
    """The body guard and the error answers that keep input from becoming a 5xx or a reflected megabyte. A
    service's own handler for HTTPException or validation errors is kept; only FastAPI's defaults are replaced."""
    app.add_middleware(RequestBodyGuard, max_bytes=max_request_bytes, timeout_seconds=body_timeout_seconds)
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
) -> None:
    """Health, readiness and metrics routes, and the input limits every service applies (from `settings`:
    the body's deadline; the defaults without)."""
    body_timeout = settings.http_body_timeout_seconds if settings is not None else HTTP_BODY_TIMEOUT_SECONDS
    install_input_limits(app, max_request_bytes, body_timeout)
    app.add_middleware(RequestMetrics, service=app.title.removeprefix("dondoc "))

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
    serve(create_app(settings), settings)
