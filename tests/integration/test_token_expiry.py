"""API tokens expire (`TRACKING_TOKEN_TTL_DAYS`, or `expires_at` when issued) and are rotated without a moment
refused: the successor works at once, the old token until the overlap ends (docs/security.md, "API tokens: expiry
and rotation"). Tracking runs in-process on a fake clock against the MongoDB-wire server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn

from deploy.local.infra import free_port
from services.cli.main import main as cli
from services.tracking.config import Settings as TrackingSettings
from services.tracking.main import create_app as create_tracking
from shared.contracts.events import format_instant
from shared.domain.clock import FakeClock
from tests.conftest import eventually
from tests.integration.conftest import OPERATOR, OPERATOR_TOKEN, running

pytestmark = pytest.mark.integration

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def issue(http: httpx.AsyncClient, **body: object) -> dict[str, str]:
    answer = await http.post("/tokens", json={"subject": "ubnd-xa", "role": "agency", **body}, headers=OPERATOR)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def works(http: httpx.AsyncClient, token: str) -> bool:
    answer = await http.get("/tokens/me", headers=bearer(token))
    assert answer.status_code in (200, 401), answer.text
    return answer.status_code == 200


async def test_a_token_expires_after_the_default_lifetime_and_is_refused_like_a_revoked_one(service_settings) -> None:
    clock = FakeClock(START)
    async with running(create_tracking(service_settings(TrackingSettings), clock)) as http:
        issued = await issue(http)
        assert instant(issued["expires_at"]) == START + timedelta(days=365)
        me = (await http.get("/tokens/me", headers=bearer(issued["token"]))).json()
        assert instant(me["expires_at"]) == START + timedelta(days=365)
        clock.advance(timedelta(days=364, hours=23))
        assert await works(http, issued["token"])
        clock.advance(timedelta(hours=1))
        refused = await http.get("/agencies/ubnd-xa/assignments", headers=bearer(issued["token"]))
        assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
        assert "hết hạn" in refused.json()["detail"]
        operator = (await http.get("/tokens/me", headers=OPERATOR)).json()
        assert operator["expires_at"] is None  # the configured bootstrap token is excepted


async def test_the_lifetime_is_a_setting_and_expires_at_can_be_given(service_settings) -> None:
    clock = FakeClock(START)
    settings = service_settings(TrackingSettings, token_ttl_days=2)
    async with running(create_tracking(settings, clock)) as http:
        assert instant((await issue(http))["expires_at"]) == START + timedelta(days=2)
        chosen = START + timedelta(hours=5)
        short = await issue(http, expires_at=chosen.isoformat())
        assert instant(short["expires_at"]) == chosen
        clock.advance(timedelta(hours=5))
        assert not await works(http, short["token"])
        for bad in ((START - timedelta(days=1)).isoformat(), "2027-01-01T00:00:00"):  # past; no UTC offset
            answer = await http.post(
                "/tokens", json={"subject": "ubnd-xa", "role": "agency", "expires_at": bad}, headers=OPERATOR
            )
            assert answer.status_code == 422, (bad, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json")


async def test_rotation_keeps_the_old_token_working_for_the_overlap_only(service_settings) -> None:
    clock = FakeClock(START)
    async with running(create_tracking(service_settings(TrackingSettings), clock)) as http:
        old = await issue(http, label="máy chủ xã")
        answer = await http.post(f"/tokens/{old['token_id']}/rotate", json={"overlap_hours": 48}, headers=OPERATOR)
        assert answer.status_code == 201, answer.text
        new = answer.json()
        assert new["token_id"] != old["token_id"] and new["subject"] == "ubnd-xa" and new["role"] == "agency"
        assert new["rotated_from"] == {
            "token_id": old["token_id"],
            "expires_at": format_instant(START + timedelta(hours=48)),
        }
        assert instant(new["expires_at"]) == START + timedelta(days=365)
        assert await works(http, old["token"]) and await works(http, new["token"])
        clock.advance(timedelta(hours=47, minutes=59))
        assert await works(http, old["token"]) and await works(http, new["token"])
        clock.advance(timedelta(minutes=1))
        assert not await works(http, old["token"])
        assert await works(http, new["token"])
        again = await http.post(f"/tokens/{old['token_id']}/rotate", json={}, headers=OPERATOR)
        assert again.status_code == 404  # an expired token has no successor


async def test_rotation_never_lengthens_the_old_token_and_refuses_what_is_not_live(service_settings) -> None:
    clock = FakeClock(START)
    async with running(create_tracking(service_settings(TrackingSettings), clock)) as http:
        soon = await issue(http, expires_at=(START + timedelta(hours=2)).isoformat())
        rotated = await http.post(f"/tokens/{soon['token_id']}/rotate", json={"overlap_hours": 72}, headers=OPERATOR)
        assert instant(rotated.json()["rotated_from"]["expires_at"]) == START + timedelta(hours=2)
        revoked = await issue(http)
        assert (await http.delete(f"/tokens/{revoked['token_id']}", headers=OPERATOR)).status_code == 200
        for token_id in (revoked["token_id"], "no-such-token"):
            answer = await http.post(f"/tokens/{token_id}/rotate", json={}, headers=OPERATOR)
            assert answer.status_code == 404, answer.text
        agency = await issue(http)
        for body in ({"overlap_hours": -1}, {"overlap_hours": 24 * 31}, {"overlap": 1}):
            answer = await http.post(f"/tokens/{agency['token_id']}/rotate", json=body, headers=OPERATOR)
            assert answer.status_code == 422, (body, answer.text)
        forbidden = await http.post(f"/tokens/{agency['token_id']}/rotate", json={}, headers=bearer(agency["token"]))
        assert forbidden.status_code == 403
        assert await works(http, agency["token"])  # refused attempts changed nothing


async def test_an_operator_issues_rotates_and_revokes_with_the_cli(service_settings, capsys) -> None:
    """`dondoc tokens issue | rotate | revoke` over real HTTP: during the overlap both tokens work."""
    port = free_port()
    app = create_tracking(service_settings(TrackingSettings))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    common = ["--url", f"http://127.0.0.1:{port}", "--token", OPERATOR_TOKEN]
    try:
        await eventually(lambda: asyncio.sleep(0, server.started), what="tracking to listen")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            issued = ["tokens", "issue", "--subject", "ubnd-xa", "--role", "agency", *common]
            assert await asyncio.to_thread(cli, issued) == 0
            old_token, old_id = _printed(capsys.readouterr().out)
            rotate = ["tokens", "rotate", old_id, "--overlap-hours", "2", *common]
            assert await asyncio.to_thread(cli, rotate) == 0
            out = capsys.readouterr().out
            new_token, new_id = _printed(out)
            assert f"Token cũ {old_id} còn dùng được đến" in out
            assert await works(http, old_token) and await works(http, new_token)
            assert await asyncio.to_thread(cli, ["tokens", "revoke", old_id, *common]) == 0
            assert f"Đã thu hồi token {old_id}." in capsys.readouterr().out
            assert not await works(http, old_token) and await works(http, new_token)
            assert await asyncio.to_thread(cli, ["tokens", "rotate", old_id, *common]) == 1
            assert "Tracking từ chối (404)" in capsys.readouterr().err
            past = ["tokens", "issue", "--subject", "x", "--role", "agency", "--expires-at", "2000-01-01T00:00:00Z"]
            assert await asyncio.to_thread(cli, [*past, *common]) == 1
            assert "Tracking từ chối (422)" in capsys.readouterr().err
    finally:
        server.should_exit = True
        await serving


def _printed(out: str) -> tuple[str, str]:
    """The token and its id as `dondoc tokens issue|rotate` prints them."""
    token = out.split("hãy lưu lại ngay): ")[1].split()[0]
    token_id = out.split("Mã token: ")[1].split()[0]
    return token, token_id
