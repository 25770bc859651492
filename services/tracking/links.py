"""Personal links and the sessions made from them: the pure rules (docs/security.md, "Personal links, sessions and
report files"). A link is a random secret bound to one agency, stored only as its SHA-256, expiring and revocable;
exchanging it gives a session token that lives `session_ttl` and never past the link's own expiry. A link of scope
"act" opens the agency's own pages (role "agency"); of scope "view" a supervising body's read-only page of
`view_of` (role "viewer", whose code is `view_of`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from shared.domain.clock import as_utc
from shared.domain.wording import Wording
from shared.platform.auth import Principal

LinkScope = Literal["act", "view"]
LinkState = Literal["valid", "expired", "revoked"]
SESSION_LABEL = "web session"


@dataclass(frozen=True)
class LinkPolicy:
    """How long links and sessions live (settings TRACKING_LINK_TTL_DAYS and TRACKING_SESSION_TTL_HOURS)."""

    link_ttl: timedelta = timedelta(days=30)
    session_ttl: timedelta = timedelta(hours=12)

    def link_expiry(self, now: datetime) -> datetime:
        return now + self.link_ttl

    def session_expiry(self, now: datetime, link_expires_at: datetime) -> datetime:
        """A session ends after `session_ttl`, and never after the link it was made from."""
        return min(now + self.session_ttl, as_utc(link_expires_at))


@dataclass(frozen=True)
class SessionGrant:
    """What a session token is bound to: it ends at `expires_at`, and with the links of `link_agency`."""

    expires_at: datetime
    link_agency: str


class InvalidLink(ValueError):
    """A link that cannot be issued as asked (a view link without the body it shows, an act link with one)."""


_ACT_WITH_VIEW_OF = Wording(
    vi="Đường dẫn loại «act» mở trang của chính cơ quan được cấp, nên view_of phải để trống (null).",
    en="an act link opens the agency's own pages: view_of must be null",
)
_VIEW_WITHOUT_VIEW_OF = Wording(
    vi="Đường dẫn loại «view» cần view_of: mã của cơ quan có trang được xem.",
    en="a view link needs view_of, the agency whose page it shows",
)
_VIEW_OF_ITSELF = Wording(
    vi="Đường dẫn loại «view» dùng để xem trang của một cơ quan khác: view_of phải khác agency.",
    en="a view link shows another body's page: view_of must differ from agency",
)


def check_scope(agency: str, scope: LinkScope, view_of: str | None) -> None:
    if scope == "act" and view_of is not None:
        raise InvalidLink(_ACT_WITH_VIEW_OF)
    if scope == "view" and not view_of:
        raise InvalidLink(_VIEW_WITHOUT_VIEW_OF)
    if scope == "view" and view_of == agency:
        raise InvalidLink(_VIEW_OF_ITSELF)


def link_state(link: Mapping[str, Any], now: datetime) -> LinkState:
    """Revoked wins over expired: an operator's decision is the more useful thing to tell."""
    if link.get("revoked_at") is not None:
        return "revoked"
    if as_utc(link["expires_at"]) <= now:
        return "expired"
    return "valid"


def session_principal(agency: str, scope: LinkScope, view_of: str | None) -> Principal:
    """Who a session made from the link acts as."""
    if scope == "view":
        if view_of is None:
            raise InvalidLink(_VIEW_WITHOUT_VIEW_OF)
        return Principal(code=view_of, role="viewer")
    return Principal(code=agency, role="agency")


def session_expired(expires_at: datetime | None, now: datetime) -> bool:
    """A token with no expiry (an API token) never expires; a session does at its `expires_at`."""
    return expires_at is not None and as_utc(expires_at) <= now
