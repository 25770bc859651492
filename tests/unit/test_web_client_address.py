"""The portal behind an ingress controller (WEB_TRUSTED_PROXIES): each browser has its own link-attempt bucket and
its own address in the X-Forwarded-For sent to tracking, while a request straight from an untrusted peer is counted
by the peer's address whatever X-Forwarded-For it forges. Over an ASGI transport, so the peer's address is real;
tracking is the fake of tests/unit/web_tracking_fake.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.web.config import Settings
from services.web.main import create_app
from tests.unit.web_tracking_fake import FakeTracking

INGRESS = "10.42.0.7"  # an ingress controller's pod, in the trusted pod network
UNKNOWN_LINK = "/l/" + "B" * 43  # tracking answers 404: each try still takes one attempt


def portal(fake: FakeTracking, attempts: int = 2) -> FastAPI:
    settings = Settings(secret_key="k" * 32, link_attempts_per_minute=attempts, trusted_proxies=["10.42.0.0/16"])
    return create_app(settings, transport=httpx.MockTransport(fake))


@asynccontextmanager
async def peer(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """Requests that reach the portal from `address` (the TCP peer)."""
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://portal", follow_redirects=False) as client:
        yield client


def forwarded_to_tracking(fake: FakeTracking) -> list[str]:
    return [headers["x-forwarded-for"] for _, path, headers, _ in fake.calls if path == "/links/exchange"]


async def test_two_browsers_behind_the_trusted_ingress_have_separate_buckets() -> None:
    fake = FakeTracking()
    app = portal(fake)
    async with peer(app, INGRESS) as ingress:
        first = {"X-Forwarded-For": "203.0.113.7"}
        answers = [(await ingress.get(UNKNOWN_LINK, headers=first)).status_code for _ in range(3)]
        assert answers == [404, 404, 429]
        second = {"X-Forwarded-For": "198.51.100.200, 198.51.100.9"}  # what the browser said, then what the ingress saw
        assert (await ingress.get(UNKNOWN_LINK, headers=second)).status_code == 404
        secret = fake.link("UBND")
        signed_in = await ingress.get(f"/l/{secret}", headers={"X-Forwarded-For": "192.0.2.44"})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
    assert forwarded_to_tracking(fake) == ["203.0.113.7", "203.0.113.7", "198.51.100.9", "192.0.2.44"]


async def test_a_forged_header_from_an_untrusted_peer_changes_nothing() -> None:
    fake = FakeTracking()
    app = portal(fake)
    async with peer(app, "198.51.100.50") as outsider:
        answers = [
            (await outsider.get(UNKNOWN_LINK, headers={"X-Forwarded-For": f"203.0.113.{n}"})).status_code
            for n in range(3)
        ]
    assert answers == [404, 404, 429]
    assert forwarded_to_tracking(fake) == ["198.51.100.50", "198.51.100.50"]


async def test_without_a_trusted_proxy_setting_the_ingress_is_one_client() -> None:
    """The defect this setting mends: with the default (loopback only), every browser shares the ingress's bucket."""
    fake = FakeTracking()
    settings = Settings(secret_key="k" * 32, link_attempts_per_minute=2)
    app = create_app(settings, transport=httpx.MockTransport(fake))
    async with peer(app, INGRESS) as ingress:
        answers = [
            (await ingress.get(UNKNOWN_LINK, headers={"X-Forwarded-For": browser})).status_code
            for browser in ("203.0.113.7", "198.51.100.9", "192.0.2.44")
        ]
    assert answers == [404, 404, 429]
    assert forwarded_to_tracking(fake) == [INGRESS, INGRESS]
