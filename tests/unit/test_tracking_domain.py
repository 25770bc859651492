"""Tracking's rules: the assignment state machine, reports per period (late, revisions, completion), and the
four-state status of a plan, with cancelled assignments left out."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.tracking.domain import (
    IllegalTransition,
    UnknownPeriod,
    acknowledge,
    new_assignment,
    period_status,
    plan_status,
    report_progress,
    request_extension,
    submit_report,
)
from shared.contracts.events import AgencyRef, AssignmentCreated, ReportingDeadline
from shared.domain.wording import Wording, wording_of

H1_DUE = datetime(2027, 6, 30, 16, 59, 59, 999_000, tzinfo=UTC)  # 30/06/2027 23:59:59.999 in Vietnam
FY_DUE = datetime(2027, 12, 31, 16, 59, 59, 999_000, tzinfo=UTC)
ISSUER = AgencyRef(code="dang-uy", kind="office", name="Đảng ủy phường Hòa An")
UBND = AgencyRef(code="ubnd", kind="ubnd", name="Ủy ban nhân dân phường Hòa An")


def ref(prefix: str = "a") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def assignment(
    agency: AgencyRef = UBND, periods: tuple[tuple[str, datetime], ...] | None = None, **changes: Any
) -> dict[str, Any]:
    """A tracked record built the way the consumer builds it: from a real `assignment.created` event."""
    periods = periods if periods is not None else (("2027-H1", H1_DUE), ("2027-FY", FY_DUE))
    event = AssignmentCreated(
        correlation_id=ref("p"),
        actor=ISSUER,
        agency=agency,
        assignment_id=ref(),
        plan_id=ref("p"),
        plan_number="12-KH/ĐU",
        plan_title="Kế hoạch thi đua chào mừng ngày thành lập phường",
        issuer=ISSUER,
        task="Tổng hợp kết quả phong trào ở các tổ dân phố.",
        deadlines=[ReportingDeadline(period=p, due_at=d, wording=f"kỳ {p}") for p, d in periods],
        occurred_at=datetime(2027, 1, 5, 2, tzinfo=UTC),
    )
    record = new_assignment(event.model_dump(mode="python"))
    record.update(changes)
    return record


def with_report(record: dict[str, Any], period: str, submitted_at: datetime) -> dict[str, Any]:
    """What the handler stores after `submit_report`: the new state and the report pushed on the period."""
    outcome = submit_report(record, period, submitted_at)
    record["state"] = outcome.state
    record["periods"][period]["reports"].append(
        {"submitted_at": submitted_at, "late_by_seconds": outcome.late_by_seconds, "revision": outcome.revision}
    )
    return record


def test_a_new_assignment_is_assigned_with_one_open_period_per_deadline() -> None:
    record = assignment()

    assert record["state"] == "assigned" and record["progress"] == 0 and record["version"] == 0
    assert record["period_keys"] == ["2027-H1", "2027-FY"]
    assert record["periods"]["2027-H1"] == {"due_at": H1_DUE, "wording": "kỳ 2027-H1", "reports": []}
    assert record["agency"]["code"] == "ubnd"
    assert record["created_at"] == datetime(2027, 1, 5, 2, tzinfo=UTC)


# --- the state machine ------------------------------------------------------------------------------------


def test_acknowledging_moves_assigned_to_acknowledged_without_touching_the_record() -> None:
    record = assignment()
    assert acknowledge(record) == "acknowledged"
    assert record["state"] == "assigned"


def test_acknowledging_twice_is_an_illegal_transition() -> None:
    record = assignment()
    record["state"] = acknowledge(record)
    with pytest.raises(IllegalTransition, match="already acknowledged; it was acknowledged before"):
        acknowledge(record)


@pytest.mark.parametrize("state", ["in_progress", "completed"])
def test_acknowledging_later_in_the_life_is_refused(state: str) -> None:
    with pytest.raises(IllegalTransition, match=f"already {state}"):
        acknowledge(assignment(state=state))


def test_a_cancelled_assignment_refuses_everything() -> None:
    record = assignment(state="cancelled")
    for action in (
        lambda: acknowledge(record),
        lambda: report_progress(record, 50),
        lambda: submit_report(record, "2027-H1", H1_DUE - timedelta(days=1)),
        lambda: request_extension(record, "2027-H1", H1_DUE + timedelta(days=7)),
    ):
        with pytest.raises(IllegalTransition, match="cancelled by its issuer"):
            action()


def test_progress_moves_to_in_progress_and_may_stay_level() -> None:
    record = assignment(state="acknowledged")
    assert report_progress(record, 30) == "in_progress"
    record.update(state="in_progress", progress=30)
    assert report_progress(record, 30) == "in_progress"
    assert report_progress(record, 100) == "in_progress"


def test_progress_cannot_go_backwards() -> None:
    record = assignment(state="in_progress", progress=60)
    with pytest.raises(IllegalTransition, match="cannot go back from 60% to 40%"):
        report_progress(record, 40)


def test_progress_on_a_completed_assignment_is_refused() -> None:
    with pytest.raises(IllegalTransition, match="completed; submit a report revision"):
        report_progress(assignment(state="completed", progress=100), 100)


# --- reports ----------------------------------------------------------------------------------------------


def test_a_report_for_an_unknown_period_names_the_known_ones() -> None:
    with pytest.raises(UnknownPeriod) as caught:
        submit_report(assignment(state="acknowledged"), "2027-Q3", H1_DUE)
    assert str(caught.value) == "the assignment has no reporting period '2027-Q3' (its periods: 2027-FY, 2027-H1)"


def test_a_report_on_time_is_not_late_and_is_revision_one() -> None:
    record = assignment(state="acknowledged")
    outcome = submit_report(record, "2027-H1", H1_DUE - timedelta(days=2))

    assert outcome.late_by_seconds == 0
    assert outcome.revision == 1
    assert outcome.due_at == H1_DUE
    assert outcome.state == "in_progress"  # the annual report is still to come


def test_a_report_exactly_at_the_last_instant_is_on_time() -> None:
    assert submit_report(assignment(), "2027-H1", H1_DUE).late_by_seconds == 0


def test_a_late_report_says_how_late() -> None:
    outcome = submit_report(assignment(), "2027-H1", H1_DUE + timedelta(days=2, hours=3, seconds=7))
    assert outcome.late_by_seconds == 2 * 86_400 + 3 * 3_600 + 7
    assert outcome.revision == 1


def test_a_report_at_midnight_after_the_deadline_is_late() -> None:
    midnight = datetime(2027, 6, 30, 17, 0, 0, tzinfo=UTC)  # 00:00:00 on 1 July 2027 in Vietnam
    record = with_report(assignment(), "2027-H1", midnight)
    assert record["periods"]["2027-H1"]["reports"][0]["late_by_seconds"] >= 1
    assert period_status(record["periods"]["2027-H1"], midnight) == "done_late"


def test_a_second_report_for_the_same_period_is_revision_two() -> None:
    record = with_report(assignment(state="acknowledged"), "2027-H1", H1_DUE - timedelta(days=1))
    outcome = submit_report(record, "2027-H1", H1_DUE + timedelta(hours=1))
    assert outcome.revision == 2
    assert outcome.late_by_seconds == 3_600


def test_the_assignment_is_completed_only_when_every_period_has_a_report() -> None:
    record = assignment(state="in_progress")
    assert submit_report(record, "2027-FY", FY_DUE).state == "in_progress"  # H1 is still missing
    with_report(record, "2027-H1", H1_DUE + timedelta(days=3))
    assert record["state"] == "in_progress"
    with_report(record, "2027-FY", FY_DUE - timedelta(days=1))
    assert record["state"] == "completed"
    # a revision of a completed assignment keeps it completed
    assert submit_report(record, "2027-H1", FY_DUE).state == "completed"


def test_a_single_period_assignment_is_completed_by_its_one_report() -> None:
    record = assignment(periods=(("2027-05", datetime(2027, 5, 25, 16, 59, tzinfo=UTC)),))
    assert submit_report(record, "2027-05", datetime(2027, 5, 20, tzinfo=UTC)).state == "completed"


def test_a_deadline_stored_without_its_offset_is_read_as_utc() -> None:
    """MongoDB gives naive datetimes back; they are UTC."""
    record = assignment()
    record["periods"]["2027-H1"]["due_at"] = H1_DUE.replace(tzinfo=None)
    outcome = submit_report(record, "2027-H1", H1_DUE + timedelta(minutes=10))
    assert outcome.due_at == H1_DUE
    assert outcome.late_by_seconds == 600


def test_an_extension_must_be_later_and_only_while_the_report_is_missing() -> None:
    record = assignment(state="acknowledged")
    assert request_extension(record, "2027-H1", H1_DUE + timedelta(days=10)) == H1_DUE
    with pytest.raises(IllegalTransition, match="must be later than the current one"):
        request_extension(record, "2027-H1", H1_DUE)
    with pytest.raises(UnknownPeriod, match="2027-Q4"):
        request_extension(record, "2027-Q4", FY_DUE)
    with_report(record, "2027-H1", H1_DUE - timedelta(days=1))
    with pytest.raises(IllegalTransition, match="already in; no extension is needed"):
        request_extension(record, "2027-H1", H1_DUE + timedelta(days=10))


# --- the four states --------------------------------------------------------------------------------------


def test_period_status_in_the_four_states() -> None:
    now = datetime(2027, 8, 1, tzinfo=UTC)
    assert period_status({"due_at": H1_DUE, "reports": []}, now) == "overdue"
    assert period_status({"due_at": FY_DUE, "reports": []}, now) == "open"
    assert period_status({"due_at": now, "reports": []}, now) == "open"  # due this very instant: not yet overdue
    assert period_status({"due_at": H1_DUE, "reports": [{"late_by_seconds": 0}]}, now) == "done_on_time"
    assert period_status({"due_at": H1_DUE, "reports": [{"late_by_seconds": 5}]}, now) == "done_late"
    # a later on-time revision does not make a late first report on time
    late_then_revised = [{"late_by_seconds": 5}, {"late_by_seconds": 0}]
    assert period_status({"due_at": H1_DUE, "reports": late_then_revised}, now) == "done_late"


def test_plan_status_counts_and_percentages_without_cancelled_assignments() -> None:
    now = datetime(2027, 8, 1, tzinfo=UTC)
    cell = AgencyRef(code="chi-bo-khu-2", kind="party_cell", name="Chi bộ khu dân cư số 2")
    other_cell = AgencyRef(code="chi-bo-khu-7", kind="party_cell", name="Chi bộ khu dân cư số 7")
    women = AgencyRef(code="hoi-phu-nu", kind="socio_political_org", name="Hội Liên hiệp Phụ nữ phường")

    on_time = with_report(assignment(UBND, state="acknowledged"), "2027-H1", H1_DUE - timedelta(days=1))
    late = with_report(assignment(cell, state="acknowledged"), "2027-H1", H1_DUE + timedelta(days=4))
    silent = assignment(other_cell, state="acknowledged")
    cancelled = assignment(women, state="cancelled")

    status = plan_status([on_time, late, silent, cancelled], now)

    assert status["totals"] == {
        "total": 6,
        "done_on_time": 1,
        "done_late": 1,
        "open": 3,
        "overdue": 1,
        "percent": {"done_on_time": 16.7, "done_late": 16.7, "open": 50.0, "overdue": 16.7},
    }
    assert list(status["by_agency_kind"]) == ["party_cell", "ubnd"]
    assert status["by_agency_kind"]["ubnd"] == {
        "total": 2,
        "done_on_time": 1,
        "done_late": 0,
        "open": 1,
        "overdue": 0,
        "percent": {"done_on_time": 50.0, "done_late": 0.0, "open": 50.0, "overdue": 0.0},
    }
    assert status["by_agency_kind"]["party_cell"]["percent"] == {
        "done_on_time": 0.0,
        "done_late": 25.0,
        "open": 50.0,
        "overdue": 25.0,
    }
    assert status["by_period"]["2027-H1"]["total"] == 3
    assert [status["by_period"]["2027-H1"][s] for s in ("done_on_time", "done_late", "open", "overdue")] == [1, 1, 0, 1]
    assert status["by_period"]["2027-FY"]["open"] == 3
    assert status["by_period"]["2027-FY"]["percent"]["open"] == 100.0

    rows = {row["assignment_id"]: row for row in status["assignments"]}
    assert set(rows) == {on_time["_id"], late["_id"], silent["_id"]}
    assert cancelled["_id"] not in rows
    assert rows[late["_id"]]["periods"] == {"2027-H1": "done_late", "2027-FY": "open"}
    assert rows[silent["_id"]]["periods"] == {"2027-H1": "overdue", "2027-FY": "open"}
    assert rows[on_time["_id"]]["state"] == "in_progress"


def test_the_status_of_a_plan_with_nothing_live_is_all_zero() -> None:
    status = plan_status([assignment(state="cancelled")], datetime(2027, 8, 1, tzinfo=UTC))
    assert status["totals"] == {
        "total": 0,
        "done_on_time": 0,
        "done_late": 0,
        "open": 0,
        "overdue": 0,
        "percent": {"done_on_time": 0.0, "done_late": 0.0, "open": 0.0, "overdue": 0.0},
    }
    assert status["assignments"] == [] and status["by_period"] == {} and status["by_agency_kind"] == {}


def test_everything_becomes_overdue_once_every_deadline_has_passed() -> None:
    records = [assignment(), assignment()]
    status = plan_status(records, FY_DUE + timedelta(seconds=1))
    assert status["totals"]["overdue"] == 4 and status["totals"]["percent"]["overdue"] == 100.0
    assert plan_status(records, H1_DUE)["totals"]["open"] == 4


def test_refusals_say_it_in_vietnamese_and_in_english_and_read_as_english() -> None:
    """What a refusal says reaches people in Vietnamese and integrators in English (#19); logs and AMQP answers
    read `str(exc)`, which stays English."""
    record = assignment(state="acknowledged")
    with pytest.raises(IllegalTransition) as twice:
        acknowledge(record)
    said = wording_of(twice.value)
    assert isinstance(said, Wording)
    assert said.vi == "Nhiệm vụ đã được xác nhận tiếp nhận từ trước (hiện ở trạng thái «đã tiếp nhận»)."
    assert str(twice.value) == said.en == "the assignment is already acknowledged; it was acknowledged before"

    with pytest.raises(UnknownPeriod) as unknown:
        submit_report(assignment(), "2027-Q3", H1_DUE)
    said = wording_of(unknown.value)
    assert isinstance(said, Wording) and "«2027-Q3»" in said.vi and "2027-FY, 2027-H1" in said.vi
    assert str(unknown.value) == "the assignment has no reporting period '2027-Q3' (its periods: 2027-FY, 2027-H1)"

    with pytest.raises(IllegalTransition) as earlier:
        request_extension(assignment(), "2027-H1", H1_DUE)
    said = wording_of(earlier.value)
    assert isinstance(said, Wording)
    assert said.vi == "Hạn đề nghị phải muộn hơn hạn hiện tại (23:59 ngày 30/06/2027)."  # the deadline in Vietnam
    assert str(earlier.value) == f"the requested deadline must be later than the current one ({H1_DUE.isoformat()})"
