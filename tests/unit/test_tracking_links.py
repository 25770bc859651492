"""The rules of personal links and sessions (services/tracking/links.py) and the per-client rate limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.tracking.links import (
    InvalidLink,
    LinkPolicy,
    check_scope,
    link_state,
    session_expired,
    session_principal,
)
from services.tracking.rate_limit import TokenBuckets, retry_after
from shared.platform.auth import Principal

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)


def test_a_link_is_valid_until_its_expiry_and_revocation_wins() -> None:
    link = {"expires_at": NOW + timedelta(days=30), "revoked_at": None}
    assert link_state(link, NOW) == "valid"
    assert link_state(link, NOW + timedelta(days=30) - timedelta(seconds=1)) == "valid"
    assert link_state(link, NOW + timedelta(days=30)) == "expired"
    assert link_state({**link, "revoked_at": NOW}, NOW) == "revoked"
    assert link_state({**link, "revoked_at": NOW}, NOW + timedelta(days=31)) == "revoked"
    naive = {"expires_at": (NOW + timedelta(hours=1)).replace(tzinfo=None), "revoked_at": None}
    assert link_state(naive, NOW) == "valid"  # as MongoDB returns it


def test_a_session_lasts_its_ttl_but_never_past_its_link() -> None:
    policy = LinkPolicy(link_ttl=timedelta(days=30), session_ttl=timedelta(hours=12))
    assert policy.link_expiry(NOW) == NOW + timedelta(days=30)
    assert policy.session_expiry(NOW, NOW + timedelta(days=2)) == NOW + timedelta(hours=12)
    assert policy.session_expiry(NOW, NOW + timedelta(hours=3)) == NOW + timedelta(hours=3)


def test_session_expiry_and_api_tokens_that_never_expire() -> None:
    assert not session_expired(None, NOW)
    assert not session_expired(NOW + timedelta(seconds=1), NOW)
    assert session_expired(NOW, NOW)
    assert session_expired((NOW - timedelta(seconds=1)).replace(tzinfo=None), NOW)


def test_an_act_link_acts_as_the_agency_and_a_view_link_only_views() -> None:
    assert session_principal("ubnd", "act", None) == Principal("ubnd", "agency")
    assert session_principal("dang-uy", "view", "chi-bo-1") == Principal("chi-bo-1", "viewer")
    check_scope("ubnd", "act", None)
    check_scope("dang-uy", "view", "chi-bo-1")
    for agency, scope, view_of in (("ubnd", "act", "x"), ("ubnd", "view", None), ("ubnd", "view", "ubnd")):
        with pytest.raises(InvalidLink):
            check_scope(agency, scope, view_of)  # type: ignore[arg-type]  # scope is a literal in the test table


def test_token_buckets_allow_a_burst_then_one_per_interval_per_client() -> None:
    now = [0.0]
    buckets = TokenBuckets(per_minute=6, burst=2, clock=lambda: now[0])
    assert buckets.take("a") == 0 and buckets.take("a") == 0
    wait = buckets.take("a")
    assert wait == pytest.approx(10.0) and retry_after(wait) == "10"
    assert buckets.take("b") == 0  # another address has its own bucket
    now[0] = 9.0
    assert buckets.take("a") > 0
    now[0] = 10.5
    assert buckets.take("a") == 0
    assert retry_after(0.2) == "1"
    with pytest.raises(ValueError):
        TokenBuckets(per_minute=0, burst=1)
