"""The link use cases (services/tracking/use_cases/links.py) with fake stores: what a session is made of, which
refusal an old link gets, what renewal publishes, what revocation ends."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.tracking.links import LinkPolicy, SessionGrant
from services.tracking.use_cases.errors import Gone, NotFound, Refused
from services.tracking.use_cases.links import IssuedLink, IssueLink, LinkService
from shared.contracts.events import LinkRequested
from shared.domain.clock import FakeClock
from tests.fakes import FakeUnitOfWork

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)


class FakeLinks:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.writes = 0

    async def issue_many(self, links: list[dict[str, Any]], session: Any = None) -> list[tuple[str, str]]:
        self.writes += 1
        issued = []
        for link in links:
            secret = f"secret-{len(self.rows)}"
            link_id = hashlib.sha256(secret.encode()).hexdigest()[:16]
            self.rows[secret] = {**link, "link_id": link_id, "revoked_at": None}
            issued.append((link_id, secret))
        return issued

    async def find(self, secret: str, session: Any = None) -> dict[str, Any] | None:
        return self.rows.get(secret)

    async def revoke(self, agency: str | None, at: datetime, session: Any = None) -> int:
        hit = [r for r in self.rows.values() if r["revoked_at"] is None and agency in (None, r["agency"])]
        for row in hit:
            row["revoked_at"] = at
        return len(hit)


class FakeTokens:
    def __init__(self) -> None:
        self.issued: list[tuple[str, str, str, SessionGrant | None]] = []
        self.revoked: list[str | None] = []

    async def issue(
        self, subject: str, role: Any, at: datetime, label: str = "", session: Any = None, grant: Any = None
    ) -> tuple[str, str]:
        self.issued.append((subject, role, label, grant))
        return "id", f"session-{len(self.issued)}"

    async def revoke_sessions(self, agency: str | None, at: datetime, session: Any = None) -> int:
        self.revoked.append(agency)
        return 1


def service() -> tuple[LinkService, FakeUnitOfWork, FakeTokens, FakeClock]:
    uow, tokens, clock = FakeUnitOfWork(), FakeTokens(), FakeClock(NOW)
    policy = LinkPolicy(timedelta(days=30), timedelta(hours=12))
    return LinkService(uow, FakeLinks(), tokens, clock, policy), uow, tokens, clock


async def test_a_view_link_makes_a_viewer_session_that_ends_with_the_link() -> None:
    links, _, tokens, clock = service()
    issued = await links.issue(IssueLink("dang-uy", "view", "chi-bo-1"))
    assert issued.expires_at == NOW + timedelta(days=30)
    clock.advance(timedelta(days=29, hours=20))
    made = await links.exchange(issued.secret)
    assert (made.agency, made.scope, made.view_of) == ("dang-uy", "view", "chi-bo-1")
    assert made.expires_at == issued.expires_at  # 4 hours left on the link: not 12
    assert tokens.issued == [("chi-bo-1", "viewer", "web session", SessionGrant(issued.expires_at, "dang-uy"))]


async def test_old_links_are_gone_with_their_reason_and_unknown_ones_not_found() -> None:
    links, _, tokens, clock = service()
    first = await links.issue(IssueLink("ubnd"))
    second = await links.issue(IssueLink("ubkt"))
    assert await links.revoke("ubnd") == 1 and tokens.revoked == ["ubnd"]
    with pytest.raises(Gone) as revoked:
        await links.exchange(first.secret)
    assert revoked.value.details == {"reason": "revoked"}
    clock.advance(timedelta(days=30))
    with pytest.raises(Gone) as expired:
        await links.exchange(second.secret)
    assert expired.value.details == {"reason": "expired"}
    with pytest.raises(NotFound):
        await links.exchange("nothing")
    with pytest.raises(Refused):
        await links.issue(IssueLink("ubnd", "view"))
    assert tokens.issued == []


async def test_renewal_publishes_link_requested_for_the_links_agency_whatever_its_state() -> None:
    links, uow, _, clock = service()
    issued = await links.issue(IssueLink("dang-uy", "view", "chi-bo-1"))
    clock.advance(timedelta(days=60))
    assert await links.request_renewal(issued.secret) == "dang-uy"
    [event] = uow.published
    assert isinstance(event, LinkRequested)
    assert (event.agency, event.scope, event.view_of, event.correlation_id) == (
        "dang-uy",
        "view",
        "chi-bo-1",
        "link:dang-uy",
    )
    with pytest.raises(NotFound):
        await links.request_renewal("nothing")
    assert len(uow.published) == 1


async def test_several_links_are_one_write_and_a_refused_command_is_answered_alone_in_its_place() -> None:
    store = FakeLinks()
    links = LinkService(FakeUnitOfWork(), store, FakeTokens(), FakeClock(NOW), LinkPolicy(timedelta(days=30)))
    asked = [IssueLink("dang-uy", "view", "chi-bo-1"), IssueLink("dang-uy", "view"), IssueLink("chi-bo-1")]
    first, refused, third = await links.issue_many(asked)
    assert isinstance(refused, Refused) and str(refused) == "a view link needs view_of, the agency whose page it shows"
    assert isinstance(first, IssuedLink) and isinstance(third, IssuedLink)
    assert first.expires_at == third.expires_at == NOW + timedelta(days=30)
    assert store.writes == 1 and len(store.rows) == 2
    assert (await links.exchange(third.secret)).agency == "chi-bo-1"
    (only,) = await links.issue_many([IssueLink("x", "view", "x")])
    assert isinstance(only, Refused) and len(store.rows) == 2
