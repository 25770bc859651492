"""Agencies act over HTTP with their own tokens; the rules hold on a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.tracking.config import Settings
from services.tracking.main import create_app
from shared.contracts.events import AgencyRef, AssignmentCreated, ReportingDeadline
from shared.domain.clock import FakeClock
from tests.conftest import eventually, random_ref
from tests.integration.conftest import OPERATOR_TOKEN, issue_token, running
from tests.integration.test_tracking_consumer import ISSUER, publish

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
CELL = AgencyRef(code="chi-bo-khu-1", kind="party_cell", name="Chi bộ khu dân cư số 1")


def two_quarters(plan_id: str) -> AssignmentCreated:
    return AssignmentCreated(
        correlation_id=plan_id,
        agency=CELL,
        actor=ISSUER,
        assignment_id=random_ref("a"),
        plan_id=plan_id,
        plan_number="9-KH/ĐU",
        plan_title="Kế hoạch thử",
        issuer=ISSUER,
        task="Tổ chức học tập",
        deadlines=[
            ReportingDeadline(period="2027-Q1", due_at=NOW + timedelta(days=10)),
            ReportingDeadline(period="2027-Q2", due_at=NOW + timedelta(days=100)),
        ],
    )


async def _status_is(http, path: str, code: int, headers) -> bool:
    return (await http.get(path, headers=headers)).status_code == code


async def test_the_assignment_lifecycle_and_its_refusals(service_settings, amqp) -> None:
    clock = FakeClock(NOW)
    app = create_app(service_settings(Settings), clock=clock)
    plan_id = random_ref("plan")
    event = two_quarters(plan_id)
    async with running(app) as http:
        await publish(amqp, event.routing_key(), event.model_dump_json().encode())
        me = await issue_token(http, CELL.code)
        stranger = await issue_token(http, "ubnd")
        base = f"/assignments/{event.assignment_id}"
        await eventually(lambda: _status_is(http, base, 200, me), what="the assignment to be recorded")

        assert (await http.post(f"{base}/acknowledge")).status_code == 401
        other = await http.post(f"{base}/acknowledge", headers=stranger)
        assert other.status_code == 403
        assert (await http.get(base, headers=stranger)).status_code == 403
        first = await http.post(f"{base}/acknowledge", headers={**me, "Idempotency-Key": "ack-1"})
        assert first.status_code == 200 and first.json()["duplicate"] is False
        replay = await http.post(f"{base}/acknowledge", headers={**me, "Idempotency-Key": "ack-1"})
        assert replay.json() == {**first.json(), "duplicate": True}
        again = await http.post(f"{base}/acknowledge", headers=me)
        assert again.status_code == 409 and "tiếp nhận từ trước" in again.json()["detail"]

        forward = await http.post(f"{base}/progress", json={"percent": 40, "note": "đang làm"}, headers=me)
        assert forward.status_code == 200
        assert (await http.post(f"{base}/progress", json={"percent": 10}, headers=me)).status_code == 409
        unknown = await http.post(f"{base}/progress", json={"percent": 50, "colour": "đỏ"}, headers=me)
        assert unknown.status_code == 422

        wrong_period = await http.post(f"{base}/reports", json={"period": "2027-Q3"}, headers=me)
        assert wrong_period.status_code == 409 and "2027-Q1" in wrong_period.json()["detail"]

        on_time = (await http.post(f"{base}/reports", json={"period": "2027-Q1"}, headers=me)).json()["event"]
        assert on_time["late_by_seconds"] == 0 and on_time["revision"] == 1
        clock.advance(timedelta(days=101))
        late = (await http.post(f"{base}/reports", json={"period": "2027-Q2"}, headers=me)).json()["event"]
        assert late["late_by_seconds"] == 86_400
        revision = (await http.post(f"{base}/reports", json={"period": "2027-Q1"}, headers=me)).json()["event"]
        assert revision["revision"] == 2
        assert (await http.get(base, headers=me)).json()["state"] == "completed"

        operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
        status = (await http.get(f"/plans/{plan_id}/status", headers=operator)).json()
        assert status["totals"]["done_on_time"] == 1 and status["totals"]["done_late"] == 1
        assert (await http.get(f"/plans/{plan_id}/status", headers=me)).status_code == 403
        history = (await http.get(f"{base}/history", headers=me)).json()["events"]
        assert [(e["event_type"], e["channel"]) for e in history] == [
            ("assignment.created", "amqp"),
            ("assignment.acknowledged", "http"),
            ("assignment.progress", "http"),
            ("report.submitted", "http"),
            ("report.submitted", "http"),
            ("report.submitted", "http"),
        ]
        listed = (await http.get(f"/agencies/{CELL.code}/assignments?period=2027-Q2", headers=me)).json()
        assert event.assignment_id in [i["assignment_id"] for i in listed["items"]]
        assert (await http.get("/agencies/ubnd/assignments", headers=me)).status_code == 403


async def test_an_approved_extension_moves_the_deadline_and_a_revoked_token_stops_working(
    service_settings, amqp
) -> None:
    clock = FakeClock(NOW)
    app = create_app(service_settings(Settings), clock=clock)
    event = two_quarters(random_ref("plan"))
    async with running(app) as http:
        await publish(amqp, event.routing_key(), event.model_dump_json().encode())
        me = await issue_token(http, CELL.code)
        issuer = await issue_token(http, ISSUER.code, role="issuer")
        wrong_issuer = await issue_token(http, "ubnd", role="issuer")
        base = f"/assignments/{event.assignment_id}"
        await eventually(lambda: _status_is(http, base, 200, me), what="the assignment to be recorded")

        new_due = NOW + timedelta(days=20)
        asked = await http.post(
            f"{base}/extensions",
            json={"period": "2027-Q1", "requested_due_at": new_due.isoformat(), "reason": "Chờ số liệu từ tổ dân phố"},
            headers=me,
        )
        assert asked.status_code == 200, asked.text
        request_id = asked.json()["event"]["request_id"]
        assert (await http.post(f"/extensions/{request_id}/approve", json={}, headers=me)).status_code == 403
        assert (await http.post(f"/extensions/{request_id}/approve", json={}, headers=wrong_issuer)).status_code == 403
        approved = await http.post(f"/extensions/{request_id}/approve", json={"reason": "Đồng ý"}, headers=issuer)
        assert approved.status_code == 200 and approved.json()["event"]["event_type"] == "deadline.extended"
        twice = await http.post(f"/extensions/{request_id}/refuse", json={}, headers=issuer)
        assert twice.status_code == 409

        clock.advance(timedelta(days=15))  # past the old deadline, within the new one
        report = (await http.post(f"{base}/reports", json={"period": "2027-Q1"}, headers=me)).json()["event"]
        assert report["late_by_seconds"] == 0

        tokens = (await http.get(base, headers=me)).status_code
        assert tokens == 200
        operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
        issued = await http.post("/tokens", json={"subject": CELL.code, "role": "agency"}, headers=operator)
        revoked = await http.delete(f"/tokens/{issued.json()['token_id']}", headers=operator)
        assert revoked.status_code == 200
        assert (await http.get(base, headers={"Authorization": f"Bearer {issued.json()['token']}"})).status_code == 401
