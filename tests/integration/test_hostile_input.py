"""NoSQL-operator payloads at every tracking route: each is refused with a 4xx naming the field,
nothing reaches a MongoDB filter as an object, and nothing answers 5xx."""

from __future__ import annotations

from services.tracking.config import Settings
from services.tracking.main import create_app
from tests.conftest import eventually
from tests.integration.conftest import OPERATOR_TOKEN, issue_token, running
from tests.integration.test_tracking_consumer import assignment_created, publish

OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
OPERATORS = [{"$ne": ""}, {"$gt": ""}, {"$where": "sleep(1000)"}, {"a.b": 1}, {"$regex": ".*"}, ["$ne", 1]]


async def test_operator_payloads_are_refused_everywhere(service_settings, amqp) -> None:
    app = create_app(service_settings(Settings, operator_token=OPERATOR_TOKEN))
    event = assignment_created()
    async with running(app) as http:
        await publish(amqp, event.routing_key(), event.model_dump_json().encode())
        me = await issue_token(http, event.agency.code)
        base = f"/assignments/{event.assignment_id}"

        async def recorded() -> bool:
            return (await http.get(base, headers=OPERATOR)).status_code == 200

        await eventually(recorded, what="the assignment to be recorded")
        answers = []
        for payload in OPERATORS:
            answers.append(await http.post(f"{base}/reports", json={"period": payload}, headers=me))
            answers.append(await http.post(f"{base}/progress", json={"percent": payload}, headers=me))
            answers.append(await http.post(f"{base}/progress", json={"percent": 5, "note": "x", **{"$set": payload}},
                                           headers=me))
            answers.append(await http.post("/tokens", json={"subject": payload, "role": "agency"}, headers=OPERATOR))
        for path in ("/assignments/$where", "/assignments/a.b/history", "/plans/{$ne}/status",
                     "/agencies/$gt/assignments", "/extensions/$ne/approve"):
            answers.append(await http.get(path, headers=OPERATOR) if "approve" not in path
                           else await http.post(path, json={}, headers=OPERATOR))
        answers.append(await http.get("/agencies/ubnd/assignments?state[$ne]=x&period=$gt", headers=OPERATOR))
        statuses = [a.status_code for a in answers]
        assert all(400 <= code < 500 for code in statuses), statuses
        assert statuses.count(422) >= len(OPERATORS) * 4
        state = (await http.get(base, headers=OPERATOR)).json()
        assert state["state"] == "assigned" and state["progress"] == 0
