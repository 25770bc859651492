"""NoSQL-operator payloads at every tracking route: each is refused with a 4xx naming the field,
nothing reaches a MongoDB filter as an object, and nothing answers 5xx."""

from __future__ import annotations

from services.tracking.config import Settings
from services.tracking.main import create_app
from tests.conftest import eventually, random_ref
from tests.integration.conftest import OPERATOR_TOKEN, issue_token, running
from tests.integration.test_tracking_consumer import assignment_created, publish

OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
OPERATORS = [{"$ne": ""}, {"$gt": ""}, {"$where": "sleep(1000)"}, {"a.b": 1}, {"$regex": ".*"}, ["$ne", 1]]


async def test_operator_payloads_are_refused_everywhere(service_settings, amqp) -> None:
    app = create_app(service_settings(Settings))
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
            answers.append(
                await http.post(f"{base}/progress", json={"percent": 5, "note": "x", **{"$set": payload}}, headers=me)
            )
            answers.append(await http.post("/tokens", json={"subject": payload, "role": "agency"}, headers=OPERATOR))
        for path in (
            "/assignments/$where",
            "/assignments/a.b/history",
            "/plans/{$ne}/status",
            "/agencies/$gt/assignments",
            "/extensions/$ne/approve",
        ):
            answers.append(
                await http.get(path, headers=OPERATOR)
                if "approve" not in path
                else await http.post(path, json={}, headers=OPERATOR)
            )
        answers.append(await http.get("/agencies/ubnd/assignments?state[$ne]=x&period=$gt", headers=OPERATOR))
        statuses = [a.status_code for a in answers]
        assert all(400 <= code < 500 for code in statuses), statuses
        assert statuses.count(422) >= len(OPERATORS) * 4
        state = (await http.get(base, headers=OPERATOR)).json()
        assert state["state"] == "assigned" and state["progress"] == 0


def plan_with(field: str, payload: object) -> dict[str, object]:
    plan: dict[str, object] = {
        "issuer": "Đảng ủy phường",
        "number": "12-KH/ĐU",
        "title": "Kế hoạch",
        "assignments": [{"agency": "UBND phường", "task": "Báo cáo."}],
        "deadlines": [{"period": "2027-H1", "due": "2027-06-30"}],
    }
    if field == "agency":
        plan["assignments"] = [{"agency": payload, "task": "Báo cáo."}]
    elif field == "due":
        plan["deadlines"] = [{"period": "2027-H1", "due": payload}]
    elif field == "extra":
        plan["$where"] = payload
    else:
        plan[field] = payload
    return plan


async def test_operator_payloads_are_refused_by_intake(service_settings) -> None:
    from services.intake.config import Settings as IntakeSettings
    from services.intake.main import create_app as create_intake

    async with running(create_intake(service_settings(IntakeSettings)), OPERATOR) as http:
        answers = [
            await http.post("/plans", json=plan_with(field, payload))
            for payload in OPERATORS
            for field in ("issuer", "number", "title", "agency", "due", "extra")
        ]
        for path in ("/plans/$where", "/plans/a.b", "/plans/{$ne}", "/plans/%24gt"):
            answers.append(await http.get(path))
        answers.append(await http.post("/plans/preview", json={"issuer": {"$ne": ""}}))
        statuses = [a.status_code for a in answers]
        assert all(code == 422 for code in statuses), statuses  # each names the field it refused
        assert all("detail" in a.json() for a in answers)


async def test_operator_payloads_are_refused_by_the_notifier(mongo_url, database_name) -> None:
    from datetime import UTC, datetime

    from shared.clock import FakeClock
    from tests.integration.notifier_harness import notifier

    async with (
        notifier(mongo_url, database_name, FakeClock(datetime(2026, 12, 1, tzinfo=UTC))) as engine,
        engine.http() as http,
    ):
        silence = {
            "starts_at": "2026-12-01T00:00:00Z",
            "ends_at": "2026-12-02T00:00:00Z",
            "reason": "Tết",
            "created_by": "operator",
        }
        answers = []
        for payload in OPERATORS:
            for field in ("plan_id", "agency", "level", "created_by", "$where"):
                answers.append(await http.post("/silences", json={**silence, "agency": "ubnd", field: payload}))
        for method, path in (
            ("GET", "/assignments/$where/periods"),
            ("GET", "/assignments/a.b/periods"),
            ("DELETE", "/silences/{$ne}"),
            ("GET", "/emails?status=$ne"),
            ("GET", "/emails?limit[$gt]=0&limit=$gt"),
            ("GET", "/escalations/preview?at=$gt"),
        ):
            answers.append(await http.request(method, path))
        statuses = [a.status_code for a in answers]
        assert all(code == 422 for code in statuses), [(str(a.request.url), a.status_code) for a in answers]
        assert await engine.repository.silences.count_documents({}) == 0  # nothing was stored


async def test_operator_payloads_in_amqp_bodies_are_dead_lettered_with_the_field_named(service_settings, amqp) -> None:
    """The same table through the broker: commands and events whose fields carry operators end in the
    dead-letter queue with a reason naming the field (a `$` key is dropped by the contract); nothing applied."""
    import json

    from shared.dead_letters import describe
    from shared.topology import TRACKING_QUEUE

    event = assignment_created()
    bodies: list[tuple[str, dict[str, object], str]] = []
    for payload in OPERATORS:
        command = {"command_id": random_ref("c"), "assignment_id": event.assignment_id}
        bodies += [
            ("command.acknowledge.ubnd.ubnd", {**command, "assignment_id": payload}, "assignment_id"),
            ("command.progress.ubnd.ubnd", {**command, "percent": payload}, "percent"),
            ("command.report.ubnd.ubnd", {**command, "period": payload}, "period"),
            ("command.acknowledge.ubnd.ubnd", {**command, "command_id": payload}, "command_id"),
            # An unknown key is dropped by the contract, never read; this one is then refused for its sender.
            ("command.progress.ubnd.ubnd", {**command, "percent": 5, "$set": payload}, "no user_id"),
            ("assignment.created.ubnd.ubnd", {**json.loads(event.model_dump_json()), "agency": payload}, "agency"),
        ]
    app = create_app(service_settings(Settings))
    async with running(app, OPERATOR) as http:
        dlq = await amqp.get_queue(TRACKING_QUEUE.dead_letter_queue)
        await dlq.purge()
        for routing_key, body, _ in bodies:
            await publish(amqp, routing_key, json.dumps(body).encode())

        reasons: list[str] = []

        async def all_dead_lettered() -> bool:
            while (message := await dlq.get(no_ack=True, fail=False)) is not None:
                reasons.append(describe(TRACKING_QUEUE.dead_letter_queue, message).reason)
            return len(reasons) >= len(bodies)

        await eventually(all_dead_lettered, what="every hostile body dead-lettered")
        assert len(reasons) == len(bodies)
        for (_, _, field), reason in zip(bodies, reasons, strict=True):  # a quorum queue keeps their order
            assert field in reason, reason
        assert (await http.get(f"/assignments/{event.assignment_id}")).status_code == 404  # nothing applied
