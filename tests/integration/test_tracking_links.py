"""Personal links and sessions on the real database and broker: issue, exchange, act; expired and revoked links
(410 with the reason); sessions that end; a view session that reads and changes nothing; another agency's
session refused (403, counted); renewal published as link.requested; the rate limit."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import uvicorn
from prometheus_client import REGISTRY

from deploy.local.infra import free_port
from services.cli.main import main as cli
from services.tracking.config import Settings
from services.tracking.main import create_app
from shared.contracts.topology import EVENTS_EXCHANGE
from shared.domain.clock import FakeClock
from tests.conftest import eventually, random_ref
from tests.integration.conftest import OPERATOR, OPERATOR_TOKEN, running
from tests.integration.test_tracking_consumer import publish
from tests.integration.test_tracking_http import CELL, NOW, _status_is, two_quarters


async def _link(http, agency: str, scope: str = "act", view_of: str | None = None) -> str:
    answer = await http.post("/links", json={"agency": agency, "scope": scope, "view_of": view_of}, headers=OPERATOR)
    assert answer.status_code == 201, answer.text
    return answer.json()["secret"]


async def _session(http, secret: str) -> dict[str, str]:
    answer = await http.post("/links/exchange", json={"secret": secret})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['session']}"}


def _forbidden() -> float:
    return REGISTRY.get_sample_value("dondoc_forbidden_total", {"channel": "http"}) or 0.0


async def test_a_link_gives_a_session_that_acts_only_on_its_own_agency_and_ends(service_settings, amqp, capsys) -> None:
    clock = FakeClock(NOW)
    app = create_app(service_settings(Settings, session_ttl_hours=12, link_ttl_days=30), clock=clock)
    event = two_quarters(random_ref("plan"))
    base = f"/assignments/{event.assignment_id}"
    async with running(app) as http:
        await publish(amqp, event.routing_key(), event.model_dump_json().encode())
        await eventually(lambda: _status_is(http, base, 200, OPERATOR), what="the assignment to be recorded")
        assert (await http.post("/links", json={"agency": CELL.code})).status_code == 401
        secret = await _link(http, CELL.code)
        exchanged = (await http.post("/links/exchange", json={"secret": secret})).json()
        assert exchanged["agency"] == CELL.code and exchanged["scope"] == "act" and exchanged["view_of"] is None
        assert exchanged["expires_at"].startswith("2027-03-01T14:00:00")
        me = {"Authorization": f"Bearer {exchanged['session']}"}
        assert (await http.get("/tokens/me", headers=me)).json() == {
            "subject": CELL.code,
            "role": "agency",
            "expires_at": exchanged["expires_at"],
        }
        assert (await http.post(f"{base}/acknowledge", headers=me)).status_code == 200

        stranger = await _session(http, await _link(http, "ubnd"))
        before = _forbidden()
        assert (await http.post(f"{base}/progress", json={"percent": 10}, headers=stranger)).status_code == 403
        assert (await http.get(base, headers=stranger)).status_code == 403
        assert (await http.get(f"/agencies/{CELL.code}/assignments", headers=stranger)).status_code == 403
        assert _forbidden() == before + 3

        clock.advance(timedelta(hours=12))
        ended = await http.get(base, headers=me)
        assert ended.status_code == 401 and "hết hạn" in ended.json()["detail"]
        assert (await http.post("/links/exchange", json={"secret": secret})).status_code == 200  # link still valid
        clock.advance(timedelta(days=30))
        expired = await http.post("/links/exchange", json={"secret": secret})
        assert expired.status_code == 410 and expired.json()["reason"] == "expired"
        assert (await http.post("/links/exchange", json={"secret": "not-a-link"})).status_code == 404
    logged = capsys.readouterr()
    assert "link exchanged" in logged.out  # the log was captured, and it holds neither the secret nor the session
    assert secret not in logged.out + logged.err and exchanged["session"] not in logged.out + logged.err


async def test_a_view_session_reads_the_late_body_and_changes_nothing(service_settings, amqp) -> None:
    clock = FakeClock(NOW)
    app = create_app(service_settings(Settings), clock=clock)
    event = two_quarters(random_ref("plan"))
    base = f"/assignments/{event.assignment_id}"
    async with running(app) as http:
        await publish(amqp, event.routing_key(), event.model_dump_json().encode())
        await eventually(lambda: _status_is(http, base, 200, OPERATOR), what="the assignment to be recorded")
        refused = await http.post("/links", json={"agency": "dang-uy", "scope": "view"}, headers=OPERATOR)
        assert refused.status_code == 409 and "view_of" in refused.json()["detail"]
        secret = await _link(http, "dang-uy", "view", CELL.code)
        exchanged = (await http.post("/links/exchange", json={"secret": secret})).json()
        assert (exchanged["agency"], exchanged["scope"], exchanged["view_of"]) == ("dang-uy", "view", CELL.code)
        viewer = {"Authorization": f"Bearer {exchanged['session']}"}
        assert (await http.get("/tokens/me", headers=viewer)).json()["role"] == "viewer"
        assert (await http.get(base, headers=viewer)).status_code == 200
        assert (await http.get(f"{base}/history", headers=viewer)).status_code == 200
        listed = await http.get(f"/agencies/{CELL.code}/assignments", headers=viewer)
        assert event.assignment_id in [item["assignment_id"] for item in listed.json()["items"]]
        assert (await http.get("/agencies/dang-uy/assignments", headers=viewer)).status_code == 403
        assert (await http.get(f"/plans/{event.plan_id}/status", headers=viewer)).status_code == 403
        for path, body in (("acknowledge", None), ("progress", {"percent": 5}), ("reports", {"period": "2027-Q1"})):
            assert (await http.post(f"{base}/{path}", json=body, headers=viewer)).status_code == 403, path
        assert (await http.get(base, headers=OPERATOR)).json()["state"] == "assigned"


async def test_revoking_an_agencys_links_ends_its_sessions_and_renewal_asks_the_notifier(
    service_settings, amqp
) -> None:
    app = create_app(service_settings(Settings))
    async with running(app) as http:
        queue = await amqp.declare_queue(exclusive=True)
        await queue.bind(await amqp.get_exchange(EVENTS_EXCHANGE), routing_key="link.requested")
        agency = random_ref("cq-")
        secret = await _link(http, agency)
        other_secret = await _link(http, "ubnd")
        session = await _session(http, secret)
        other = await _session(http, other_secret)
        assert (await http.delete("/links", params={"agency": agency})).status_code == 401
        assert (await http.delete("/links", headers=OPERATOR)).status_code == 422
        revoked = await http.delete("/links", params={"agency": agency}, headers=OPERATOR)
        assert revoked.status_code == 200 and revoked.json() == {"revoked": 1}
        assert (await http.get("/tokens/me", headers=session)).status_code == 401
        assert (await http.get("/tokens/me", headers=other)).status_code == 200
        gone = await http.post("/links/exchange", json={"secret": secret})
        assert gone.status_code == 410 and gone.json()["reason"] == "revoked"

        renewal = await http.post("/links/renewal", json={"secret": secret})
        assert renewal.status_code == 202 and renewal.json() == {"agency": agency}
        assert (await http.post("/links/renewal", json={"secret": "unknown"})).status_code == 404
        message = await eventually(lambda: queue.get(no_ack=True, fail=False), what="link.requested on the broker")
        body = json.loads(message.body)
        assert message.routing_key == "link.requested"
        assert (body["event_type"], body["agency"], body["scope"], body["correlation_id"]) == (
            "link.requested",
            agency,
            "act",
            f"link:{agency}",
        )
        assert secret not in message.body.decode()

        everything = await http.delete("/links", params={"all": "true"}, headers=OPERATOR)
        assert everything.status_code == 200 and everything.json()["revoked"] >= 1
        assert (await http.get("/tokens/me", headers=other)).status_code == 401


async def test_exchange_and_renewal_are_rate_limited_per_client(service_settings) -> None:
    """The test client's address is 127.0.0.1, a trusted proxy by default: X-Forwarded-For names the client."""
    app = create_app(service_settings(Settings, link_rate_per_minute=1, link_rate_burst=2))
    async with running(app) as http:
        first = {"X-Forwarded-For": "203.0.113.7"}
        for _ in range(2):
            assert (await http.post("/links/exchange", json={"secret": "unknown"}, headers=first)).status_code == 404
        limited = await http.post("/links/exchange", json={"secret": "unknown"}, headers=first)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert (await http.post("/links/renewal", json={"secret": "unknown"}, headers=first)).status_code == 404
        second = {"X-Forwarded-For": "203.0.113.7, 198.51.100.9"}  # the proxy's own entry is the last one
        assert (await http.post("/links/exchange", json={"secret": "unknown"}, headers=second)).status_code == 404
    untrusting = create_app(service_settings(Settings, link_rate_per_minute=1, link_rate_burst=1, trusted_proxies=[]))
    async with running(untrusting) as http:
        assert (await http.post("/links/exchange", json={"secret": "x"}, headers=first)).status_code == 404
        assert (await http.post("/links/exchange", json={"secret": "x"}, headers=second)).status_code == 429


async def test_an_operator_revokes_links_with_the_cli(service_settings, capsys) -> None:
    """`dondoc links revoke --agency X` and `--all`, over real HTTP."""
    port = free_port()
    app = create_app(service_settings(Settings))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: asyncio.sleep(0, server.started), what="tracking to listen")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            agency = random_ref("cq-")
            secret = await _link(http, agency)
            await _link(http, agency, "view", "ubnd")
            common = ["--url", f"http://127.0.0.1:{port}", "--token", OPERATOR_TOKEN]
            assert await asyncio.to_thread(cli, ["links", "revoke", "--agency", agency, *common]) == 0
            assert f"Đã thu hồi 2 đường dẫn của cơ quan {agency}" in capsys.readouterr().out
            assert (await http.post("/links/exchange", json={"secret": secret})).json()["reason"] == "revoked"
            assert await asyncio.to_thread(cli, ["links", "revoke", "--all", *common]) == 0
            assert "của mọi cơ quan" in capsys.readouterr().out
            assert await asyncio.to_thread(cli, ["links", "revoke", "--all", "--url", common[1], "--token", "x"]) == 1
    finally:
        server.should_exit = True
        await serving
