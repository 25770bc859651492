"""Withdrawing a plan over HTTP: every assignment it made is cancelled on the broker, once; the plan shows
when it was withdrawn, cannot be submitted again, and no longer holds its agencies in the directory."""

from __future__ import annotations

import json

import aio_pika

from services.intake.config import Settings
from services.intake.main import create_app
from shared.contracts.topology import EVENTS_EXCHANGE
from tests.conftest import eventually, random_ref
from tests.integration.conftest import OPERATOR, running


def plan(number: str) -> dict[str, object]:
    return {
        "issuer": "Đảng ủy phường",
        "number": number,
        "title": "Kế hoạch kiểm tra công tác phòng cháy năm 2027",
        "issued_on": "2026-12-01",
        "assignments": [
            {"agency": "Uỷ ban nhân dân phường", "task": "Rà soát các hộ kinh doanh."},
            {"agency": "Ban Tuyên giáo", "task": "Tuyên truyền trên loa phường."},
        ],
        "deadlines": [{"period": "2027-H1", "due": "2027-06-30"}],
    }


async def test_a_withdrawn_plan_cancels_each_assignment_once(service_settings, amqp) -> None:
    exchange = await amqp.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    listener = await amqp.declare_queue(random_ref("listen-"), exclusive=True)
    await listener.bind(exchange, "assignment.cancelled.#")
    number = f"{random_ref('n')}-KH/ĐU"
    async with running(create_app(service_settings(Settings)), OPERATOR) as http:
        registered = await http.post("/plans", json=plan(number))
        assert registered.status_code == 201, registered.text
        plan_id = registered.json()["plan_id"]
        held = await http.delete("/directory/agencies/tuyen-giao")
        assert held.status_code == 409 and plan_id in held.json()["detail"], held.text
        ids = {a["agency"]: a["assignment_id"] for a in registered.json()["assignments"]}

        withdrawn = await http.post(f"/plans/{plan_id}/withdraw", json={"reason": "Kế hoạch ban hành nhầm."})
        assert withdrawn.status_code == 200, withdrawn.text
        assert withdrawn.json() == {"plan_id": plan_id, "status": "withdrawn", "cancelled": ["ubnd", "tuyen-giao"]}
        received = [await eventually(lambda: listener.get(no_ack=True, fail=False), what="a cancellation") for _ in ids]
        bodies = [json.loads(m.body) for m in received]
        assert {b["assignment_id"] for b in bodies} == set(ids.values())
        assert {b["reason"] for b in bodies} == {"Kế hoạch ban hành nhầm."}

        again = await http.post(f"/plans/{plan_id}/withdraw")
        assert again.status_code == 200 and again.json()["cancelled"] == []
        shown = (await http.get(f"/plans/{plan_id}")).json()
        assert shown["withdrawn_at"] and shown["withdrawn_by"] == "operator:operator"
        resubmitted = await http.post("/plans", json=plan(number))
        assert resubmitted.status_code == 409 and "thu hồi" in resubmitted.json()["detail"], resubmitted.text
        assert (await http.post("/plans/nothere/withdraw")).status_code == 404
        assert await listener.get(no_ack=True, fail=False) is None  # nothing more was published
        released = await http.delete("/directory/agencies/tuyen-giao")
        assert released.status_code == 200 and released.json()["agencies_removed"] == ["tuyen-giao"], released.text
