# No `from __future__ import annotations` here: FastAPI must see the route annotations.
"""Personal links (docs/security.md, "Personal links, sessions and report files"): `/l/{secret}` exchanges the secret
for a session and redirects, so the secret leaves the address bar; an expired or revoked link leads to a page that
offers "send me a new link", which tracking sends to the agency's registered address, never to the person asking.
The secret is never logged."""

import re

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.web import messages
from services.web.portal import Portal
from services.web.present import parse_time
from services.web.security import RENEWAL_COOKIE, clear_renewal, set_renewal, set_session
from services.web.tracking import TrackingError
from shared.platform.client_address import client_address

log = structlog.get_logger()

_SECRET = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
REASONS = {"expired": "het-han", "revoked": "thu-hoi"}
REASON_TEXT = {
    "het-han": "Đường dẫn này đã hết hạn sử dụng.",
    "thu-hoi": "Đường dẫn này đã bị thu hồi, không còn dùng được.",
}
UNKNOWN_LINK = (
    "Đường dẫn này không có trong hệ thống: có thể đã bị chép thiếu ký tự. Vui lòng mở lại đường dẫn bằng cách bấm "
    "trực tiếp trong thư điện tử, hoặc xem cách nhận đường dẫn mới."
)


def _renewal_binding(secret: str) -> str:
    return f"renewal:{secret}"


def build_router(portal: Portal) -> APIRouter:
    router = APIRouter()

    @router.get("/l/{secret}")
    async def open_link(secret: str, request: Request) -> Response:
        """Exchange a personal link for a session (cookie) and go to the agency's page."""
        help_link = [("/lien-ket-moi", "Cách nhận đường dẫn mới")]
        if not _SECRET.match(secret):
            return portal.message("Đường dẫn không đúng", UNKNOWN_LINK, 404, links=help_link)
        address = client_address(request, portal.trusted_proxies)
        if wait := portal.link_limiter.try_take(address):
            return portal.message("Xin vui lòng đợi", messages.wait(wait), 429, headers={"Retry-After": str(wait)})
        try:
            session = await portal.tracking.exchange(secret, address)
        except TrackingError as exc:
            return _refused_link(portal, exc, secret)
        return _signed_in(portal, session)

    @router.get("/lien-ket-moi")
    async def new_link_page(request: Request) -> Response:
        """How to get a link; after an expired or revoked one, the button that asks for a new one."""
        reason = request.query_params.get("ly-do", "")
        secret = request.cookies.get(RENEWAL_COOKIE, "")
        if reason in REASON_TEXT and _SECRET.match(secret):
            csrf = portal.csrf.token(_renewal_binding(secret))
            return portal.render("link_over.html", 410, reason=REASON_TEXT[reason], csrf=csrf)
        return portal.render("link_help.html")

    @router.post("/lien-ket-moi")
    async def ask_for_new_link(request: Request) -> Response:
        """Ask tracking to send a new link to the agency's registered address."""
        form = await request.form()
        secret = request.cookies.get(RENEWAL_COOKIE, "")
        back = [("/lien-ket-moi", "Cách nhận đường dẫn mới")]
        if not _SECRET.match(secret) or not portal.csrf.valid(_renewal_binding(secret), form.get("csrf")):
            return portal.message("Chưa gửi được", messages.NO_CSRF, 403, links=back)
        address = client_address(request, portal.trusted_proxies)
        if wait := portal.link_limiter.try_take(address):
            return portal.message("Xin vui lòng đợi", messages.wait(wait), 429, headers={"Retry-After": str(wait)})
        try:
            await portal.tracking.renew(secret, address)
        except TrackingError as exc:
            if exc.status == 404:
                return portal.message("Chưa gửi được", UNKNOWN_LINK, 404, links=back)
            return portal.message(
                "Chưa gửi được",
                messages.refusal(exc, "links"),
                503 if exc.status >= 500 or not exc.status else exc.status,
                links=back,
            )
        log.info("new link requested")
        response = portal.render("link_sent.html", 202)
        clear_renewal(response, portal.secure)
        return response

    return router


def _refused_link(portal: Portal, exc: TrackingError, secret: str) -> Response:
    help_link = [("/lien-ket-moi", "Cách nhận đường dẫn mới")]
    if exc.status == 410:
        reason = REASONS.get(exc.reason or "", "het-han")
        response: Response = RedirectResponse(f"/lien-ket-moi?ly-do={reason}", status_code=303)
        set_renewal(response, secret, portal.secure)
        return response
    if exc.status == 404:
        return portal.message("Đường dẫn không đúng", UNKNOWN_LINK, 404, links=help_link)
    status = exc.status if 400 <= exc.status < 500 else 503
    return portal.message("Chưa mở được trang", messages.refusal(exc, "links"), status, links=help_link)


def _signed_in(portal: Portal, session: dict[str, object]) -> Response:
    log.info("link exchanged", agency=session.get("agency"), scope=session.get("scope"))
    response = RedirectResponse("/", status_code=303)
    expires = parse_time(session.get("expires_at")) or portal.now()
    set_session(response, str(session["session"]), expires, portal.now(), portal.secure)
    clear_renewal(response, portal.secure)
    return response
