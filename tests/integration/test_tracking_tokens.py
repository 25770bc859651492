"""A token with bytes outside printable ASCII is refused with 401 everywhere (it answered 500 before): in
tracking, which reads its own token store, and in intake and the notifier, which ask tracking
(`shared.platform.auth.TokenVerifier`'s remote check). The header is parsed in one place,
`shared.platform.auth.bearer_token`."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from services.intake.config import Settings as IntakeSettings
from services.intake.main import create_app as create_intake
from services.tracking.config import Settings as TrackingSettings
from services.tracking.main import create_app as create_tracking
from shared.domain.clock import FakeClock
from shared.platform.auth import TokenVerifier, install
from tests.integration.conftest import OPERATOR, running
from tests.integration.notifier_harness import notifier

pytestmark = pytest.mark.integration

# As sent on the wire: UTF-8 bytes, a Latin-1 byte, a control character (the server decodes headers as Latin-1).
STRANGE = [b"Bearer t\xc3\xb6k\xc3\xa9n", b"Bearer ddc_\xff\xfe", b"Bearer ddc_a\x01b"]


def asking(tracking: FastAPI) -> TokenVerifier:
    return TokenVerifier(None, "http://tracking", 0.3, transport=httpx.ASGITransport(app=tracking))


async def test_tracking_refuses_a_token_with_non_ascii_bytes_with_401(service_settings) -> None:
    async with running(create_tracking(service_settings(TrackingSettings))) as http:
        for header in STRANGE:
            for path in ("/tokens/me", "/agencies/ubnd/assignments"):
                answer = await http.get(path, headers={"Authorization": header})
                assert answer.status_code == 401, (header, path, answer.status_code)
                assert answer.headers["WWW-Authenticate"] == "Bearer"
        assert (await http.get("/tokens/me", headers=OPERATOR)).status_code == 200


async def test_intake_refuses_it_with_401_without_asking_tracking(service_settings) -> None:
    tracking = create_tracking(service_settings(TrackingSettings))
    intake = create_intake(service_settings(IntakeSettings, operator_token=None))
    install(intake, asking(tracking))
    async with running(tracking), running(intake) as http:
        for header in STRANGE:
            answer = await http.get("/plans/p1", headers={"Authorization": header})
            assert answer.status_code == 401, (header, answer.status_code)
        assert (await http.get("/plans/unknown-plan", headers=OPERATOR)).status_code == 404  # tracking still asked


async def test_the_notifier_refuses_it_with_401(service_settings, mongo_url, database_name) -> None:
    tracking = create_tracking(service_settings(TrackingSettings))
    clock = FakeClock(datetime(2026, 12, 1, tzinfo=UTC))
    async with running(tracking), notifier(mongo_url, database_name, clock) as engine:
        async with engine.http(headers={}, verifier=asking(tracking)) as http:
            for header in STRANGE:
                answer = await http.get("/emails", headers={"Authorization": header})
                assert answer.status_code == 401, (header, answer.status_code)
            assert (await http.get("/emails", headers=OPERATOR)).status_code == 200
