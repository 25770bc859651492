"""A plan's own ladder and an operator's re-application of the deployment's ladder, on the real database with
a fake clock: the plan's notices follow its own steps; re-applying changes the matching open periods' next
check, records who did it, never resends a step already sent, and makes a scan still holding an old claim
drop its batch; the route is the operator's only."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.notifier.use_cases.errors import ClaimLost
from shared.contracts.events import AssignmentAcknowledged, AssignmentCreated, ReportSubmitted
from shared.contracts.ladder import Ladder
from shared.domain.calendar import end_of_day
from shared.domain.clock import VIETNAM, FakeClock
from shared.platform.outbox import stored_rows
from tests.conftest import random_ref
from tests.integration.notifier_harness import created, drop, notifier, steps_taken

START = datetime(2026, 6, 1, 10, 0, tzinfo=VIETNAM).astimezone(UTC)
DUE = end_of_day(datetime(2026, 6, 30).date())
AGENCY = {
    "chi-bo-khu-1": "chi-bo-khu-1@hoa-an.example",
    "mttq": "mttq@hoa-an.example",
    "ubnd": "ubnd@hoa-an.example",
    "tuyen-giao": "tuyen-giao@hoa-an.example",
}
SUPERVISOR = "thuong-truc@hoa-an.example"
UPPER = "tuyengiao@quan-uy.example"
OWN = {
    "report": [
        {"name": "early", "at": "-14d", "to": ["agency"], "level": 0, "ask": "report"},
        {"name": "late", "at": "+1wd", "to": ["supervisor"], "cc": ["agency"], "level": 1, "ask": "explain"},
    ]
}
NEW = Ladder.from_data(
    {
        "acknowledgement": [{"name": "ack-reminder", "at": "+2wd", "to": ["agency"], "level": 0, "ask": "acknowledge"}],
        "report": [
            {"name": "reminder-3d", "at": "-3d", "to": ["agency"], "level": 0, "ask": "report"},  # already past
            {"name": "overdue", "at": "0", "to": ["agency", "supervisor"], "level": 0, "ask": "report"},  # both told
            {"name": "follow-up", "at": "+2d", "to": ["upper_supervisor"], "level": 2, "ask": "explain"},
        ],
    }
)


def with_ladder(event: AssignmentCreated, ladder: dict[str, Any]) -> AssignmentCreated:
    """The event as the notifier receives it from intake: the plan's ladder on it, through JSON."""
    return AssignmentCreated.model_validate_json(
        json.dumps({**json.loads(event.model_dump_json()), "escalation_ladder": ladder})
    )


async def scan_at(n: Any, *moments: datetime) -> None:
    for moment in moments:
        n.clock.set(moment)
        await n.scan_all()


async def test_a_plan_with_its_own_ladder_gets_its_notices_on_its_own_steps(mongo_url: str, database_name: str) -> None:
    clock = FakeClock(START)
    async with notifier(mongo_url, database_name, clock) as n:
        own = with_ladder(created("chi-bo-khu-1", DUE, START), {**OWN, "acknowledgement": []})
        plain = created("mttq", DUE, START)
        await n.projector(own)
        await n.projector(plain)
        period = await n.repository.get(f"{own.assignment_id}:2026-FY")
        assert period["ladder_source"] == "plan" and period["ladder_version"] == Ladder.from_data(OWN).version
        ack = await n.repository.get(f"{own.assignment_id}:ack")
        assert ack["steps"] == [] and ack["ladder_source"] == "plan" and ack["next_check_at"] is None

        second = timedelta(seconds=1)
        await scan_at(n, *(DUE + timedelta(days=days) + second for days in (-14, -7, -1, 0, 1, 30)))
        agency = AGENCY["chi-bo-khu-1"]
        assert await steps_taken(n, own.assignment_id) == [
            ("early#1", agency),
            ("late#1", agency),
            ("late#1", SUPERVISOR),
        ]
        steps = {step for step, _ in await steps_taken(n, plain.assignment_id)}
        assert {"ack-reminder#1", "reminder-7d#1", "reminder-1d#1", "overdue#1", "level-1#1"} <= steps
        assert not steps & {"early#1", "late#1"}
        rows = await stored_rows(n.repository.periods.database, {"event_type": "escalation.sent"})
        sent = [json.loads(row["body"]) for row in rows]
        mine = [e for e in sent if e["assignment_id"] == own.assignment_id]
        assert {e["step"] for e in mine} == {"early", "late"}
        assert all(e["ladder_version"] == Ladder.from_data(OWN).version for e in mine)
    await drop(mongo_url, database_name)


async def test_reapplying_the_ladder_changes_open_periods_and_never_resends_a_step(
    mongo_url: str, database_name: str
) -> None:
    clock = FakeClock(START)
    p1, p2, p3, p4 = (random_ref("plan-") for _ in range(4))
    a = created("ubnd", DUE, START, plan_id=p1)
    b = created("mttq", DUE, START, plan_id=p2)
    c = with_ladder(created("tuyen-giao", DUE, START, plan_id=p3), OWN)  # its own report ladder only
    d = created("chi-bo-khu-1", DUE, START, plan_id=p4)
    async with notifier(mongo_url, database_name, clock) as n:
        for event in (a, b, c, d):
            await n.projector(event)
        await n.projector(
            AssignmentAcknowledged(correlation_id=p1, agency=a.agency, assignment_id=a.assignment_id, plan_id=p1)
        )
        await n.projector(
            ReportSubmitted(
                correlation_id=p4,
                agency=d.agency,
                assignment_id=d.assignment_id,
                plan_id=p4,
                period="2026-FY",
                submitted_at=START,
                due_at=DUE,
                late_by_seconds=0,
                revision=1,
            )
        )
        await scan_at(n, DUE - timedelta(days=14) + timedelta(seconds=1), DUE + timedelta(seconds=1))
        before = {e.assignment_id: await steps_taken(n, e.assignment_id) for e in (a, b, c, d)}
        assert ("overdue#1", AGENCY["mttq"]) in before[b.assignment_id]
        assert ("overdue#1", SUPERVISOR) in before[b.assignment_id]  # a copy under the old ladder
        old = await n.repository.get(f"{b.assignment_id}:2026-FY")
        old_version = old["ladder_version"]

    clock.advance(timedelta(hours=1))
    async with notifier(mongo_url, database_name, clock, ladder=NEW, reapply_batch=1) as n, n.http() as http:
        # Filtered: only the agency asked for (its report period and its acknowledgement window).
        answer = await http.post("/ladder/reapply", json={"agency": "mttq", "reason": "thang mới 2026"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["changed"] == 2 and answer.json()["ladder_version"] == NEW.version
        assert (await n.repository.get(f"{a.assignment_id}:2026-FY"))["ladder_version"] == old_version

        period = await n.repository.get(f"{b.assignment_id}:2026-FY")
        assert period["ladder_version"] == NEW.version and period["ladder_source"] == "deployment"
        [change] = period["ladder_changes"]
        assert (change["by"], change["from_version"], change["to_version"], change["reason"]) == (
            "operator",
            old_version,
            NEW.version,
            "thang mới 2026",
        )
        assert abs(change["at"] - clock.now()) < timedelta(milliseconds=1)
        follow_up = NEW.track("report")[2].offset.apply(DUE, n.rules.calendar)
        assert abs(period["next_check_at"] - follow_up) < timedelta(milliseconds=1)  # was level-1 (+3wd)
        assert old["next_check_at"] - follow_up > timedelta(hours=12)
        assert "reminder-3d#1" in period["done"]  # past when the ladder changed: not sent late

        # Unfiltered: the others on the deployment's ladder, page by page; the plan's own ladder stays.
        answer = await http.post("/ladder/reapply", json={})
        assert answer.json()["changed"] == 3  # a's report period; c's and d's acknowledgement windows
        assert (await n.repository.get(f"{c.assignment_id}:2026-FY"))["ladder_source"] == "plan"
        assert (await n.repository.get(f"{c.assignment_id}:ack"))["ladder_version"] == NEW.version
        for untouched in (f"{a.assignment_id}:ack", f"{d.assignment_id}:2026-FY"):  # acknowledged, submitted
            assert (await n.repository.get(untouched))["ladder_version"] == old_version
        assert (await http.post("/ladder/reapply")).json()["changed"] == 0  # no body: everything, already done

        await scan_at(n, DUE + timedelta(days=2, seconds=1), DUE + timedelta(days=40))
        after = await steps_taken(n, b.assignment_id)
        assert len(after) == len(set(after))  # never twice for the same (period, step, recipient)
        new_ones = sorted(set(after) - set(before[b.assignment_id]))
        assert new_ones == [("follow-up#1", UPPER)]  # overdue already went to both; no late reminder
        steps_c = {step for step, _ in await steps_taken(n, c.assignment_id)}
        assert "late#1" in steps_c and "follow-up#1" not in steps_c

        moved = await http.post("/ladder/reapply", json={"plan_id": p3, "include_plan_overrides": True})
        assert moved.json()["changed"] == 1
        period_c = await n.repository.get(f"{c.assignment_id}:2026-FY")
        assert (period_c["ladder_source"], period_c["ladder_changes"][-1]["from_source"]) == ("deployment", "plan")
    await drop(mongo_url, database_name)


async def test_a_scan_holding_a_claim_across_a_reapply_writes_nothing(mongo_url: str, database_name: str) -> None:
    clock = FakeClock(DUE + timedelta(hours=2))
    event = created("mttq", DUE, START)
    async with (
        notifier(mongo_url, database_name, clock) as old,
        notifier(mongo_url, database_name, clock, ladder=NEW) as new,
        new.http() as http,
    ):
        await old.projector(event)
        now = clock.now()
        token, claimed = await old.repository.claim_due(now, 50, timedelta(seconds=60))
        assert {p["_id"] for p in claimed} >= {f"{event.assignment_id}:2026-FY"}
        run = await old.use_cases.scan.plan(claimed, now)
        assert any(n.occurrence.key == "overdue#1" for d in run.decisions for n in d.sends)

        assert (await http.post("/ladder/reapply", json={})).json()["changed"] == 2
        with pytest.raises(ClaimLost):
            await old.use_cases.scan.write(run, token)
        assert await old.repository.notices.count_documents({}) == 0
        await new.scan_all()
        assert await steps_taken(new, event.assignment_id) == [  # the new ladder's steps, each once
            ("ack-reminder#1", AGENCY["mttq"]),
            ("overdue#1", AGENCY["mttq"]),
            ("overdue#1", SUPERVISOR),
        ]
    await drop(mongo_url, database_name)


async def test_reapplying_needs_the_operator_token(mongo_url: str, database_name: str) -> None:
    clock = FakeClock(START)
    async with notifier(mongo_url, database_name, clock) as n:
        await n.projector(created("ubnd", DUE, START))
        for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "operator-token-for-tests"}):
            async with n.http(headers=headers) as http:
                assert (await http.post("/ladder/reapply", json={})).status_code == 401
        async with n.http() as http:
            assert (await http.post("/ladder/reapply", json={"plan_id": {"$ne": ""}})).status_code == 422
    await drop(mongo_url, database_name)
