"""The web portal's composition root: settings, tracking's client, the pages and the operational routes. The
portal has no broker and no database: it is ready when tracking answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware

from services.web import actions, links, pages
from services.web.config import Settings
from services.web.headers import SecurityHeaders
from services.web.portal import Portal
from services.web.tracking import Tracking
from services.web.uploads import FORM_FIELDS_BYTES, StreamingUploadGuard
from shared.platform.http import add_operational_routes
from shared.platform.request_body import RequestBodyGuard

SERVICE = "web"
STATIC = Path(__file__).parent / "static"
MAX_FORM_BYTES = 64 * 1024  # every form without files


def _error_pages(app: FastAPI, portal: Portal) -> None:
    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
        if status == 404:
            return portal.message(
                "Không tìm thấy trang",
                "Trang này không có. Vui lòng về trang chính.",
                404,
                links=[("/", "Về trang chính")],
            )
        if status == 405:
            return portal.message(
                "Không thực hiện được", "Trang này không nhận cách gửi này.", 405, links=[("/", "Về trang chính")]
            )
        return portal.message(
            "Không thực hiện được",
            "Yêu cầu không hợp lệ. Vui lòng tải lại trang rồi thử lại.",
            status,
            links=[("/", "Về trang chính")],
        )

    async def invalid(request: Request, exc: Exception) -> Response:
        return portal.message(
            "Đường dẫn không đúng", "Địa chỉ trang có ký tự không hợp lệ.", 404, links=[("/", "Về trang chính")]
        )

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)


def _stream_uploads(app: FastAPI, settings: Settings) -> None:
    """The shared body guard, replaced by one that lets report forms stream (services/web/uploads.py)."""
    upload_bytes = settings.max_file_bytes * settings.max_files_per_report + FORM_FIELDS_BYTES
    for index, middleware in enumerate(app.user_middleware):
        if middleware.cls is RequestBodyGuard:
            kwargs: dict[str, Any] = dict(middleware.kwargs)
            kwargs.update(upload_bytes=upload_bytes, upload_seconds=settings.upload_timeout_seconds)
            app.user_middleware[index] = Middleware(StreamingUploadGuard, **kwargs)


def create_app(settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    tracking = Tracking(settings.tracking_url, settings.tracking_timeout_seconds, transport)
    portal = Portal(settings, tracking)

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await tracking.close()

    app = FastAPI(title="dondoc web", version="1", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.portal = portal
    _error_pages(app, portal)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(links.build_router(portal))
    app.include_router(pages.build_router(portal))
    app.include_router(actions.build_router(portal))
    add_operational_routes(app, {"tracking": tracking.ready}, max_request_bytes=MAX_FORM_BYTES, settings=settings)
    _stream_uploads(app, settings)
    app.add_middleware(SecurityHeaders)
    return app
