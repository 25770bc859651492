"""Per-client token buckets for the routes a secret alone opens (link exchange and renewal): in-process, so each
replica limits on its own (docs/security.md). Pure: the clock is injected."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

MAX_CLIENTS = 10_000  # buckets kept; past this, the full ones (clients at rest) are forgotten first


class TokenBuckets:
    """Each key may spend `burst` at once and regains `per_minute` a minute."""

    def __init__(self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("a rate limit needs per_minute > 0 and burst >= 1")
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when counted)

    def take(self, key: str) -> float:
        """0 when `key` may go on (one token spent); else the seconds until it may try again."""
        now = self._clock()
        tokens, then = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - then) * self._rate)
        if tokens >= 1.0:
            self._remember(key, tokens - 1.0, now)
            return 0.0
        self._remember(key, tokens, now)
        return (1.0 - tokens) / self._rate

    def _remember(self, key: str, tokens: float, now: float) -> None:
        if key not in self._buckets and len(self._buckets) >= MAX_CLIENTS:
            full = now - (self._burst / self._rate)
            self._buckets = {k: v for k, v in self._buckets.items() if v[1] > full}
            if len(self._buckets) >= MAX_CLIENTS:
                self._buckets.pop(next(iter(self._buckets)))
        self._buckets[key] = (tokens, now)


def retry_after(seconds: float) -> str:
    """The Retry-After header: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
