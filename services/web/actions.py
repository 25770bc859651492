# No `from __future__ import annotations` here: FastAPI must see the route annotations.
"""An agency's actions from its pages: acknowledge, progress, a report with its files, an extension request. Each
form carries its CSRF token (bound to the session) and a key that tracking applies once; tracking decides whether
the visitor may act. Success redirects to the assignment's page with the outcome; a refusal is shown on the page
at once, in Vietnamese."""

import re
from datetime import datetime, time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from services.web import messages, uploads
from services.web.pages import show_assignment
from services.web.portal import Portal, Visitor
from services.web.tracking import TrackingError
from shared.domain.clock import VIETNAM
from shared.platform.http import Identifier

_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_FIELD_BYTES = 64 * 1024


class Refused(Exception):
    """An action the portal itself refuses before asking tracking: a form it cannot read or a file it will not
    send; carries the status and the Vietnamese sentence."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


def done(assignment_id: str, kind: str, **values: str) -> Response:
    query = urlencode({"ket-qua": kind, **values})
    return RedirectResponse(f"/nhiem-vu/{assignment_id}?{query}#ket-qua", status_code=303)


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def form_key(form: FormData) -> str:
    key = text(form, "key")
    if not _KEY.match(key):
        raise Refused(422, messages.NO_CSRF)
    return key


def requested_deadline(value: str) -> str:
    """The date asked for, at 17:00 that day in Vietnam: as a date field sends it (2027-07-15), or typed the
    Vietnamese way (15/07/2027) where a browser shows a plain text field."""
    for form in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            chosen = datetime.strptime(value.strip(), form).date()
        except ValueError:
            continue
        return datetime.combine(chosen, time(17, 0), VIETNAM).isoformat()
    raise Refused(422, "Vui lòng chọn ngày đề nghị gia hạn (ngày/tháng/năm).")


def percent_of(value: str) -> int:
    if not value.isdigit() or int(value) > 100:
        raise Refused(422, messages.INVALID["progress"])
    return int(value)


async def send_files(portal: Portal, visitor: Visitor, assignment_id: str, files: list[UploadFile]) -> list[str]:
    """Each file checked here first (kind by name, size), then streamed to tracking; their ids."""
    limit = portal.settings.max_file_bytes
    if len(files) > portal.settings.max_files_per_report:
        raise Refused(422, f"Mỗi lần nộp gửi tối đa {portal.settings.max_files_per_report} tệp.")
    for upload in files:
        name = upload.filename or ""
        if uploads.extension(name) not in messages.ALLOWED_EXTENSIONS:
            raise Refused(415, messages.not_allowed(name))
        if (upload.size or 0) > limit:
            raise Refused(413, messages.too_large(name, limit))
        if not upload.size:
            raise Refused(422, f"Tệp «{name}» không có nội dung. Vui lòng chọn lại tệp.")
    ids = []
    for upload in files:
        name = upload.filename or ""
        media = upload.content_type or "application/octet-stream"
        try:
            stored = await portal.tracking.upload(
                visitor.session, assignment_id, name, media, upload.size or 0, uploads.chunks(upload)
            )
        except TrackingError as exc:
            raise Refused(
                exc.status if 400 <= exc.status < 500 else 503, messages.refusal(exc, "files", name)
            ) from None
        ids.append(str(stored["file_id"]))
    return ids


async def read_form(request: Request, portal: Portal, with_files: bool) -> FormData:
    limits: dict[str, Any] = {"max_fields": 20, "max_part_size": _FIELD_BYTES}
    limits["max_files"] = portal.settings.max_files_per_report + 1 if with_files else 0
    try:
        return await request.form(**limits)
    except uploads.BodyTooLarge:
        each, total = messages.mb(portal.settings.max_file_bytes), portal.settings.max_files_per_report
        raise Refused(413, f"Các tệp gửi cùng lúc quá lớn: mỗi tệp tối đa {each} MB, tối đa {total} tệp.") from None
    except uploads.BodyTooSlow:
        raise Refused(408, "Tệp tải lên quá chậm nên bị ngắt. Vui lòng kiểm tra kết nối mạng rồi gửi lại.") from None
    except (MultiPartException, HTTPException):
        raise Refused(422, "Biểu mẫu gửi lên không đọc được. Vui lòng tải lại trang rồi gửi lại.") from None


Body = dict[str, Any] | None


async def _acknowledge(portal: Portal, visitor: Visitor, assignment_id: str, form: FormData) -> tuple[Body, dict]:
    return None, {}


async def _progress(portal: Portal, visitor: Visitor, assignment_id: str, form: FormData) -> tuple[Body, dict]:
    percent = percent_of(text(form, "percent"))
    return {"percent": percent, "note": text(form, "note")}, {"pt": str(percent)}


async def _report(portal: Portal, visitor: Visitor, assignment_id: str, form: FormData) -> tuple[Body, dict]:
    period = text(form, "period")
    if not period:
        raise Refused(422, "Vui lòng chọn kỳ báo cáo.")
    files = uploads.files_of(form)
    if not files:
        raise Refused(422, f"Vui lòng chọn ít nhất một tệp báo cáo ({messages.ALLOWED_KINDS}).")
    file_ids = await send_files(portal, visitor, assignment_id, files)
    body = {"period": period, "note": text(form, "note"), "file_ids": file_ids}
    return body, {"ky": period, "tep": str(len(file_ids))}


async def _extension(portal: Portal, visitor: Visitor, assignment_id: str, form: FormData) -> tuple[Body, dict]:
    period, reason = text(form, "period"), text(form, "reason")
    if not period or not reason:
        raise Refused(422, messages.INVALID["extensions"])
    body = {"period": period, "requested_due_at": requested_deadline(text(form, "date")), "reason": reason}
    return body, {"ky": period}


ACTIONS = {
    # path segment: (tracking's action, outcome code, what the form becomes)
    "tiep-nhan": ("acknowledge", "tiep-nhan", _acknowledge),
    "tien-do": ("progress", "tien-do", _progress),
    "bao-cao": ("reports", "bao-cao", _report),
    "gia-han": ("extensions", "gia-han", _extension),
}


async def perform(portal: Portal, request: Request, assignment_id: str, segment: str) -> Response:
    action, code, build = ACTIONS[segment]
    try:
        visitor = await portal.visitor(request)
    except TrackingError as exc:
        return portal.refused(exc, None)
    if visitor is None:
        return portal.message(
            "Chưa mở từ đường dẫn", messages.SESSION_OVER, 401, links=[("/lien-ket-moi", "Cách nhận đường dẫn")]
        )
    typed: dict[str, str] = {}
    try:
        if action == "reports" and (wait := portal.upload_limiter.try_take(visitor.session)):
            raise Refused(429, messages.wait(wait))
        form = await read_form(request, portal, with_files=action == "reports")
        typed = {name: value for name, value in form.items() if isinstance(value, str) and name not in ("csrf", "key")}
        if not portal.csrf.valid(visitor.session, form.get("csrf")):
            return portal.message(
                "Chưa ghi nhận",
                messages.NO_CSRF,
                403,
                visitor,
                links=[(f"/nhiem-vu/{assignment_id}", "Mở lại trang nhiệm vụ")],
            )
        body, values = await build(portal, visitor, assignment_id, form)
        await portal.tracking.act(visitor.session, assignment_id, action, body, form_key(form))
    except Refused as refused:
        return await show_assignment(
            portal, visitor, assignment_id, request, refused.status, error=refused.text, error_for=segment, typed=typed
        )
    except TrackingError as exc:
        if exc.status in (401, 403, 404):
            return portal.refused(exc, visitor, action)
        status = exc.status if 400 <= exc.status < 500 else 503
        error = messages.refusal(exc, action)
        return await show_assignment(
            portal, visitor, assignment_id, request, status, error=error, error_for=segment, typed=typed
        )
    return done(assignment_id, code, **values)


def build_router(portal: Portal) -> APIRouter:
    router = APIRouter()

    @router.post("/nhiem-vu/{assignment_id}/{action}")
    async def act(assignment_id: Identifier, action: str, request: Request) -> Response:
        """acknowledge (tiep-nhan), progress (tien-do), report with files (bao-cao), extension (gia-han)"""
        if action not in ACTIONS:
            return portal.message("Không tìm thấy", "Trang này không có.", 404)
        return await perform(portal, request, assignment_id, action)

    return router
