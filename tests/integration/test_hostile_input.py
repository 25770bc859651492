"""NoSQL-operator payloads at every tracking route: each is refused with a 4xx naming the field,
nothing reaches a MongoDB filter as an object, and nothing answers 5xx."""

from __future__ import annotations

import json
import re

import pytest

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

    from shared.domain.clock import FakeClock
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
    dead-letter queue with a reason naming the field (a `$` key too: unknown to the contract); nothing applied."""
    import json

    from shared.contracts.topology import TRACKING_QUEUE
    from shared.platform.dead_letters import describe

    event = assignment_created()
    bodies: list[tuple[str, dict[str, object], str]] = []
    for payload in OPERATORS:
        command = {"command_id": random_ref("c"), "assignment_id": event.assignment_id}
        bodies += [
            ("command.acknowledge.ubnd.ubnd", {**command, "assignment_id": payload}, "assignment_id"),
            ("command.progress.ubnd.ubnd", {**command, "percent": payload}, "percent"),
            ("command.report.ubnd.ubnd", {**command, "period": payload}, "period"),
            ("command.acknowledge.ubnd.ubnd", {**command, "command_id": payload}, "command_id"),
            # An unknown key is refused by the contract (commands are strict, as over HTTP), the key named.
            ("command.progress.ubnd.ubnd", {**command, "percent": 5, "$set": payload}, "$set"),
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


# --- issue #20: no 5xx from input, no large input reflected ------------------------------------------------------

NESTED = [b"[" * 100_000, b'{"a":' * 40 + b"1" + b"}" * 40, b'{"issuer": ' + b"[" * 5000 + b"]" * 5000 + b"}"]
INVALID_UTF8 = [b'{"issuer": "\xff\xfe"}', b'{"issuer": "\xed\xa0\x80"}', '{"issuer": "Đ'.encode() + b'\xc3"}']
LONE_SURROGATES = [b'{"x": "\\ud800"}', b'{"x": ["ok", "\\udc00"]}', b'{"\\udbff": 1}', b'"\\ud83d\\ude00\\udc00"']


def json_operations(openapi: dict[str, object]) -> list[tuple[str, str]]:
    """Every (method, path) of a service that takes a JSON body, its path parameters filled in."""
    operations = []
    for path, methods in openapi["paths"].items():  # type: ignore[attr-defined]
        for method, operation in methods.items():
            if "application/json" in operation.get("requestBody", {}).get("content", {}):
                operations.append((method.upper(), re.sub(r"\{[^}]+\}", "x1", path)))
    return operations


def service_apps(service_settings) -> list[tuple[str, object]]:
    from services.intake.config import Settings as IntakeSettings
    from services.intake.main import create_app as create_intake
    from services.notifier.config import Settings as NotifierSettings
    from services.notifier.main import create_app as create_notifier

    return [
        ("intake", create_intake(service_settings(IntakeSettings))),
        ("tracking", create_app(service_settings(Settings))),
        ("notifier", create_notifier(service_settings(NotifierSettings))),
    ]


async def test_nested_unencodable_and_non_utf8_bodies_get_422_at_every_json_route(service_settings) -> None:
    """The findings' 500s (deep nesting, a lone surrogate) and invalid UTF-8, at every route of every service
    that takes JSON: each 422 with a Vietnamese message, before the route (or its authentication) runs."""
    answers: list[tuple[str, str, int]] = []
    for name, app in service_apps(service_settings):
        async with running(app, OPERATOR) as http:
            operations = json_operations((await http.get("/openapi.json")).json())
            assert operations, name
            for method, path in operations:
                for body in (*NESTED, *INVALID_UTF8, *LONE_SURROGATES):
                    response = await http.request(
                        method, path, content=body, headers={"Content-Type": "application/json"}
                    )
                    answers.append((name, f"{method} {path} {body[:20]!r}", response.status_code))
                    if response.status_code == 422:
                        [problem] = response.json()["errors"]
                        assert problem["loc"][0] == "body" and problem["type"] in (
                            "json_too_deep",
                            "utf8_invalid",
                            "unicode_lone_surrogate",
                        )
    refused = [answer for answer in answers if answer[2] != 422]
    assert not refused, refused
    assert len(answers) >= 10 * len(NESTED + INVALID_UTF8 + LONE_SURROGATES)


async def test_a_lone_surrogate_in_a_plan_number_names_the_field(service_settings) -> None:
    from services.intake.config import Settings as IntakeSettings
    from services.intake.main import create_app as create_intake

    async with running(create_intake(service_settings(IntakeSettings)), OPERATOR) as http:
        body = json.dumps(plan_with("number", "12\ud800-KH/ĐU")).encode()  # json.dumps writes it as \ud800
        refused = await http.post("/plans", content=body, headers={"Content-Type": "application/json"})
        assert refused.status_code == 422
        [problem] = refused.json()["errors"]
        assert problem["loc"] == ["body", "number"] and "Trường number có mã \\ud800 đứng lẻ" in problem["msg"]
        pair = json.dumps(plan_with("title", "Kế hoạch 😀")).encode()  # a whole pair is an ordinary character
        accepted = await http.post("/plans", content=pair, headers={"Content-Type": "application/json"})
        assert accepted.status_code == 201, accepted.text


async def test_plan_documents_that_nest_too_deep_or_hold_lone_surrogates_get_422(service_settings) -> None:
    """A .json plan document is parsed by intake's reader, past the JSON body checks: still 422, never 500."""
    from services.intake.config import Settings as IntakeSettings
    from services.intake.main import create_app as create_intake

    surrogate = json.dumps(plan_with("number", "12\ud800")).encode()
    async with running(create_intake(service_settings(IntakeSettings)), OPERATOR) as http:
        for route in ("/plans/preview", "/plans/document"):
            for document in (b"[" * 100_000, b'{"issuer": ' * 3000, surrogate):
                answer = await http.post(route, files={"file": ("plan.json", document, "application/json")})
                assert answer.status_code == 422, (route, document[:20], answer.text[:300])
        as_text = await http.post("/plans/preview", content=b"[" * 100_000, headers={"Content-Type": "text/plain"})
        assert as_text.status_code == 422


async def test_a_422_names_the_field_without_reflecting_a_large_input(service_settings) -> None:
    """FastAPI's own 422 quoted the whole input: 8 MB in, 8 MB out. Now at most 100 characters of it."""
    from services.intake.config import Settings as IntakeSettings
    from services.intake.main import create_app as create_intake

    huge = "x" * (7 * 1024 * 1024)
    async with running(create_intake(service_settings(IntakeSettings)), OPERATOR) as http:
        for field in ("issuer", "agency", "extra"):
            answer = await http.post("/plans", json=plan_with(field, huge))
            assert answer.status_code == 422 and len(answer.content) < 4096, (field, len(answer.content))
            assert any(field in map(str, problem["loc"]) or field == "extra" for problem in answer.json()["errors"]), (
                answer.text
            )
        many = await http.post("/plans", json={**plan_with("title", "K"), "assignments": [{"x": 1}] * 5000})
        assert many.status_code == 422 and len(many.content) < 32 * 1024
        assert many.json()["errors"][-1]["type"] == "too_many_errors"
    async with running(create_app(service_settings(Settings)), OPERATOR) as http:
        answer = await http.post("/tokens", json={"subject": "s" * 900_000, "role": "agency"})
        assert answer.status_code == 422 and len(answer.content) < 4096


@pytest.mark.parametrize(
    "headers",
    [
        {"If-Match": "phiên bản 3".encode()},
        {"Content-Type": "application/jsonừ".encode()},
        {"X-Request-Id": bytes(range(128, 256))},
        {"Accept": "văn bản".encode(), "Accept-Language": b"\xff\xfe"},
    ],
    ids=["if-match", "content-type", "latin-1-bytes", "accept"],
)
async def test_non_ascii_header_values_never_answer_5xx(service_settings, headers: dict[str, bytes]) -> None:
    statuses = []
    for _, app in service_apps(service_settings):
        async with running(app, OPERATOR) as http:
            for method, path in json_operations((await http.get("/openapi.json")).json()):
                statuses.append((path, (await http.request(method, path, content=b"{}", headers=headers)).status_code))
            statuses.append(("/healthz", (await http.get("/healthz", headers=headers)).status_code))
    assert all(code < 500 for _, code in statuses), [s for s in statuses if s[1] >= 500]
