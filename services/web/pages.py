# No `from __future__ import annotations` here: FastAPI must see the route annotations.
"""The pages an agency reads: its assignments in the four groups, one assignment with its periods, reports, files
and history, and a stored file. Every read is tracking's answer to the visitor's own session."""

import re
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from services.web import messages, present
from services.web.portal import Portal, Visitor
from services.web.security import clear_session
from services.web.tracking import TrackingError
from shared.platform.http import Identifier

_PERIOD = re.compile(r"^[A-Za-z0-9_.:-]{1,40}$")


def outcome(request: Request) -> str:
    """The sentence of a just-finished action (the redirect after a form names it), or ''."""
    query = request.query_params
    done = query.get("ket-qua", "")
    if done not in messages.DONE:
        return ""
    period = query.get("ky", "")
    numbers = {name: query.get(param, "0") for name, param in (("files", "tep"), ("percent", "pt"))}
    values = {name: value if value.isdigit() and len(value) < 4 else "0" for name, value in numbers.items()}
    return messages.DONE[done].format(period=period if _PERIOD.match(period) else "", **values)


def not_signed_in(portal: Portal) -> HTMLResponse:
    return portal.render("home.html", 200)


async def show_assignment(
    portal: Portal, visitor: Visitor, assignment_id: str, request: Request, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    """The assignment's page; an action's refusal is shown on it (`error`, `error_for`) with what was typed."""
    try:
        record = await portal.tracking.assignment(visitor.session, assignment_id)
        history = await portal.tracking.history(visitor.session, assignment_id)
    except TrackingError as exc:
        return portal.refused(exc, visitor)
    item = present.assignment(record)
    context = {
        "visitor": visitor,
        "agency_name": portal.remember_name([record]) or visitor.code,
        "item": item,
        "history": history,
        "csrf": portal.csrf.token(visitor.session),
        "form_key": secrets.token_hex(16),
        "done": outcome(request) if status_code == 200 else "",
        "error": "",
        "error_for": "",
        "typed": {},
        "max_mb": messages.mb(portal.settings.max_file_bytes),
        "accept": ",".join(messages.ALLOWED_EXTENSIONS),
        "allowed_kinds": messages.ALLOWED_KINDS,
        "max_files": portal.settings.max_files_per_report,
    }
    context.update(extra)
    return portal.render("assignment.html", status_code, **context)


def build_router(portal: Portal) -> APIRouter:
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> Response:
        """The agency's assignments: overdue first, then open, done late, done on time."""
        try:
            visitor = await portal.visitor(request)
            if visitor is None:
                return not_signed_in(portal)
            records = await portal.tracking.assignments(visitor.session, visitor.code)
        except TrackingError as exc:
            return portal.refused(exc, None)
        name = portal.remember_name(records) or visitor.code
        groups = present.grouped(records)
        counts = {kind: len(items) for kind, _, items in groups}
        return portal.render(
            "agency.html", visitor=visitor, agency_name=name, groups=groups, counts=counts, total=len(records)
        )

    @router.get("/nhiem-vu/{assignment_id}", response_class=HTMLResponse)
    async def assignment(assignment_id: Identifier, request: Request) -> Response:
        """One assignment: plan, task, deadlines, reports, history; the forms when the visitor may act."""
        try:
            visitor = await portal.visitor(request)
        except TrackingError as exc:
            return portal.refused(exc, None)
        if visitor is None:
            return not_signed_in(portal)
        return await show_assignment(portal, visitor, assignment_id, request)

    _file_routes(router, portal)
    return router


def _file_routes(router: APIRouter, portal: Portal) -> None:
    @router.get("/tep/{file_id}")
    async def download(file_id: Identifier, request: Request) -> Response:
        """A stored report file, streamed from tracking with its own headers."""
        try:
            visitor = await portal.visitor(request)
            if visitor is None:
                return not_signed_in(portal)
            upstream = await portal.tracking.open_file(visitor.session, file_id)
        except TrackingError as exc:
            return portal.refused(exc, None)
        keep = ["content-type", "content-disposition"]
        if "content-encoding" not in upstream.headers:
            keep.append("content-length")  # aiter_bytes decodes a compressed body: its length would differ
        headers = {name: value for name, value in upstream.headers.items() if name.lower() in keep}
        headers["X-Content-Type-Options"] = "nosniff"
        return StreamingResponse(upstream.aiter_bytes(), headers=headers, background=BackgroundTask(upstream.aclose))

    @router.post("/dang-xuat")
    async def sign_out(request: Request) -> Response:
        """Forget the session in this browser (the link in the e-mail still opens a new one)."""
        form = await request.form()
        visitor = None
        try:
            visitor = await portal.visitor(request)
        except TrackingError:
            pass
        if visitor is not None and not portal.csrf.valid(visitor.session, form.get("csrf")):
            return portal.message("Chưa đăng xuất", messages.NO_CSRF, 403, visitor)
        if visitor is not None:
            portal.forget(visitor.session)
        response = RedirectResponse("/", status_code=303)
        clear_session(response, portal.secure)
        return response
