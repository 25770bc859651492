"""The token check intake and the notifier share: never open by omission, answers cached for a while."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from shared.platform.auth import AuthUnavailable, Principal, TokenVerifier, Unauthenticated


def tracking(answers: dict[str, dict[str, str]], calls: list[str]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        token = request.headers["Authorization"].removeprefix("Bearer ")
        calls.append(token)
        if request.url.path != "/tokens/me":
            return httpx.Response(404)
        return httpx.Response(200, json=answers[token]) if token in answers else httpx.Response(401)

    return httpx.MockTransport(answer)


async def test_with_nothing_configured_every_token_is_refused() -> None:
    verifier = TokenVerifier(operator_token=None, auth_url=None)
    for header in (None, "", "Bearer ", "Bearer anything", "Basic abc"):
        with pytest.raises(Unauthenticated):
            await verifier.identify(header)


async def test_the_bootstrap_token_is_an_operator_without_asking_anyone() -> None:
    calls: list[str] = []
    verifier = TokenVerifier(SecretStr("boot"), "http://tracking", transport=tracking({}, calls))
    assert await verifier.identify("Bearer boot") == Principal("operator", "operator")
    assert calls == []


async def test_answers_are_cached_known_ones_longer_than_unknown_ones() -> None:
    calls: list[str] = []
    transport = tracking({"good": {"subject": "dang-uy", "role": "issuer"}}, calls)
    verifier = TokenVerifier(None, "http://tracking", cache_seconds=60, transport=transport)
    for _ in range(3):
        assert await verifier.identify("Bearer good") == Principal("dang-uy", "issuer")
        with pytest.raises(Unauthenticated):
            await verifier.identify("Bearer bad")
    assert calls == ["good", "bad"]  # one question each, then the cache


async def test_a_strange_answer_or_no_answer_is_unavailable_not_a_pass() -> None:
    odd = httpx.MockTransport(lambda request: httpx.Response(200, json={"subject": "x", "role": "root"}))
    with pytest.raises(AuthUnavailable):
        await TokenVerifier(None, "http://tracking", transport=odd).identify("Bearer t")
    failing = httpx.MockTransport(lambda request: httpx.Response(500))
    with pytest.raises(AuthUnavailable):
        await TokenVerifier(None, "http://tracking", transport=failing).identify("Bearer t")


async def test_a_session_is_trusted_no_longer_than_it_lives() -> None:
    """A link session's answer carries `expires_at`: the cache keeps it at most that long (here already past, so
    tracking is asked every time and, once it says 401, the session is refused at once)."""
    calls: list[str] = []
    answers = {"s": {"subject": "chi-bo-1", "role": "viewer", "expires_at": "2020-01-01T00:00:00+00:00"}}
    verifier = TokenVerifier(None, "http://tracking", cache_seconds=60, transport=tracking(answers, calls))
    assert await verifier.identify("Bearer s") == Principal("chi-bo-1", "viewer")
    answers.clear()
    with pytest.raises(Unauthenticated):
        await verifier.identify("Bearer s")
    assert calls == ["s", "s"]
    live = {"t": {"subject": "ubnd", "role": "agency", "expires_at": "2999-01-01T00:00:00Z"}}
    cached = TokenVerifier(None, "http://tracking", cache_seconds=60, transport=tracking(live, calls))
    for _ in range(2):
        assert await cached.identify("Bearer t") == Principal("ubnd", "agency")
    assert calls == ["s", "s", "t"]
