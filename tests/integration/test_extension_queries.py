"""Pending extension requests read over HTTP (`GET /extensions`): an agency its own (its token decides), an
issuer its plans', an operator all; each with the `request_id` a decision takes. Real broker and database."""

from __future__ import annotations

from datetime import timedelta

import httpx

from services.tracking.config import Settings
from services.tracking.main import create_app
from shared.contracts.events import AgencyRef, AssignmentCreated, ReportingDeadline
from shared.domain.clock import FakeClock
from tests.conftest import eventually, random_ref
from tests.integration.conftest import OPERATOR, issue_token, running
from tests.integration.test_tracking_consumer import ISSUER, publish
from tests.integration.test_tracking_http import CELL, NOW, _status_is

OTHER_CELL = AgencyRef(code="chi-bo-khu-2", kind="party_cell", name="Chi bộ khu dân cư số 2")
OTHER_ISSUER = AgencyRef(code="ubnd-phuong", kind="people_committee", name="Ủy ban nhân dân phường Hòa An")


def created(agency: AgencyRef, issuer: AgencyRef, plan_id: str) -> AssignmentCreated:
    return AssignmentCreated(
        correlation_id=plan_id,
        agency=agency,
        actor=issuer,
        assignment_id=random_ref("a"),
        plan_id=plan_id,
        plan_number="9-KH/ĐU",
        plan_title="Kế hoạch thử",
        issuer=issuer,
        task="Tổ chức học tập",
        deadlines=[ReportingDeadline(period="2027-Q1", due_at=NOW + timedelta(days=10))],
    )


async def ask(http: httpx.AsyncClient, event: AssignmentCreated, headers: dict[str, str]) -> str:
    base = f"/assignments/{event.assignment_id}"
    await eventually(lambda: _status_is(http, base, 200, headers), what="the assignment to be recorded")
    body = {"period": "2027-Q1", "requested_due_at": (NOW + timedelta(days=20)).isoformat(), "reason": "Chờ số liệu"}
    answer = await http.post(f"{base}/extensions", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["event"]["request_id"])


async def listed(http: httpx.AsyncClient, headers: dict[str, str], **params: str) -> list[str]:
    answer = await http.get("/extensions", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    return [item["request_id"] for item in answer.json()["items"]]


async def test_each_reader_sees_the_pending_requests_it_may_decide_or_made(service_settings, amqp) -> None:
    clock = FakeClock(NOW)
    plan, other_plan = random_ref("plan"), random_ref("plan")
    events = [created(CELL, ISSUER, plan), created(OTHER_CELL, ISSUER, plan), created(CELL, OTHER_ISSUER, other_plan)]
    async with running(create_app(service_settings(Settings), clock=clock)) as http:
        for event in events:
            await publish(amqp, event.routing_key(), event.model_dump_json().encode())
        cell, other_cell = await issue_token(http, CELL.code), await issue_token(http, OTHER_CELL.code)
        issuer = await issue_token(http, ISSUER.code, role="issuer")
        other_issuer = await issue_token(http, OTHER_ISSUER.code, role="issuer")
        asked = []
        for event, headers in zip(events, [cell, other_cell, cell], strict=True):
            asked.append(await ask(http, event, headers))
            clock.advance(timedelta(minutes=1))  # listed oldest first
        mine, theirs, elsewhere = asked

        assert await listed(http, cell, state="pending") == [mine, elsewhere]
        assert await listed(http, cell, state="pending", plan_id=plan) == [mine]
        assert await listed(http, cell, agency=CELL.code, assignment_id=events[2].assignment_id) == [elsewhere]
        assert await listed(http, other_cell, state="pending") == [theirs]
        assert await listed(http, issuer, state="pending") == [mine, theirs]
        assert await listed(http, issuer, plan_id=other_plan) == []
        assert await listed(http, other_issuer, state="pending") == [elsewhere]
        assert await listed(http, OPERATOR, state="pending", agency=CELL.code) == [mine, elsewhere]
        assert await listed(http, OPERATOR, state="pending", limit="1", offset="1", agency=CELL.code) == [elsewhere]

        item = (await http.get("/extensions", params={"plan_id": plan}, headers=other_cell)).json()["items"][0]
        assert item["assignment_id"] == events[1].assignment_id and item["status"] == "pending"
        assert item["agency"]["code"] == OTHER_CELL.code and item["period"] == "2027-Q1"
        assert item["reason"] == "Chờ số liệu"

        decided = await http.post(f"/extensions/{mine}/approve", json={"reason": "Đồng ý"}, headers=issuer)
        assert decided.status_code == 200, decided.text
        assert await listed(http, issuer, state="pending") == [theirs]
        assert await listed(http, cell, state="approved") == [mine]


async def test_what_a_reader_may_not_ask_is_refused(service_settings) -> None:
    async with running(create_app(service_settings(Settings))) as http:
        cell = await issue_token(http, CELL.code)
        assert (await http.get("/extensions")).status_code == 401
        other = await http.get("/extensions", params={"agency": OTHER_CELL.code}, headers=cell)
        assert other.status_code == 403
        for params in ({"state": "waiting"}, {"plan_id": {"$ne": 1}.__repr__()}, {"limit": "0"}):
            answer = await http.get("/extensions", params=params, headers=cell)
            assert answer.status_code == 422, (params, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json")
