"""HTTP pieces every service has: /healthz, /readyz, /metrics, 503 during a database outage, and a uvicorn
runner."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import structlog
import uvicorn
from fastapi import FastAPI, Path, Request, Response
from fastapi.responses import JSONResponse

from shared.http_observability import RequestObservability
from shared.logs import configure_logging
from shared.metrics import HTTP_REQUESTS, render_latest
from shared.mongo import TRANSIENT_ERRORS
from shared.settings import ServiceSettings

ReadinessCheck = Callable[[], Awaitable[bool]]

DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024
DATABASE_RETRY_AFTER_SECONDS = 5

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


class RequestSizeLimit:
    """Refuse request bodies over `max_bytes` with 413 before any route reads them, whether or not the
    client sent a Content-Length (a chunked body is counted as it arrives)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        chunks: list[dict[str, Any]] = []
        size = 0
        while True:
            message = await receive()
            chunks.append(message)
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(send)
                return
            if message["type"] != "http.request" or not message.get("more_body", False):
                break

        async def replay() -> Any:
            return chunks.pop(0) if chunks else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Any) -> None:
        detail = f"the request body is larger than {self.max_bytes} bytes"
        response = JSONResponse({"detail": detail}, status_code=413)
        await response({"type": "http"}, None, send)  # type: ignore[arg-type]


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """A request that met a database outage: 503 and when to retry, not a 500 that reads like a bug."""
    log.warning("database unavailable", method=request.method, path=request.url.path, error=repr(exc)[:300])
    return JSONResponse(
        {"detail": "the database is unavailable; retry shortly"},
        status_code=503,
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


def add_operational_routes(
    app: FastAPI, checks: dict[str, ReadinessCheck], max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
) -> None:
    """Health, readiness and metrics routes, and the request size limit every service applies."""
    app.add_middleware(RequestSizeLimit, max_bytes=max_request_bytes)
    app.add_middleware(RequestMetrics, service=app.title.removeprefix("dondoc "))
    app.add_middleware(RequestObservability, service=app.title.removeprefix("dondoc "))
    for error in TRANSIENT_ERRORS:
        app.add_exception_handler(error, database_unavailable)

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


def serve(app: FastAPI, host: str, port: int) -> None:
    """Run the service until SIGINT/SIGTERM; uvicorn finishes in-flight requests and runs the lifespan exit."""
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, timeout_graceful_shutdown=10)


def run_service(service: str, settings: ServiceSettings, create_app: Callable[[Any], FastAPI]) -> None:
    """Entry point of `python -m services.<name>`: logging first, then the app until a signal."""
    configure_logging(service, settings.log_format, settings.log_level)
    serve(create_app(settings), settings.http_host, settings.http_port)
