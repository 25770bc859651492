"""What keeps the portal's forms and links safe (issue 18, Security): CSRF tokens bound to the session, rate limits
on link exchange, new-link requests and uploads, and the session cookie. Link secrets and session ids are never
logged: what is logged is at most the first characters of their SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog
from fastapi import Request, Response
from pydantic import SecretStr

from shared.platform.auth import hash_token

SESSION_COOKIE = "dondoc_session"
RENEWAL_COOKIE = "dondoc_link"  # the expired or revoked link's secret, for "send me a new link" only
RENEWAL_COOKIE_SECONDS = 3600
MAX_TRACKED = 10_000  # addresses or sessions a rate limiter remembers at once

log = structlog.get_logger()


def secret_key(configured: SecretStr | None) -> bytes:
    if configured is not None and configured.get_secret_value():
        return configured.get_secret_value().encode()
    log.warning("WEB_SECRET_KEY is not set: forms are signed with a random key, valid only in this process")
    return secrets.token_bytes(32)


class Csrf:
    """A form's token is an HMAC of what it is bound to (a session, or the link a new one is asked for)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def token(self, binding: str) -> str:
        return hmac.new(self._key, b"csrf\0" + hash_token(binding).encode(), hashlib.sha256).hexdigest()

    def valid(self, binding: str | None, token: object) -> bool:
        if not binding or not isinstance(token, str) or not token:
            return False
        return hmac.compare_digest(self.token(binding), token)


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """A token bucket per key (an address or a session): `per_minute` requests, refilled evenly."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def try_take(self, key: str) -> int:
        """0 when allowed (and counted); otherwise the seconds to wait."""
        now = self._clock()
        bucket = self._buckets.pop(key, None) or _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        self._buckets[key] = bucket
        while len(self._buckets) > MAX_TRACKED:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0
        return max(1, math.ceil((1.0 - bucket.tokens) / self.rate))


def session_of(request: Request) -> str | None:
    value = request.cookies.get(SESSION_COOKIE)
    return value if value and value.isascii() and value.isprintable() and len(value) <= 256 else None


def set_session(response: Response, session: str, expires_at: datetime, now: datetime, secure: bool) -> None:
    max_age = max(0, int((expires_at - now).total_seconds()))
    response.set_cookie(
        SESSION_COOKIE, session, max_age=max_age, httponly=True, samesite="lax", secure=secure, path="/"
    )


def clear_session(response: Response, secure: bool) -> None:
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", secure=secure, path="/")


def set_renewal(response: Response, secret: str, secure: bool) -> None:
    response.set_cookie(
        RENEWAL_COOKIE,
        secret,
        max_age=RENEWAL_COOKIE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/lien-ket-moi",
    )


def clear_renewal(response: Response, secure: bool) -> None:
    response.delete_cookie(RENEWAL_COOKIE, httponly=True, samesite="lax", secure=secure, path="/lien-ket-moi")


def fingerprint(secret: str) -> str:
    """What a log line may say about a secret or a session: the first 8 hex digits of its SHA-256."""
    return hash_token(secret)[:8]
