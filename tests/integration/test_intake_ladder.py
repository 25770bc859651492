"""A plan's own escalation ladder through intake on the real broker: refused with the step and the field named
when invalid; when valid, on every `assignment.created` it publishes."""

from __future__ import annotations

import json
from typing import Any

import aio_pika

from services.intake.config import Settings
from services.intake.main import create_app
from shared.contracts.topology import EVENTS_EXCHANGE
from tests.conftest import eventually, random_ref
from tests.integration.conftest import OPERATOR, running

LADDER = {
    "acknowledgement": [],
    "report": [
        {"name": "early", "at": "-14d", "to": ["agency"], "level": 0, "ask": "report"},
        {
            "name": "late",
            "at": "+1wd",
            "to": ["supervisor"],
            "cc": ["agency"],
            "level": 1,
            "ask": "explain",
            "repeat": {"every": "5wd", "times": 3},
        },
    ],
}


def plan(number: str, ladder: Any) -> dict[str, Any]:
    return {
        "issuer": "Đảng ủy phường",
        "number": number,
        "title": "Kế hoạch kiểm tra công tác phòng cháy năm 2027",
        "issued_on": "2026-12-01",
        "assignments": [
            {"agency": "Uỷ ban nhân dân phường", "task": "Rà soát các hộ kinh doanh."},
            {"agency": "Ban Tuyên giáo", "task": "Tuyên truyền trên loa phường."},
        ],
        "deadlines": [{"period": "2027-H1", "due": "2027-06-30", "wording": "trước ngày 01 tháng 7"}],
        "escalation_ladder": ladder,
    }


async def test_a_plan_ladder_is_validated_at_intake_and_reaches_assignment_created(service_settings, amqp) -> None:
    exchange = await amqp.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    listener = await amqp.declare_queue(random_ref("listen-"), exclusive=True)
    await listener.bind(exchange, "assignment.created.#")
    async with running(create_app(service_settings(Settings)), OPERATOR) as http:
        bad = {"report": [LADDER["report"][0], {**LADDER["report"][1], "at": "3 tuần sau", "to": ["chu-tich"]}]}
        refused = await http.post("/plans", json=plan(f"{random_ref('n')}-KH/ĐU", bad))
        assert refused.status_code == 422, refused.text
        problems = {".".join(map(str, e["loc"])): e["msg"] for e in refused.json()["errors"]}
        assert set(problems) == {"body.escalation_ladder.report.1.at", "body.escalation_ladder.report.1.to.0"}
        assert all(msg.startswith("step 'late': ") for msg in problems.values())
        assert "3 tuần sau" in problems["body.escalation_ladder.report.1.at"]
        empty = await http.post("/plans", json=plan(f"{random_ref('n')}-KH/ĐU", {}))
        assert empty.status_code == 422 and empty.json()["errors"][0]["where"] == "escalation_ladder"
        assert await listener.get(no_ack=True, fail=False) is None  # nothing refused was published

        accepted = await http.post("/plans", json=plan(f"{random_ref('n')}-KH/ĐU", LADDER))
        assert accepted.status_code == 201, accepted.text
        bodies = [
            json.loads(
                (await eventually(lambda: listener.get(no_ack=True, fail=False), what="assignment.created")).body
            )
            for _ in range(2)
        ]
        assert sorted(b["agency"]["code"] for b in bodies) == ["tuyen-giao", "ubnd"]
        for body in bodies:
            ladder = body["escalation_ladder"]
            assert ladder["acknowledgement"] == []
            assert [(s["name"], s["at"]) for s in ladder["report"]] == [("early", "-14d"), ("late", "+1wd")]
            assert ladder["report"][1]["repeat"] == {"every": "5wd", "times": 3}
