"""What every page of the portal needs: tracking's client, the CSRF signer, the rate limiters, the templates, and
who the visitor is (tracking's answer about the session, kept for a few seconds)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChainableUndefined, Environment, FileSystemLoader

from services.web import messages, present
from services.web.config import Settings
from services.web.security import Csrf, RateLimiter, clear_session, secret_key, session_of
from services.web.tracking import Tracking, TrackingError
from shared.platform.auth import hash_token
from shared.platform.client_address import networks

TEMPLATES = Path(__file__).parent / "templates"
MAX_REMEMBERED = 10_000


@dataclass(frozen=True)
class Visitor:
    """A visitor with a session: the agency whose pages it opens, and whether it may act or only read."""

    session: str
    code: str
    scope: str  # "act" or "view"

    @property
    def can_act(self) -> bool:
        return self.scope == "act"


class Portal:
    def __init__(self, settings: Settings, tracking: Tracking) -> None:
        self.settings = settings
        self.tracking = tracking
        self.csrf = Csrf(secret_key(settings.secret_key))
        self.link_limiter = RateLimiter(settings.link_attempts_per_minute)
        self.trusted_proxies = networks(settings.trusted_proxies)
        self.upload_limiter = RateLimiter(settings.uploads_per_minute)
        self.secure = settings.public_url.startswith("https://")
        self._identities: dict[str, tuple[float, Visitor]] = {}
        self.names: dict[str, str] = {}  # agency code -> its name, as tracking's records give it (for the header)
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=ChainableUndefined, trim_blocks=True
        )
        self.env.globals.update(when=present.when, day=present.day, size=present.size, board_lags=messages.BOARD_LAGS)
        self.env.globals.update(event_label=present.event_label, channels=present.CHANNELS)

    def now(self) -> datetime:
        return datetime.now(UTC)

    def render(self, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("visitor", None)
        visitor = context["visitor"]
        if visitor is not None:
            context.setdefault("csrf", self.csrf.token(visitor.session))
            context["agency_name"] = context.get("agency_name") or self.names.get(visitor.code, visitor.code)
        context.setdefault("agency_name", "")
        return HTMLResponse(self.env.get_template(name).render(**context), status_code=status_code)

    def message(
        self,
        title: str,
        text: str,
        status_code: int,
        visitor: Visitor | None = None,
        links: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        """A page that says one thing: an error, or an outcome with nowhere else to show it."""
        tone = "error" if status_code >= 400 else "ok"
        response = self.render(
            "message.html", status_code, title=title, text=text, visitor=visitor, links=links or [], tone=tone
        )
        response.headers.update(headers or {})
        if status_code == 401:
            clear_session(response, self.secure)
        return response

    def refused(self, error: TrackingError, visitor: Visitor | None, action: str = "") -> HTMLResponse:
        titles = {401: "Phiên làm việc đã hết hạn", 403: "Không có quyền truy cập", 404: "Không tìm thấy"}
        title = titles.get(error.status, "Chưa thực hiện được")
        status = error.status if 400 <= error.status < 500 else 503
        links = [("/lien-ket-moi", "Cách nhận đường dẫn mới")] if error.status == 401 else [("/", "Về trang chính")]
        return self.message(title, messages.refusal(error, action), status, visitor, links=links)

    async def visitor(self, request: Request) -> Visitor | None:
        """Who the session cookie belongs to, as tracking says (TrackingError 401 once it is over)."""
        session = session_of(request)
        if session is None:
            return None
        key = hash_token(session)
        cached = self._identities.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        me = await self.tracking.whoami(session)
        scope = "act" if me.get("role") == "agency" else "view"
        visitor = Visitor(session, str(me.get("subject", "")), scope)
        if len(self._identities) >= MAX_REMEMBERED:
            self._identities.clear()
        self._identities[key] = (time.monotonic() + self.settings.identity_cache_seconds, visitor)
        return visitor

    def remember_name(self, records: list[dict[str, Any]]) -> str | None:
        """The agency's name from its records (and kept for the pages that have no record to show)."""
        for record in records:
            agency = record.get("agency") or {}
            if agency.get("code") and agency.get("name"):
                if len(self.names) >= MAX_REMEMBERED:
                    self.names.clear()
                self.names[str(agency["code"])] = str(agency["name"])
                return str(agency["name"])
        return None

    def forget(self, session: str) -> None:
        self._identities.pop(hash_token(session), None)
