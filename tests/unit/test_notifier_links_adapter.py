"""The HTTP adapter of the link port (services/notifier/links.py): how tracking's answers become links or errors,
and which adapter the settings choose. Tracking itself answers in tests/integration/test_notifier_links.py."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.notifier.config import Settings
from services.notifier.links import RequestNewLinkPage, TrackingLinks, link_issuer
from services.notifier.rules.links import LinkRequest
from services.notifier.use_cases.errors import LinkRefused, LinkUnavailable

SECRET = "s3cr3t-AbCdEfGhIjKlMnOpQrStUvWxYz012345"


def adapter(answer: Any) -> tuple[TrackingLinks, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if isinstance(answer, Exception):
            raise answer
        return answer

    links = TrackingLinks(
        "http://tracking:8002/", "op-token", "https://web.example/", transport=httpx.MockTransport(handle)
    )
    return links, seen


async def test_an_issued_link_is_the_web_address_with_the_secret() -> None:
    links, seen = adapter(
        httpx.Response(201, json={"link_id": "l1", "secret": SECRET, "expires_at": "2027-01-05T13:41:00+00:00"})
    )
    issued = await links.issue(LinkRequest("dang-uy", "view", "mttq", "MTTQ"))
    assert issued.url == f"https://web.example/l/{SECRET}" and issued.personal
    assert issued.expires_at is not None and issued.expires_at.year == 2027
    (request,) = seen
    assert str(request.url) == "http://tracking:8002/links" and request.headers["Authorization"] == "Bearer op-token"
    assert request.read() == b'{"agency":"dang-uy","scope":"view","view_of":"mttq"}'
    await links.aclose()


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (httpx.Response(404, json={"detail": "unknown agency"}), LinkRefused),
        (httpx.Response(422, json={"detail": "agency: bad code"}), LinkRefused),
        (httpx.Response(503, json={"detail": "database unavailable"}), LinkUnavailable),
        (httpx.Response(401, json={"detail": "bad token"}), LinkUnavailable),  # may pass once the token is fixed
        (httpx.Response(429, text="slow down"), LinkUnavailable),
        (httpx.Response(201, json={"link_id": "l1"}), LinkUnavailable),  # not the contract's answer
        (httpx.ConnectError("connection refused"), LinkUnavailable),
    ],
)
async def test_tracking_s_answers_become_a_refusal_or_a_failure_that_may_pass(answer: Any, error: type) -> None:
    links, _ = adapter(answer)
    with pytest.raises(error) as raised:
        await links.issue(LinkRequest("chi-bo-khu-1"))
    assert SECRET not in str(raised.value)
    await links.aclose()


async def test_the_settings_choose_tracking_only_with_its_address_and_a_token() -> None:
    assert isinstance(link_issuer(Settings(tracking_url="http://t", tracking_token="x")), TrackingLinks)
    alone = link_issuer(Settings(tracking_url="http://t"))
    assert type(alone) is RequestNewLinkPage
    issued = await link_issuer(Settings(web_public_url="http://127.0.0.1:8004/")).issue(LinkRequest("ubnd"))
    assert (issued.url, issued.personal) == ("http://127.0.0.1:8004/lien-ket-moi", False)
