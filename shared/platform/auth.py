"""Who is calling: the one place that reads `Authorization: Bearer …` and checks roles, for every service.

Tokens are issued, stored (as hashes) and revoked by tracking (`POST /tokens`, `DELETE /tokens/{id}`); an
agency, issuer or operator holds one token for every service. Intake and the notifier ask tracking who a
token belongs to (`GET /tokens/me`, token introspection) and keep the answer for `auth_cache_seconds`, so a
revoked token stops working there within that time (at once in tracking itself).

The bootstrap operator token from the settings (`<SERVICE>_OPERATOR_TOKEN`) is also accepted directly,
so an operator can still act when tracking is down. With neither a token nor `AUTH_URL` configured, every
request is refused: a route is never open by omission.

Tracking answers from its own token store (`services/tracking/tokens.py`), which parses the header with
`bearer_token` here and returns the same `Principal`; every service installs its identifier with `install` and
guards its routes with `requires`.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal, Protocol

import httpx
import structlog
from fastapi import Depends, FastAPI, HTTPException, Request, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from shared.domain.wording import Wording, wording_of
from shared.platform import tracing

log = structlog.get_logger()

# "viewer": a session made from a supervising body's view link; reads one agency's work (its `code`), changes nothing.
Role = Literal["agency", "issuer", "operator", "viewer"]
ROLES: tuple[Role, ...] = ("agency", "issuer", "operator", "viewer")
NEGATIVE_CACHE_SECONDS = 5.0  # an unknown token is asked about again after this long, not on every request
MAX_CACHED = 10_000
_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True)
class Principal:
    """Who a token belongs to: an operator, an issuing body or an agency, by its code (for a viewer: the code of
    the agency whose work it may read)."""

    code: str
    role: Role


class Unauthenticated(Exception):
    """No token, or one that is unknown or revoked."""


NO_TOKEN = Wording(
    vi="Hãy gửi mã truy cập trong tiêu đề `Authorization: Bearer <mã>`.",
    en="send your token as `Authorization: Bearer <token>`",
)
UNKNOWN_TOKEN = Wording(vi="Mã truy cập không đúng hoặc đã bị thu hồi.", en="the token is unknown or has been revoked")
TOKEN_EXPIRED = Wording(
    vi="Mã truy cập đã hết hạn; hãy đề nghị quản trị viên cấp mã mới.",
    en="the token has expired; ask an operator for a new one",
)
SESSION_EXPIRED = Wording(
    vi="Phiên làm việc đã hết hạn; hãy mở lại đường dẫn trong thư.", en="the session has expired; open your link again"
)
_TOKEN_SERVICE_SILENT = Wording(
    vi="Dịch vụ xác thực không trả lời; vui lòng thử lại sau ít phút.",
    en="the token service does not answer; try again shortly",
)
_TOKEN_SERVICE_FAILED = Wording(
    vi="Dịch vụ xác thực gặp lỗi; vui lòng thử lại sau ít phút.", en="the token service failed; try again shortly"
)
_TOKEN_SERVICE_ODD = Wording(
    vi="Dịch vụ xác thực trả lời không đúng quy ước; vui lòng thử lại sau ít phút.",
    en="the token service answered something unexpected",
)


class TokenIdentifier(Protocol):
    """Answers who a bearer token belongs to: `TokenVerifier` (intake, notifier) or tracking's token store."""

    async def identify(self, authorization: str | None) -> Principal: ...


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header. Tokens are printable ASCII: anything else (a
    header carrying other bytes, which the server decodes as Latin-1) is refused like an unknown token, never
    passed on to a hash, a cache or another service's HTTP request (where it could not be encoded: 500)."""
    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthenticated(NO_TOKEN)
    token = authorization.removeprefix("Bearer ").strip()
    if not token or not _PRINTABLE_ASCII.fullmatch(token):
        raise Unauthenticated(UNKNOWN_TOKEN)
    return token


class AuthUnavailable(Exception):
    """The token service could not be asked; the caller may try again."""


def hash_token(token: str) -> str:
    """How tokens are stored and compared: SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenVerifier:
    def __init__(
        self,
        operator_token: SecretStr | None,
        auth_url: str | None,
        cache_seconds: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._operator_digest = hash_token(operator_token.get_secret_value()) if operator_token else None
        self._auth_url = auth_url.rstrip("/") if auth_url else None
        self._cache_seconds = cache_seconds
        self._transport = transport
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    async def identify(self, authorization: str | None) -> Principal:
        token = bearer_token(authorization)
        digest = hash_token(token)
        if self._operator_digest is not None and hmac.compare_digest(digest, self._operator_digest):
            return Principal(code="operator", role="operator")
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return self._known(cached[1])
        principal, expires_in = await self._ask(token)
        if len(self._cache) >= MAX_CACHED:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        ttl = self._cache_seconds if principal is not None else NEGATIVE_CACHE_SECONDS
        # A session token is trusted no longer than it lives (`expires_at` of GET /tokens/me).
        self._cache[digest] = (now + min(ttl, expires_in), principal)
        return self._known(principal)

    @staticmethod
    def _known(principal: Principal | None) -> Principal:
        if principal is None:
            raise Unauthenticated(UNKNOWN_TOKEN)
        return principal

    async def _ask(self, token: str) -> tuple[Principal | None, float]:
        """Whom tracking says the token belongs to (None: nobody), and for how many seconds more it is valid."""
        if self._auth_url is None:
            return None, math.inf
        try:
            async with httpx.AsyncClient(base_url=self._auth_url, timeout=5.0, transport=self._transport) as client:
                # The request's trace goes on into tracking's answer (shared/platform/tracing.py; nothing while off).
                headers = {"Authorization": f"Bearer {token}", **tracing.carrier()}
                response = await client.get("/tokens/me", headers=headers)
        except httpx.HTTPError as exc:
            log.warning("token service unreachable", auth_url=self._auth_url, error=type(exc).__name__)
            raise AuthUnavailable(_TOKEN_SERVICE_SILENT) from None
        if response.status_code == status.HTTP_401_UNAUTHORIZED:
            return None, math.inf
        if response.status_code != status.HTTP_200_OK:
            log.warning("token service failed", auth_url=self._auth_url, status=response.status_code)
            raise AuthUnavailable(_TOKEN_SERVICE_FAILED)
        body = response.json()
        if body.get("role") not in ROLES or not isinstance(body.get("subject"), str):
            raise AuthUnavailable(_TOKEN_SERVICE_ODD)
        return Principal(code=body["subject"], role=body["role"]), seconds_left(body.get("expires_at"))


def seconds_left(expires_at: object) -> float:
    """Seconds until `expires_at` (ISO 8601 from GET /tokens/me; null for a token that does not expire)."""
    if not isinstance(expires_at, str):
        return math.inf
    try:
        moment = datetime.fromisoformat(expires_at)
    except ValueError:
        raise AuthUnavailable(_TOKEN_SERVICE_ODD) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - datetime.now(UTC)).total_seconds()


# Declares the scheme in the OpenAPI documents (`bearer`); the header itself is read and checked by `identify`.
BEARER = HTTPBearer(scheme_name="bearer", description="a token issued by tracking (`POST /tokens`)", auto_error=False)


def requires(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A FastAPI dependency: the caller, who must hold one of `roles` (401, 403 or 503 otherwise). The
    service's identifier is `app.state.token_verifier` (set by `install`)."""

    async def check(
        request: Request, _declared: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]
    ) -> Principal:
        verifier: TokenIdentifier = request.app.state.token_verifier
        try:
            principal = await verifier.identify(request.headers.get("authorization"))
        except Unauthenticated as exc:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, wording_of(exc), headers={"WWW-Authenticate": "Bearer"}
            ) from None
        except AuthUnavailable as exc:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, wording_of(exc), headers={"Retry-After": "5"}
            ) from None
        if principal.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, _needs_role(roles))
        return principal

    return check


_ROLE_NAMES = {
    "operator": "quản trị viên",
    "issuer": "cơ quan ban hành kế hoạch",
    "agency": "cơ quan được giao việc",
    "viewer": "người theo dõi",
}


def _needs_role(roles: tuple[Role, ...]) -> Wording:
    named = " hoặc ".join(_ROLE_NAMES.get(role, role) for role in roles)
    return Wording(vi=f"Việc này chỉ dành cho {named}.", en=f"this needs the role {' or '.join(roles)}")


def install(app: FastAPI, verifier: TokenIdentifier) -> None:
    app.state.token_verifier = verifier


Operator = Annotated[Principal, Depends(requires("operator"))]
IssuerOrOperator = Annotated[Principal, Depends(requires("issuer", "operator"))]
AgencyOnly = Annotated[Principal, Depends(requires("agency"))]
AnyRole = Annotated[Principal, Depends(requires(*ROLES))]
