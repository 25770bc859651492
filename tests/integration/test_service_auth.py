"""One token for every service: intake and the notifier ask tracking who a token belongs to (token
introspection), refuse what tracking does not know, and stop accepting a revoked token within their cache
time. Runs tracking and intake in-process on the real broker and database; intake reaches tracking over
HTTP (an ASGI transport in place of the network)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from deploy.local.infra import free_port
from services.intake.config import Settings as IntakeSettings
from services.intake.main import create_app as create_intake
from services.tracking.config import Settings as TrackingSettings
from services.tracking.main import create_app as create_tracking
from shared.domain.clock import FakeClock
from shared.platform.auth import TokenVerifier, hash_token, install
from tests.conftest import random_ref
from tests.integration.conftest import OPERATOR, issue_token, running
from tests.integration.notifier_harness import notifier
from tests.integration.test_intake_publishing import plan

CACHE_SECONDS = 0.3


def asking(tracking: FastAPI) -> TokenVerifier:
    """A verifier that trusts only tracking (no bootstrap token of its own)."""
    return TokenVerifier(None, "http://tracking", CACHE_SECONDS, transport=httpx.ASGITransport(app=tracking))


async def test_intake_accepts_tokens_tracking_issued_and_checks_who_may_submit(service_settings) -> None:
    tracking = create_tracking(service_settings(TrackingSettings))
    intake = create_intake(service_settings(IntakeSettings, operator_token=None))
    install(intake, asking(tracking))
    async with running(tracking) as tracking_http, running(intake) as http:
        issuer = await issue_token(tracking_http, "dang-uy", "issuer")
        other_issuer = await issue_token(tracking_http, "ubnd", "issuer")
        agency = await issue_token(tracking_http, "chi-bo-khu-1", "agency")

        assert (await http.post("/plans", json=plan(random_ref("n")))).status_code == 401
        assert (
            await http.post("/plans", json=plan(random_ref("n")), headers={"Authorization": "Bearer nope"})
        ).status_code == 401
        assert (await http.post("/plans", json=plan(random_ref("n")), headers=agency)).status_code == 403
        refused = await http.post("/plans", json=plan(random_ref("n")), headers=other_issuer)
        assert refused.status_code == 403 and "dang-uy" in refused.json()["detail"]

        created = await http.post("/plans", json=plan(random_ref("n")), headers=issuer)
        assert created.status_code == 201, created.text
        plan_id = created.json()["plan_id"]
        assert (await http.get(f"/plans/{plan_id}", headers=issuer)).status_code == 200
        assert (await http.get(f"/plans/{plan_id}", headers=other_issuer)).status_code == 403
        # The operator's token is known to tracking, so it works here too.
        assert (await http.get(f"/plans/{plan_id}", headers=OPERATOR)).status_code == 200

        me = (await tracking_http.get("/tokens/me", headers=issuer)).json()
        assert me["subject"] == "dang-uy" and me["role"] == "issuer"
        assert me["expires_at"] is not None  # a year by default (tests/integration/test_token_expiry.py)
        revoked_id = hash_token(issuer["Authorization"].removeprefix("Bearer "))[:16]  # tracking's token_id
        assert (await tracking_http.delete(f"/tokens/{revoked_id}", headers=OPERATOR)).status_code == 200
        await asyncio.sleep(CACHE_SECONDS + 0.1)
        assert (await http.get(f"/plans/{plan_id}", headers=issuer)).status_code == 401


async def test_without_the_token_service_only_the_bootstrap_operator_gets_in(service_settings) -> None:
    intake = create_intake(service_settings(IntakeSettings))
    install(
        intake,
        TokenVerifier(
            service_settings(IntakeSettings).operator_token, f"http://127.0.0.1:{free_port()}", CACHE_SECONDS
        ),
    )  # nobody listens there
    async with running(intake) as http:
        unknown = await http.post("/plans", json=plan(random_ref("n")), headers={"Authorization": "Bearer x"})
        assert unknown.status_code == 503 and unknown.headers["Retry-After"]
        assert (await http.post("/plans", json=plan(random_ref("n")), headers=OPERATOR)).status_code == 201


async def test_the_notifiers_routes_are_for_operators(service_settings, mongo_url, database_name) -> None:
    tracking = create_tracking(service_settings(TrackingSettings))
    clock = FakeClock(datetime(2026, 12, 1, tzinfo=UTC))
    async with running(tracking) as tracking_http, notifier(mongo_url, database_name, clock) as engine:
        agency = await issue_token(tracking_http, "ubnd", "agency")
        async with engine.http(headers={}, verifier=asking(tracking)) as http:
            for method, path in (
                ("GET", "/emails"),
                ("GET", "/silences"),
                ("GET", "/escalations/preview"),
                ("GET", "/assignments/a1/periods"),
                ("DELETE", "/silences/s1"),
                ("POST", "/ladder/reapply"),
            ):
                assert (await http.request(method, path)).status_code == 401, path
                assert (await http.request(method, path, headers=agency)).status_code == 403, path
            assert (await http.get("/emails", headers=OPERATOR)).status_code == 200
            assert (await http.post("/silences", headers=agency, json={})).status_code == 403
