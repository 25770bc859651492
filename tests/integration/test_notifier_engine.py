"""The escalation engine on the real database with a fake clock: stop conditions (report, acknowledgement,
cancellation), a deadline extension, the ladder snapshot, silences and the preview over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.contracts.events import (
    AssignmentAcknowledged,
    AssignmentCancelled,
    DeadlineExtended,
    ReportSubmitted,
)
from shared.contracts.ladder import Ladder
from shared.domain.calendar import end_of_day
from shared.domain.clock import VIETNAM, FakeClock
from shared.platform.deliveries import TransientError
from shared.platform.outbox import stored_rows
from tests.integration.notifier_harness import DIRECTORY, created, drop, notifier, steps_taken

START = datetime(2026, 6, 1, 10, 0, tzinfo=VIETNAM).astimezone(UTC)
DUE = end_of_day(datetime(2026, 6, 30).date())


async def test_a_report_stops_its_period_at_once_and_an_acknowledgement_stops_only_its_ladder(
    mongo_url: str, database_name: str
) -> None:
    clock = FakeClock(START)
    async with notifier(mongo_url, database_name, clock) as n:
        event = created("chi-bo-khu-1", DUE, START)
        await n.projector(event)
        for moment in (DUE - timedelta(days=7), DUE - timedelta(days=1), DUE + timedelta(seconds=1)):
            clock.set(moment)
            await n.scan_all()
        taken = await steps_taken(n, event.assignment_id)
        assert ("overdue#1", "chi-bo-khu-1@hoa-an.example") in taken
        assert ("ack-escalation#1", "thuong-truc@hoa-an.example") in taken  # never acknowledged
        assert ("reminder-7d#1", "chi-bo-khu-1@hoa-an.example") in taken

        await n.projector(
            ReportSubmitted(
                correlation_id=event.plan_id,
                agency=event.agency,
                assignment_id=event.assignment_id,
                plan_id=event.plan_id,
                period="2026-FY",
                submitted_at=clock.now(),
                due_at=DUE,
                late_by_seconds=1,
                revision=1,
            )
        )
        clock.advance(timedelta(days=60))
        assert await n.scan_all() == 0
        assert await steps_taken(n, event.assignment_id) == taken  # a late report ends escalation

        # The acknowledgement ladder of another assignment stops; its report ladder goes on.
        other = created("mttq", DUE + timedelta(days=60), clock.now())
        await n.projector(other)
        await n.projector(
            AssignmentAcknowledged(
                correlation_id=other.plan_id,
                agency=other.agency,
                assignment_id=other.assignment_id,
                plan_id=other.plan_id,
            )
        )
        clock.advance(timedelta(days=61))
        await n.scan_all()
        steps = {step for step, _ in await steps_taken(n, other.assignment_id)}
        assert "overdue#1" in steps and not any(s.startswith("ack-") for s in steps)
    await drop(mongo_url, database_name)


async def test_cancellation_stops_everything(mongo_url: str, database_name: str) -> None:
    clock = FakeClock(START)
    async with notifier(mongo_url, database_name, clock) as n:
        event = created("tuyen-giao", DUE, START)
        await n.projector(event)
        await n.projector(
            AssignmentCancelled(
                correlation_id=event.plan_id,
                agency=event.agency,
                assignment_id=event.assignment_id,
                plan_id=event.plan_id,
                reason="Kế hoạch được thay thế",
            )
        )
        clock.set(DUE + timedelta(days=90))
        assert await n.scan_all() == 0
        assert await steps_taken(n, event.assignment_id) == []
    await drop(mongo_url, database_name)


async def test_a_cancellation_that_overtakes_its_assignment_is_retried_not_lost(
    mongo_url: str, database_name: str
) -> None:
    clock = FakeClock(START)
    async with notifier(mongo_url, database_name, clock) as n:
        event = created("tuyen-giao", DUE, START)
        cancelled = AssignmentCancelled(
            correlation_id=event.plan_id,
            agency=event.agency,
            assignment_id=event.assignment_id,
            plan_id=event.plan_id,
            reason="Kế hoạch được thay thế",
        )
        with pytest.raises(TransientError):
            await n.projector(cancelled)  # before its assignment: the consumer will redeliver it
        await n.projector(event)
        await n.projector(cancelled)  # the redelivery, after the assignment
        clock.set(DUE + timedelta(days=90))
        assert await n.scan_all() == 0
        assert await steps_taken(n, event.assignment_id) == []
    await drop(mongo_url, database_name)


async def test_an_extended_deadline_moves_the_ladder_and_a_redelivered_event_changes_nothing(
    mongo_url: str, database_name: str
) -> None:
    clock = FakeClock(START)
    async with notifier(mongo_url, database_name, clock) as n:
        event = created("ubnd", DUE, START)
        await n.projector(event)
        await n.projector(
            AssignmentAcknowledged(
                correlation_id=event.plan_id,
                agency=event.agency,
                assignment_id=event.assignment_id,
                plan_id=event.plan_id,
            )
        )
        clock.set(DUE + timedelta(hours=1))
        await n.scan_all()
        new_due = DUE + timedelta(days=14)
        extension = DeadlineExtended(
            correlation_id=event.plan_id,
            agency=event.agency,
            request_id="r1",
            assignment_id=event.assignment_id,
            plan_id=event.plan_id,
            period="2026-FY",
            previous_due_at=DUE,
            due_at=new_due,
            wording="gia hạn đến 14/7",
            occurred_at=clock.now(),
        )
        assert (await n.projector(extension)).value == "processed"
        assert (await n.projector(extension)).value == "duplicate"
        period = await n.repository.get(f"{event.assignment_id}:2026-FY")
        assert period["rev"] == 1
        assert period["next_check_at"] - (new_due - timedelta(days=7)) < timedelta(milliseconds=1)
        clock.set(new_due + timedelta(hours=1))
        await n.scan_all()
        rows = await n.repository.notices.find({"period_id": f"{event.assignment_id}:2026-FY"}).to_list()
        overdue = sorted((row["rev"], row["address"]) for row in rows if row["step"] == "overdue")
        assert overdue == [
            (0, "thuong-truc@hoa-an.example"),
            (0, "ubnd@hoa-an.example"),
            (1, "thuong-truc@hoa-an.example"),
            (1, "ubnd@hoa-an.example"),
        ]
        events = await stored_rows(n.repository.periods.database, {"event_type": "escalation.sent"})
        assert events and all(e["routing_key"] == "escalation.sent.ubnd.ubnd" for e in events)
    await drop(mongo_url, database_name)


async def test_an_open_period_keeps_the_ladder_it_opened_with(mongo_url: str, database_name: str) -> None:
    clock = FakeClock(START)
    async with notifier(mongo_url, database_name, clock) as n:
        event = created("chi-bo-khu-2", DUE, START)
        await n.projector(event)
    shorter = Ladder.from_data(
        {"report": [{"name": "only", "at": "0", "to": ["supervisor"], "level": 1, "ask": "explain"}]}
    )
    async with notifier(mongo_url, database_name, clock, ladder=shorter) as n:
        clock.set(DUE + timedelta(seconds=1))
        await n.scan_all()
        steps = {step for step, _ in await steps_taken(n, event.assignment_id)}
        assert "overdue#1" in steps and "only#1" not in steps
    await drop(mongo_url, database_name)


async def test_silences_over_http_hold_notices_as_suppressed_and_release_them(
    mongo_url: str, database_name: str
) -> None:
    clock = FakeClock(START)
    async with notifier(mongo_url, database_name, clock) as n, n.http() as http:
        event = created("hoi-phu-nu", DUE, START)
        await n.projector(event)
        await n.projector(
            AssignmentAcknowledged(
                correlation_id=event.plan_id,
                agency=event.agency,
                assignment_id=event.assignment_id,
                plan_id=event.plan_id,
            )
        )
        silence = {
            "plan_id": event.plan_id,
            "starts_at": START.isoformat(),
            "ends_at": (DUE + timedelta(days=2)).isoformat(),
            "reason": "Tết",
            "created_by": "operator",
        }
        created_silence = await http.post("/silences", json=silence)
        assert created_silence.status_code == 201, created_silence.text
        silence_id = created_silence.json()["silence_id"]
        assert [s["silence_id"] for s in (await http.get("/silences")).json()["silences"]] == [silence_id]
        assert (await http.post("/silences", json={**silence, "plan_id": None})).status_code == 422

        clock.set(DUE + timedelta(hours=1))
        preview = (await http.get("/escalations/preview", params={"at": clock.now().isoformat()})).json()
        assert preview["emails"] == [] and len(preview["suppressed"]) == 2
        await n.scan_all()
        assert await steps_taken(n, event.assignment_id) == []
        suppressed = await n.repository.suppressions.find({"period_id": f"{event.assignment_id}:2026-FY"}).to_list()
        assert {row["address"] for row in suppressed} == {"hoi-phu-nu@hoa-an.example", "mttq@hoa-an.example"}

        assert (await http.delete(f"/silences/{silence_id}")).status_code == 204
        assert (await http.delete(f"/silences/{silence_id}")).status_code == 404
        preview = (await http.get("/escalations/preview")).json()
        assert sorted(e["to"] for e in preview["emails"]) == ["hoi-phu-nu@hoa-an.example", "mttq@hoa-an.example"]
        assert await n.repository.emails.count_documents({}) == 0  # the preview sends nothing
        await n.scan_all()
        assert [step for step, _ in await steps_taken(n, event.assignment_id)] == ["overdue#1", "overdue#1"]
        released = await n.repository.suppressions.find({"released_at": {"$ne": None}}).to_list()
        assert len(released) == 2
    await drop(mongo_url, database_name)


def test_the_directory_chain_used_here_has_three_levels() -> None:
    assert DIRECTORY.supervisor("hoi-phu-nu").code == "mttq"
    assert DIRECTORY.supervisor("chi-bo-khu-1").code == "thuong-truc"


async def test_later_emails_quote_a_reworded_task(mongo_url: str, database_name: str) -> None:
    from shared.contracts.events import AssignmentRevised

    clock = FakeClock(START)
    async with notifier(mongo_url, database_name, clock) as n:
        event = created("chi-bo-khu-2", DUE, START)
        revised = AssignmentRevised(
            correlation_id=event.plan_id,
            agency=event.agency,
            assignment_id=event.assignment_id,
            plan_id=event.plan_id,
            task="Báo cáo kết quả, kèm danh sách đảng viên tham gia.",
            previous_task=event.task,
            plan_version=1,
            occurred_at=START,
        )
        with pytest.raises(TransientError):
            await n.projector(revised)  # before its assignment: the consumer will redeliver it
        await n.projector(event)
        assert (await n.projector(revised)).value == "processed"
        assert (await n.projector(revised)).value == "duplicate"
        items = await n.repository.periods.find({"assignment_id": event.assignment_id}).to_list()
        assert len(items) == 2 and {i["task"] for i in items} == {revised.task}  # the period and the ack window

        clock.set(DUE - timedelta(days=7) + timedelta(hours=1))
        await n.scan_all()
        emails = await n.repository.emails.find({}).to_list()
        assert emails and all(revised.task in e["text"] and event.task not in e["text"] for e in emails)
    await drop(mongo_url, database_name)


async def test_a_silence_records_the_operator_of_the_token_not_a_name_in_the_body(
    mongo_url: str, database_name: str
) -> None:
    clock = FakeClock(START)
    async with notifier(mongo_url, database_name, clock) as n, n.http() as http:
        body = {
            "agency": "ubnd",
            "starts_at": START.isoformat(),
            "ends_at": (START + timedelta(days=1)).isoformat(),
            "reason": "Tết",
        }
        forged = await http.post("/silences", json={**body, "created_by": "chu-tich-ubnd"})
        plain = await http.post("/silences", json=body)
        assert forged.status_code == plain.status_code == 201, (forged.text, plain.text)
        assert forged.json()["created_by"] == plain.json()["created_by"] == "operator"  # the bootstrap token's
        stored = await n.repository.silences.find().to_list()
        assert sorted(row["created_by"] for row in stored) == ["operator", "operator"]
        listed = (await http.get("/silences")).json()["silences"]
        assert {s["created_by"] for s in listed} == {"operator"}
    await drop(mongo_url, database_name)
