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
from datetime import datetime
from typing import Annotated, Any

import h11
import structlog
import uvicorn
from fastapi import FastAPI, Path, Request, Response
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import PlainSerializer
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.protocols.http.h11_impl import H11Protocol

from shared.contracts.events import format_instant
from shared.domain.wording import Wording, wording_of
from shared.platform import tracing
from shared.platform.http_observability import RequestObservability, route_of
from shared.platform.logs import configure_logging
from shared.platform.metrics import render_latest
from shared.platform.mongo import TRANSIENT_ERRORS
from shared.platform.problems import (
    PROBLEM_MEDIA_TYPE,
    VALIDATION,
    answer_problem,
    in_language,
    openapi_components,
    problem,
)
from shared.platform.request_body import MAX_ECHOED, RequestBodyGuard, clip
from shared.platform.settings import HTTP_BODY_TIMEOUT_SECONDS, ServiceSettings
from shared.platform.validation_wording import vietnamese_message

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
        cause = error["ctx"].get("error")
        if isinstance(cause, BaseException) and isinstance(said := wording_of(cause), Wording):
            # our own field check, raised with both languages: its message in the caller's
            answer["msg"] = answer["ctx"]["error"] = Wording(vi=small(said.vi, MAX_MESSAGE), en=answer["msg"])
    return answer


def _field(loc: Sequence[Any]) -> str:
    parts = [str(part) for part in loc]
    if len(parts) > 1 and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_summary(errors: Sequence[Mapping[str, Any]], total: int) -> Wording:
    """The readable `detail` of a validation problem: how many fields, and the first few with their problem (in
    Vietnamese where shared/platform/validation_wording.py knows the kind of error, else as the validator put it)."""
    first = errors[:5]
    vi = "; ".join(f"{_field(error.get('loc', ()))}: {vietnamese_message(error)}" for error in first)
    en = "; ".join(f"{_field(error.get('loc', ()))}: {error.get('msg', '')}" for error in first)
    more_vi = f" (và {total - 5} lỗi khác)" if total > 5 else ""
    more_en = f" (and {total - 5} more)" if total > 5 else ""
    return Wording(
        vi=clip(f"Dữ liệu gửi lên có {total} lỗi: {vi}{more_vi}", MAX_DETAIL),
        en=clip(f"The request has {total} error{'s' if total != 1 else ''}: {en}{more_en}", MAX_DETAIL),
    )


async def validation_failed(request: Request, exc: Exception) -> Response:
    """FastAPI's 422 as a problem: each field and its problem listed in `errors` (location, message, type), but
    quoting at most MAX_ECHOED characters of what was sent (FastAPI's own answer quotes the whole input: 8 MB
    sent, 8 MB reflected) and nothing unencodable."""
    errors: Sequence[Mapping[str, Any]] = exc.errors() if isinstance(exc, RequestValidationError) else []
    listed = [_small_error(error) for error in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        more = len(errors) - MAX_ERRORS
        listed.append({"type": "too_many_errors", "loc": ["body"], "msg": f"… và {more} lỗi khác"})
    summary = validation_summary(listed, len(errors))
    return answer_problem(request.scope, 422, summary, slug=VALIDATION, errors=listed)


def _clean(detail: Any) -> Any:
    if isinstance(detail, str):
        return clip(detail, MAX_DETAIL)
    if isinstance(detail, Wording):
        return Wording(vi=clip(detail.vi, MAX_DETAIL), en=clip(detail.en, MAX_DETAIL))
    if isinstance(detail, Mapping):
        return {_clean(key): _clean(value) for key, value in detail.items()}
    if isinstance(detail, list | tuple):
        return [_clean(item) for item in detail]
    return detail


def _listed_problems(items: Sequence[Any]) -> Wording:
    """A route's list of problems (`{"where", "problem"}` or validation errors) as one readable sentence."""

    def sentence(english: bool) -> str:
        texts = []
        for item in items[:5]:
            if isinstance(item, Mapping):
                where = item.get("where", _field(item.get("loc", ())) if "loc" in item else "")
                what = in_language(item.get("problem", item.get("msg", "")), english)
                texts.append(f"{where}: {what}" if where else str(what))
            else:
                texts.append(str(in_language(item, english)))
        more = (
            ""
            if len(items) <= 5
            else f" (and {len(items) - 5} more)"
            if english
            else f" (và {len(items) - 5} lỗi khác)"
        )
        return clip("; ".join(texts) + more, MAX_DETAIL)

    return Wording(vi=sentence(english=False), en=sentence(english=True))


def problem_parts(status: int, detail: Any) -> tuple[str | Wording, str | None, dict[str, Any]]:
    """An HTTPException's detail as (detail, slug, extensions): a string is the detail; a mapping gives its
    `detail` or `message` as the detail, its `type` as the slug and every other key as an extension member; a
    list of problems becomes the detail's sentence and the `errors` extension."""
    if isinstance(detail, str | Wording):
        return detail, None, {}
    if isinstance(detail, Mapping):
        extensions = {str(key): value for key, value in detail.items() if key not in ("detail", "message", "type")}
        text = detail.get("detail", detail.get("message"))
        slug = detail.get("type")
        if text is None:
            text = _BLANK
        return text if isinstance(text, Wording) else str(text), str(slug) if slug else None, extensions
    if isinstance(detail, list | tuple):
        return _listed_problems(detail), None, {"errors": list(detail)}
    return _BLANK if detail is None else str(detail), None, {}


_BLANK = Wording(vi="Không có mô tả thêm.", en="No further detail.")


async def http_error(request: Request, exc: Exception) -> Response:
    """An HTTPException as a problem, with every string of the detail clipped and made encodable: a route's
    message may quote what it was sent (an unknown agency's name, a lone surrogate in it)."""
    if not isinstance(exc, StarletteHTTPException):
        raise exc
    detail, slug, extensions = problem_parts(exc.status_code, _clean(exc.detail))
    headers = getattr(exc, "headers", None)
    return answer_problem(request.scope, exc.status_code, detail, slug=slug, headers=headers, **extensions)


async def unprocessable_text(request: Request, exc: Exception) -> Response:
    """Input that got past the body checks (an uploaded file, a text body) and still could not be encoded or
    decoded as UTF-8, or nested past the parser's recursion limit: the sender's problem, 422, not a 500."""
    if isinstance(exc, RecursionError):
        kind, msg = (
            "json_too_deep",
            Wording(
                vi="Dữ liệu lồng nhau quá sâu, không đọc được. Hãy gửi dữ liệu phẳng hơn.",
                en="The data nests too deeply to be read; send it flatter.",
            ),
        )
    else:
        kind, msg = (
            "unicode_invalid",
            Wording(
                vi="Dữ liệu có ký tự không phải Unicode hợp lệ (UTF-8). Hãy kiểm tra lại văn bản.",
                en="The data holds characters that are not valid Unicode (UTF-8); check the text.",
            ),
        )
    log.warning("input refused late", method=request.method, route=route_of(request.scope), error=type(exc).__name__)
    errors = [{"type": kind, "loc": ["body"], "msg": msg}]
    return answer_problem(request.scope, 422, msg, slug=VALIDATION, errors=errors)


async def database_unavailable(request: Request, exc: Exception) -> Response:
    """A request that met a database outage: 503 and when to retry, not a 500 that reads like a bug."""
    # The route's template, never the path: a path may hold a secret (the web service's /l/{secret}).
    log.warning("database unavailable", method=request.method, route=route_of(request.scope), error=repr(exc)[:300])
    return answer_problem(
        request.scope,
        503,
        Wording(
            vi="Cơ sở dữ liệu tạm thời không truy cập được; vui lòng thử lại sau ít phút.",
            en="The database is unavailable; retry shortly.",
        ),
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


# --- the OpenAPI documents: bearer authentication and every error answer a route can give -----------------------

CONFLICT: dict[int | str, dict[str, Any]] = {409: {"description": "Xung đột với trạng thái hiện tại"}}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_METHODS = ("get", "put", "post", "delete", "patch")


def _error_codes(operation: Mapping[str, Any]) -> set[int]:
    """What any route can answer besides its own refusals (declared with `responses=` on the route, e.g. CONFLICT):
    500 always; 401, 403 and 503 (token service) when it needs a token; 404 for a path naming something; 422 for
    parameters or a body; 408 and 413 for a body (shared/platform/request_body.py); 412 for an If-Match."""
    parameters = operation.get("parameters", [])
    codes = {500, 503}
    if operation.get("security"):
        codes |= {401, 403}
    if any(parameter.get("in") == "path" for parameter in parameters):
        codes.add(404)
    if parameters or "requestBody" in operation:
        codes.add(422)
    if "requestBody" in operation:
        codes |= {408, 413}
    if any(parameter.get("name", "").lower() == "if-match" for parameter in parameters):
        codes.add(412)
    return codes


def _error_response(code: int, declared: Mapping[str, Any]) -> dict[str, Any]:
    """A problem+json answer; a route's own declaration keeps its description and, if not FastAPI's validation
    answer, its content (readiness's 503 is a status document)."""
    if declared.get("content") and declared.get("description") != "Validation Error":
        return dict(declared)
    title = problem(code, "", slug=VALIDATION if code == 422 else None)["title"]
    description = declared.get("description") if declared.get("description") != "Validation Error" else None
    return {**declared, "description": description or title, "content": {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}}}


def document_errors(document: dict[str, Any]) -> dict[str, Any]:
    """Every operation's error answers as problem+json (FastAPI's own 422 schema replaced); an open route's empty
    security and the server declared, as OpenAPI linters (Redocly's recommended rules) want them."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(openapi_components())
    for path in document.get("paths", {}).values():
        for method in _METHODS:
            operation = path.get(method)
            if operation is None:
                continue
            operation.setdefault("security", [])  # an open route (health, readiness) says so
            responses = operation.setdefault("responses", {})
            codes = {500} if "operations" in operation.get("tags", ()) else _error_codes(operation)
            for code in codes | {int(code) for code in responses if str(code).isdigit()}:
                if code >= 400:
                    responses[str(code)] = _error_response(code, responses.get(str(code), {}))
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    document.setdefault(
        "servers",
        [
            {
                "url": "/",
                "description": "where the service runs (intake :8001, tracking :8002, notifier :8003 by default)",
            }
        ],
    )
    return document


def install_openapi(app: FastAPI) -> None:
    """The app's OpenAPI document, built once, with its error answers documented (`document_errors`)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the document


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
    install_openapi(app)
    app.add_middleware(RequestObservability, service=app.title.removeprefix("dondoc "))

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """Alive: the process answers."""
        return {"status": "ok"}

    not_ready = {"description": "not ready: a check failed", "content": {"application/json": {}}}

    @app.get("/readyz", tags=["operations"], responses={503: not_ready})
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


def with_instants(value: Any) -> Any:
    """`value` with every datetime inside it written as `shared.contracts.events.format_instant` writes it."""
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, Mapping):
        return {key: with_instants(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [with_instants(item) for item in value]
    return value


# A route's JSON answer (`-> Answer`): instants in it are written the one way events write them (the
# serializer runs only when FastAPI writes JSON; the OpenAPI schema stays an object).
Answer = Annotated[dict[str, Any], PlainSerializer(with_instants, return_type=dict[str, Any], when_used="json")]
