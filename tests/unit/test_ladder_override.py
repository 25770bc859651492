"""A plan's own ladder and an operator's re-application: the schema shared by intake and the notifier, its
errors naming the step and the field, which ladder a period opens with, and how a period's state is
recomputed when an operator gives it the deployment's current ladder (pure functions, no I/O)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

import services.notifier.rules.ladder as notifier_ladder
import shared.contracts.ladder as shared_ladder
from services.intake.domain import PlanRejected, PlanSubmission, register_plan
from services.notifier import domain
from services.notifier.config import DEFAULT_LADDER
from services.notifier.rules.decisions import decide, opening_state, reapplied_state
from services.notifier.rules.ladder import deployment_track, for_track
from services.notifier.rules.recipients import Addressbook
from services.notifier.rules.schedule import SendingWindow
from services.notifier.use_cases.commands import ReapplyRequest
from services.notifier.use_cases.ladder import selection
from shared.contracts.events import AssignmentCreated
from shared.contracts.ladder import Ladder, LadderSpec
from shared.domain.calendar import DEFAULT_OVERRIDES, end_of_day, load_calendar
from shared.domain.clock import VIETNAM
from shared.domain.directory import Directory
from shared.platform.settings import DEFAULT_DIRECTORY

CALENDAR = load_calendar(DEFAULT_OVERRIDES)
ALWAYS = SendingWindow.parse("always", CALENDAR)
DEPLOYMENT = Ladder.load(DEFAULT_LADDER)
DIRECTORY = Directory.load(DEFAULT_DIRECTORY)
BOOK = Addressbook(DIRECTORY)
OWN_REPORT = {
    "report": [
        {"name": "early", "at": "-14d", "to": ["agency"], "level": 0, "ask": "report"},
        {"name": "late", "at": "+1wd", "to": ["supervisor"], "cc": ["agency"], "level": 1, "ask": "explain"},
    ]
}


def vn(year: int, month: int, day: int, hour: int = 9) -> datetime:
    return datetime(year, month, day, hour, tzinfo=VIETNAM).astimezone(UTC)


def assignment(at: datetime, ladder: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "assignment_id": "a1",
        "plan_id": "p1",
        "plan_number": "85-KH/ĐU",
        "plan_title": "Kế hoạch thử",
        "task": "Báo cáo kết quả",
        "issuer": {"code": "dang-uy", "kind": "office", "name": "Đảng ủy phường"},
        "agency": {"code": "chi-bo-khu-1", "kind": "party_cell", "name": "Chi bộ khu dân cư số 1"},
        "occurred_at": at,
        "escalation_ladder": ladder,
    }


def submission(ladder: Any) -> dict[str, Any]:
    return {
        "issuer": "Đảng ủy phường",
        "number": "7-KH/ĐU",
        "title": "Kế hoạch thử năm 2027",
        "assignments": [{"agency": "ubnd", "task": "Báo cáo"}],
        "deadlines": [{"period": "2027-H1", "due": "2027-06-30"}],
        "escalation_ladder": ladder,
    }


# --- the schema, shared ---------------------------------------------------------------------------------


def test_the_schema_lives_in_the_shared_library_and_the_notifier_uses_the_same_classes() -> None:
    for name in ("Offset", "Repeat", "Step", "StepRule", "LadderSpec", "Ladder", "LadderError"):
        # The notifier imports the schema from shared.contracts.ladder and defines none of its own.
        assert getattr(notifier_ladder, name, getattr(shared_ladder, name)) is getattr(shared_ladder, name), name
    assert (
        DEPLOYMENT.version
        == Ladder.from_spec(
            LadderSpec.model_validate(
                {
                    "acknowledgement": [s.model_dump(exclude={"track"}) for s in DEPLOYMENT.track("acknowledgement")],
                    "report": [s.model_dump(exclude={"track"}) for s in DEPLOYMENT.track("report")],
                }
            )
        ).version
    )


def test_an_invalid_step_is_named_by_its_place_its_name_and_its_field() -> None:
    bad = {
        "report": [
            OWN_REPORT["report"][0],
            {"name": "level-1", "at": "soon", "to": ["boss"], "level": 1, "ask": "explain"},
        ]
    }
    with pytest.raises(ValidationError) as caught:
        LadderSpec.model_validate(bad)
    errors = {".".join(map(str, e["loc"])): e["msg"] for e in caught.value.errors()}
    assert set(errors) >= {"report.1.at", "report.1.to.0"}
    assert errors["report.1.at"].startswith("step 'level-1': ") and "soon" in errors["report.1.at"]


@pytest.mark.parametrize(
    ("ladder", "fragment"),
    [
        ({"report": [{"name": "x", "at": "+401d", "to": ["agency"], "level": 0, "ask": "report"}]}, "400"),
        ({"report": [{"name": "x", "at": "+99999999wd", "to": ["agency"], "level": 0, "ask": "report"}]}, "not like"),
        (
            {
                "report": [
                    {
                        "name": "x",
                        "at": "0",
                        "to": ["agency"],
                        "level": 0,
                        "ask": "report",
                        "repeat": {"every": "30d", "times": 20},
                    }
                ]
            },
            "every × times",
        ),
        (
            {
                "report": [{"name": "x", "at": "0", "to": ["agency"], "level": 0, "ask": "report"}],
                "acknowledgement": [{"name": "x", "at": "+1wd", "to": ["agency"], "level": 0, "ask": "acknowledge"}],
            },
            "unique",
        ),
        (
            {
                "report": [
                    {"name": f"s{i}", "at": "0", "to": ["agency"], "level": 0, "ask": "report"} for i in range(21)
                ]
            },
            "at most 20",
        ),
        ({"reports": []}, "Extra inputs"),
    ],
)
def test_a_ladder_is_bounded(ladder: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        LadderSpec.model_validate(ladder)


def test_events_carry_the_ladder_and_ignore_what_a_later_version_adds() -> None:
    base = {
        "correlation_id": "p1",
        "agency": {"code": "ubnd", "kind": "ubnd", "name": "UBND"},
        "assignment_id": "a1",
        "plan_id": "p1",
        "plan_number": "1",
        "plan_title": "t",
        "issuer": {"code": "dang-uy", "kind": "office", "name": "Đảng ủy"},
        "task": "x",
        "deadlines": [],
    }
    assert AssignmentCreated.model_validate(base).escalation_ladder is None  # an old message still parses
    newer = {"report": [{**OWN_REPORT["report"][0], "channel": "sms"}], "priority": "high"}
    event = AssignmentCreated.model_validate({**base, "escalation_ladder": newer})
    assert event.escalation_ladder is not None and event.escalation_ladder.report is not None
    assert [s.name for s in event.escalation_ladder.report] == ["early"]
    assert event.escalation_ladder.acknowledgement is None


# --- which ladder a period opens with --------------------------------------------------------------------


def test_without_an_override_a_period_follows_the_deployment() -> None:
    period = domain.report_period(
        assignment(vn(2027, 1, 5)), {"period": "2027-H1", "due_at": vn(2027, 6, 30)}, DEPLOYMENT, "c"
    )
    assert period["ladder_source"] == "deployment" and period["ladder_version"] == DEPLOYMENT.version
    assert [s["name"] for s in period["steps"]] == [s.name for s in DEPLOYMENT.track("report")]


def test_a_plan_ladder_replaces_the_tracks_it_gives_and_only_those() -> None:
    own = assignment(vn(2027, 1, 5), OWN_REPORT)
    period = domain.report_period(own, {"period": "2027-H1", "due_at": vn(2027, 6, 30)}, DEPLOYMENT, "c")
    assert [s["name"] for s in period["steps"]] == ["early", "late"]
    assert period["ladder_source"] == "plan"
    assert period["ladder_version"] == Ladder.from_data(OWN_REPORT).version != DEPLOYMENT.version
    window = domain.acknowledgement_window(own, DEPLOYMENT, "c")  # no acknowledgement track given
    assert window["ladder_source"] == "deployment"
    assert [s["name"] for s in window["steps"]] == ["assignment-notice", "ack-reminder", "ack-escalation"]

    quiet = for_track(DEPLOYMENT, {**OWN_REPORT, "acknowledgement": []}, "acknowledgement")
    assert quiet.steps == [] and quiet.source == "plan"  # an empty list: no acknowledgement chasing


def test_a_plan_ladder_decides_who_is_told_when() -> None:
    due = end_of_day(date(2027, 6, 30))
    record = domain.report_period(
        assignment(vn(2027, 1, 5), OWN_REPORT), {"period": "2027-H1", "due_at": due}, DEPLOYMENT, CALENDAR.version
    )
    skipped, first = opening_state(record, vn(2027, 1, 5), CALENDAR, ALWAYS)
    period = {"_id": "a1:2027-H1", **record, **domain.opened(skipped, first, vn(2027, 1, 5))}
    assert first == due - timedelta(days=14)  # "early"; a deadline is to the ms already (end_of_day)
    late = decide(period, vn(2027, 7, 2), CALENDAR, ALWAYS, BOOK.recipients_for(period), set(), [])
    assert sorted((n.occurrence.key, n.recipient.role) for n in late.sends) == [
        ("late#1", "agency"),
        ("late#1", "supervisor"),
    ]
    assert "overdue#1" not in {n.occurrence.key for n in late.sends}


# --- intake ------------------------------------------------------------------------------------------------


def test_intake_puts_a_valid_ladder_on_every_assignment_created() -> None:
    plan = PlanSubmission.model_validate(submission(OWN_REPORT))
    _, events = register_plan(plan, DIRECTORY, date(2026, 12, 1), 100)
    created = [e for e in events if isinstance(e, AssignmentCreated)]
    assert created and all(e.escalation_ladder is not None for e in created)
    wire = created[0].model_dump(mode="json")["escalation_ladder"]
    assert [s["name"] for s in wire["report"]] == ["early", "late"] and wire["acknowledgement"] is None
    _, plain = register_plan(PlanSubmission.model_validate(submission(None)), DIRECTORY, date(2026, 12, 1), 100)
    assert all(e.escalation_ladder is None for e in plain if isinstance(e, AssignmentCreated))


def test_intake_refuses_an_invalid_or_empty_ladder() -> None:
    with pytest.raises(ValidationError) as caught:
        PlanSubmission.model_validate(submission({"report": [{**OWN_REPORT["report"][1], "level": 12}]}))
    [error] = caught.value.errors()
    assert error["loc"] == ("escalation_ladder", "report", 0, "level") and "step 'late'" in error["msg"]
    with pytest.raises(PlanRejected) as rejected:
        register_plan(PlanSubmission.model_validate(submission({})), DIRECTORY, date(2026, 12, 1), 100)
    assert rejected.value.problems[0]["where"] == "escalation_ladder"


# --- an operator re-applies the ladder ---------------------------------------------------------------------


def opened_period(ladder: dict[str, Any] | None, opened: datetime, due: datetime) -> dict[str, Any]:
    record = domain.report_period(
        assignment(opened, ladder), {"period": "2027-H1", "due_at": due}, DEPLOYMENT, CALENDAR.version
    )
    skipped, first = opening_state(record, opened, CALENDAR, ALWAYS)
    return {"_id": "a1:2027-H1", **record, **domain.opened(skipped, first, opened)}


def test_reapplying_keeps_what_was_done_and_schedules_what_is_new() -> None:
    due = end_of_day(date(2027, 6, 30))
    period = opened_period(None, vn(2027, 1, 5), due)
    # Both reminders and the overdue notice were taken; level-1 is next.
    period["done"] = ["reminder-7d#1", "reminder-1d#1", "overdue#1"]
    shorter = Ladder.from_data(
        {
            "report": [
                {"name": "overdue", "at": "+1h", "to": ["agency"], "level": 0, "ask": "report"},  # same step, moved
                {"name": "level-1", "at": "+1wd", "to": ["supervisor"], "level": 1, "ask": "explain"},
            ]
        }
    )
    now = vn(2027, 7, 1, 10)
    done, next_check = reapplied_state(period, shorter.track("report"), now, CALENDAR, ALWAYS)
    assert done == ["reminder-7d#1", "reminder-1d#1", "overdue#1"]  # overdue stays sent though it moved
    assert next_check == shorter.track("report")[1].offset.apply(due, CALENDAR)  # to the ms already


def test_reapplying_does_not_send_a_reminder_whose_moment_has_passed_but_sends_a_due_escalation() -> None:
    due = end_of_day(date(2027, 6, 30))
    period = opened_period(OWN_REPORT, vn(2027, 1, 5), due)
    period["done"] = ["early#1"]
    now = vn(2027, 6, 25)  # 5 days before the deadline: the deployment's 7-day reminder is past
    done, next_check = reapplied_state(period, DEPLOYMENT.track("report"), now, CALENDAR, ALWAYS)
    assert done == ["early#1", "reminder-7d#1"]
    assert next_check is not None and next_check > now  # the 1-day reminder is next

    overdue = vn(2027, 7, 15)  # well past the deadline, nothing taken yet: the escalations are due at once
    period["done"] = []
    done, next_check = reapplied_state(period, DEPLOYMENT.track("report"), overdue, CALENDAR, ALWAYS)
    assert done == ["reminder-7d#1", "reminder-1d#1"]
    assert next_check is not None and next_check <= overdue


def test_a_reminder_the_old_ladder_already_owed_is_still_sent() -> None:
    due = end_of_day(date(2027, 6, 30))
    period = opened_period(None, vn(2027, 1, 5), due)
    now = vn(2027, 6, 24)  # reminder-7d fell yesterday and no scan has taken it yet
    done, next_check = reapplied_state(period, DEPLOYMENT.track("report"), now, CALENDAR, ALWAYS)
    assert "reminder-7d#1" not in done and next_check is not None and next_check < now


def test_the_selection_leaves_plan_ladders_alone_unless_asked() -> None:
    version = DEPLOYMENT.version
    plain = selection(ReapplyRequest(plan_id="p1", agency="ubnd"), version)
    assert plain == {
        "plan_id": "p1",
        "agency.code": "ubnd",
        "ladder_version": {"$ne": version},
        "ladder_source": {"$ne": "plan"},
    }
    both = selection(ReapplyRequest(include_plan_overrides=True), version)
    assert both == {"$or": [{"ladder_version": {"$ne": version}}, {"ladder_source": "plan"}]}
    assert deployment_track(DEPLOYMENT, "report").source == "deployment"
    for bad in ({"plan_id": {"$ne": ""}}, {"agency": "UBND phường"}, {"plan": "p1"}):
        with pytest.raises(ValidationError):
            ReapplyRequest.model_validate(bad)


# --- the command line --------------------------------------------------------------------------------------


def test_the_cli_sends_the_filters_and_the_token_and_answers_in_vietnamese(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import httpx

    from services.cli.main import build_parser, main

    with pytest.raises(SystemExit):
        build_parser().parse_args(["escalations", "reapply-ladder", "--help"])
    assert "không gửi lại" in capsys.readouterr().out
    assert main(["escalations", "reapply-ladder", "--token", ""]) == 2
    assert "Thiếu token" in capsys.readouterr().err

    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"change_id": "c1", "ladder_version": "abc123", "changed": 7, "conflicts": 0})

    monkeypatch.setattr(httpx, "request", httpx.Client(transport=httpx.MockTransport(answer)).request)
    code = main(
        [
            "escalations",
            "reapply-ladder",
            "--plan",
            "p1",
            "--agency",
            "ubnd",
            "--token",
            "secret",
            "--url",
            "http://notifier:8003/",
        ]
    )
    assert code == 0
    [request] = sent
    assert str(request.url) == "http://notifier:8003/ladder/reapply"
    assert request.headers["Authorization"] == "Bearer secret"
    assert json.loads(request.content) == {
        "plan_id": "p1",
        "agency": "ubnd",
        "include_plan_overrides": False,
        "reason": "",
    }
    assert "7 kỳ" in capsys.readouterr().out
