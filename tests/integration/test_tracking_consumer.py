"""Tracking's consumer on the real broker and database: dead letters with reasons, idempotency."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import aio_pika
from prometheus_client import REGISTRY

from services.tracking.config import Settings
from services.tracking.main import create_app
from shared.contracts.events import AgencyRef, AssignmentCreated, DeliverableRequirement, Provenance, ReportingDeadline
from shared.contracts.topology import EVENTS_EXCHANGE, REASON_HEADER, TRACKING_QUEUE
from tests.conftest import eventually, random_ref
from tests.integration.conftest import OPERATOR_TOKEN, running

OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}

UBND = AgencyRef(code="ubnd", kind="ubnd", name="Ủy ban nhân dân phường Hòa An")
ISSUER = AgencyRef(code="dang-uy", kind="office", name="Đảng ủy phường Hòa An")


def assignment_created(plan_id: str | None = None) -> AssignmentCreated:
    plan_id = plan_id or random_ref("plan")
    return AssignmentCreated(
        correlation_id=plan_id,
        agency=UBND,
        actor=ISSUER,
        assignment_id=random_ref("a"),
        plan_id=plan_id,
        plan_number="3-KH/ĐU",
        plan_title="Kế hoạch thử",
        issuer=ISSUER,
        task="Báo cáo kết quả",
        deadlines=[ReportingDeadline(period="2027-H1", due_at=datetime.now(UTC) + timedelta(days=30))],
    )


async def publish(channel: aio_pika.abc.AbstractChannel, routing_key: str, body: bytes) -> None:
    exchange = await channel.get_exchange(EVENTS_EXCHANGE)
    message = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
    await exchange.publish(message, routing_key=routing_key, mandatory=True)


def consumed(outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "dondoc_messages_consumed_total",
        {"service": "tracking", "event_type": "assignment.created", "outcome": outcome},
    )
    return value or 0.0


async def test_malformed_messages_are_dead_lettered_with_their_reason_and_the_consumer_goes_on(
    service_settings, amqp
) -> None:
    app = create_app(service_settings(Settings))
    async with running(app) as http:
        dlq = await amqp.get_queue(TRACKING_QUEUE.dead_letter_queue)
        await dlq.purge()
        await publish(amqp, "assignment.created.ubnd.ubnd", b"{not json")
        await publish(amqp, "assignment.created.ubnd.ubnd", json.dumps({"assignment_id": 7}).encode())
        valid = assignment_created()
        await publish(amqp, valid.routing_key(), valid.model_dump_json().encode())

        async def assignment_recorded() -> bool:
            return (await http.get(f"/assignments/{valid.assignment_id}", headers=OPERATOR)).status_code == 200

        await eventually(assignment_recorded, what="the valid message after two bad ones to be recorded")

        reasons = []
        for _ in range(2):
            message = await eventually(lambda: dlq.get(no_ack=True, fail=False), what="a dead letter")
            reasons.append(message.headers[REASON_HEADER])
        assert any("not JSON" in r for r in reasons), reasons
        assert any("does not match its contract" in r and "assignment_id" in r for r in reasons), reasons
        assert await dlq.get(no_ack=True, fail=False) is None


async def test_a_redelivered_event_changes_nothing(service_settings, amqp, mongo_url, database_name) -> None:
    app = create_app(service_settings(Settings))
    async with running(app) as http:
        event = assignment_created()
        duplicates_before = consumed("duplicate")
        for _ in range(2):
            await publish(amqp, event.routing_key(), event.model_dump_json().encode())

        async def duplicate_seen() -> bool:
            return consumed("duplicate") >= duplicates_before + 1

        await eventually(duplicate_seen, what="the second copy to be recognised as a duplicate")
        history = (await http.get(f"/assignments/{event.assignment_id}/history", headers=OPERATOR)).json()
        assert [e["event_id"] for e in history["events"]] == [event.event_id]
        record = (await http.get(f"/assignments/{event.assignment_id}", headers=OPERATOR)).json()
        assert record["state"] == "assigned"
        assert list(record["periods"]) == ["2027-H1"]


async def test_a_deadline_moved_by_a_corrected_plan_is_applied(service_settings, amqp) -> None:
    from shared.contracts.events import DeadlineExtended

    app = create_app(service_settings(Settings))
    async with running(app) as http:
        created = assignment_created()
        await publish(amqp, created.routing_key(), created.model_dump_json().encode())
        old_due = created.deadlines[0].due_at
        moved = DeadlineExtended(
            correlation_id=created.plan_id,
            agency=UBND,
            actor=ISSUER,
            request_id="amendment-2",
            assignment_id=created.assignment_id,
            plan_id=created.plan_id,
            period="2027-H1",
            previous_due_at=old_due,
            due_at=old_due - timedelta(days=10),
            wording="trước ngày 16 tháng 6",
        )
        await publish(amqp, moved.routing_key(), moved.model_dump_json().encode())

        async def deadline_moved() -> bool:
            response = await http.get(f"/assignments/{created.assignment_id}", headers=OPERATOR)
            if response.status_code != 200:
                return False
            due = datetime.fromisoformat(response.json()["periods"]["2027-H1"]["due_at"])
            return abs((due - moved.due_at).total_seconds()) < 0.001  # MongoDB keeps milliseconds

        await eventually(deadline_moved, what="the moved deadline to be applied")


async def test_a_reworded_task_and_new_deliverables_are_served_and_kept_in_the_history(service_settings, amqp) -> None:
    from shared.contracts.events import AssignmentRevised

    app = create_app(service_settings(Settings))
    async with running(app) as http:
        created = assignment_created()

        def revision(task: str, previous: str, version: int, **more: object) -> AssignmentRevised:
            return AssignmentRevised(
                correlation_id=created.plan_id,
                agency=UBND,
                actor=ISSUER,
                assignment_id=created.assignment_id,
                plan_id=created.plan_id,
                task=task,
                previous_task=previous,
                plan_version=version,
                **more,  # type: ignore[arg-type]
            )

        folder = DeliverableRequirement(items=("01 file word",), send_to="https://drive.example.vn/bao-cao")
        clause_3 = Provenance(section="III", clause="3", line=44)
        second = revision(
            "Báo cáo kết quả và danh sách hộ đã kiểm tra",
            created.task,
            2,
            deliverables_required=[folder],
            provenance=[clause_3],
        )
        # The revision overtakes the assignment it rewords: it is retried until the assignment is recorded.
        await publish(amqp, second.routing_key(), second.model_dump_json().encode())
        await publish(amqp, created.routing_key(), created.model_dump_json().encode())

        async def history() -> list[str]:
            response = await http.get(f"/assignments/{created.assignment_id}/history", headers=OPERATOR)
            return [e["event_type"] for e in response.json()["events"]] if response.status_code == 200 else []

        assert await eventually(lambda: _has(history, "assignment.revised"), what="the revision in the history") == [
            "assignment.created",
            "assignment.revised",
        ]
        record = (await http.get(f"/assignments/{created.assignment_id}", headers=OPERATOR)).json()
        assert record["task"] == second.task and record["task_revision"] == 2
        # the correction changed where reports go and moved the task to clause 3: served from now on
        assert [d["send_to"] for d in record["deliverables_required"]] == ["https://drive.example.vn/bao-cao"]
        assert [(p["section"], p["clause"]) for p in record["provenance"]] == [("III", "3")]

        # A replay and an older revision that arrives late change nothing but the audit trail of the latter.
        first = revision("Báo cáo kết quả (bản sửa lần 1)", created.task, 1)
        for event in (second, first):
            await publish(amqp, event.routing_key(), event.model_dump_json().encode())
        await eventually(lambda: _count(history, "assignment.revised", 2), what="the late revision recorded")
        record = (await http.get(f"/assignments/{created.assignment_id}", headers=OPERATOR)).json()
        assert record["task"] == second.task and record["task_revision"] == 2
        assert [d["send_to"] for d in record["deliverables_required"]] == ["https://drive.example.vn/bao-cao"]


async def _has(history, event_type: str) -> list[str] | None:  # type: ignore[no-untyped-def]
    events = await history()
    return events if event_type in events else None


async def _count(history, event_type: str, count: int) -> bool:  # type: ignore[no-untyped-def]
    return (await history()).count(event_type) == count
