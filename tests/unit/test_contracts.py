"""Message contracts on the bus: routing keys, the computed event type, instants in UTC, extra fields ignored,
and `parse_event` turning every bad body into an InvalidMessage that says what is wrong."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from shared.contracts.events import (
    EVENT_TYPES,
    AgencyRef,
    AssignmentAcknowledged,
    AssignmentCreated,
    EscalationSent,
    PlanRegistered,
    ReportingDeadline,
    ReportSubmitted,
)
from shared.platform.deliveries import InvalidMessage, parse_event

ISSUER = AgencyRef(code="dang-uy", kind="office", name="Đảng ủy phường Hòa An")


def ref(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex[:16]}"


def a_cell() -> AgencyRef:
    return AgencyRef(code=f"chi-bo-{uuid.uuid4().hex[:8]}", kind="party_cell", name="Chi bộ khu dân cư số 6")


def assignment_created(agency: AgencyRef | None = None) -> AssignmentCreated:
    plan_id = ref("p")
    return AssignmentCreated(
        correlation_id=plan_id,
        actor=ISSUER,
        agency=agency or a_cell(),
        assignment_id=ref("a"),
        plan_id=plan_id,
        plan_number="21-KH/ĐU",
        plan_title="Kế hoạch học tập chuyên đề năm 2027",
        issuer=ISSUER,
        task="Tổ chức cho đảng viên học tập chuyên đề và viết bài thu hoạch.",
        deadlines=[
            ReportingDeadline(
                period="2027-H1",
                due_at=datetime(2027, 6, 30, 16, 59, 59, 999_999, tzinfo=UTC),
                wording="trước ngày 01 tháng 7",
            )
        ],
    )


# --- routing keys and event types -------------------------------------------------------------------------


def test_agency_events_are_routed_by_entity_verb_kind_and_code() -> None:
    cell = a_cell()
    event = assignment_created(cell)
    assert event.routing_key() == f"assignment.created.party_cell.{cell.code}"

    common = {
        "correlation_id": event.plan_id,
        "agency": cell,
        "assignment_id": event.assignment_id,
        "plan_id": event.plan_id,
    }
    assert AssignmentAcknowledged(**common).routing_key() == f"assignment.acknowledged.party_cell.{cell.code}"
    report = ReportSubmitted(
        **common,
        period="2027-H1",
        submitted_at=datetime(2027, 6, 1, tzinfo=UTC),
        due_at=datetime(2027, 6, 30, tzinfo=UTC),
        late_by_seconds=0,
        revision=1,
    )
    assert report.routing_key() == f"report.submitted.party_cell.{cell.code}"
    escalation = EscalationSent(**common, step="level-1", recipients=["tt@hoa-an.example"], overdue_by_seconds=10)
    assert escalation.routing_key() == f"escalation.sent.party_cell.{cell.code}"


def test_a_plan_is_routed_as_plan_registered_by_its_issuer() -> None:
    plan_id = ref("p")
    event = PlanRegistered(
        correlation_id=plan_id, plan_id=plan_id, number="21-KH/ĐU", title="Kế hoạch", issuer=ISSUER, assignment_count=3
    )
    assert event.routing_key() == f"plan.registered.{ISSUER.kind}.{ISSUER.code}"
    assert event.event_type == "plan.registered"


def test_the_event_type_is_computed_and_travels_with_the_body() -> None:
    event = assignment_created()
    assert event.event_type == "assignment.created"
    assert event.model_dump()["event_type"] == "assignment.created"
    assert json.loads(event.model_dump_json())["event_type"] == "assignment.created"


def test_every_registered_type_is_keyed_by_its_entity_and_verb() -> None:
    assert all(key == f"{model.entity}.{model.verb}" for key, model in EVENT_TYPES.items())
    assert len(EVENT_TYPES) == 15  # 10; assignment.revised, directory.updated, link.requested, command/plan.rejected
    assert EVENT_TYPES["assignment.created"] is AssignmentCreated
    assert EVENT_TYPES["assignment.revised"].__name__ == "AssignmentRevised"


def test_events_get_a_fresh_id_and_a_utc_timestamp() -> None:
    first, second = assignment_created(), assignment_created()
    assert first.event_id != second.event_id and len(first.event_id) == 32
    assert first.occurred_at.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - first.occurred_at) < timedelta(minutes=1)


def test_instants_are_stored_in_utc_and_must_carry_their_offset() -> None:
    vietnam = timezone(timedelta(hours=7))
    deadline = ReportingDeadline(period="2027-Q2", due_at=datetime(2027, 6, 30, 23, 59, tzinfo=vietnam))
    assert deadline.due_at == datetime(2027, 6, 30, 16, 59, tzinfo=UTC)
    assert deadline.due_at.tzinfo == UTC
    with pytest.raises(ValidationError, match="needs its UTC offset"):
        ReportingDeadline(period="2027-Q2", due_at=datetime(2027, 6, 30, 23, 59))


@pytest.mark.parametrize("period", ["2027-H1", "2027-FY", "2027-Q4", "2027-12", "2027-D03-15", "2027-DOT-2"])
def test_period_keys_that_are_accepted(period: str) -> None:
    assert ReportingDeadline(period=period, due_at=datetime(2027, 1, 1, tzinfo=UTC)).period == period


@pytest.mark.parametrize("period", ["27-H1", "2027-h1", "2027_FY", "2027-", "2027-H1 ", "2027-" + "X" * 21])
def test_period_keys_that_are_refused(period: str) -> None:
    with pytest.raises(ValidationError):
        ReportingDeadline(period=period, due_at=datetime(2027, 1, 1, tzinfo=UTC))


# --- parse_event ------------------------------------------------------------------------------------------


def test_a_valid_assignment_created_body_round_trips() -> None:
    event = assignment_created()
    parsed = parse_event(event.routing_key(), event.model_dump_json().encode())
    assert type(parsed) is AssignmentCreated
    assert parsed == event
    assert parsed.deadlines[0].due_at == datetime(2027, 6, 30, 16, 59, 59, 999_000, tzinfo=UTC)
    assert parsed.task == "Tổ chức cho đảng viên học tập chuyên đề và viết bài thu hoạch."


def test_the_contract_is_chosen_by_the_first_two_parts_of_the_routing_key() -> None:
    event = assignment_created()
    body = event.model_dump_json().encode()
    assert parse_event("assignment.created", body) == event
    assert parse_event("assignment.created.ubnd.some-other-code", body) == event


def test_fields_a_consumer_does_not_know_are_ignored() -> None:
    event = assignment_created()
    payload = json.loads(event.model_dump_json())
    payload["priority"] = "khẩn"
    payload["agency"]["phone"] = "0243 000 000"
    payload["deadlines"][0]["channel"] = "email"
    payload["event_type"] = "something.else"  # computed by the consumer, never trusted from the body

    parsed = parse_event(event.routing_key(), json.dumps(payload).encode())
    assert parsed == event
    assert parsed.event_type == "assignment.created"
    assert "priority" not in parsed.model_dump()
    assert "phone" not in parsed.agency.model_dump()


def test_an_unknown_event_type_is_invalid() -> None:
    with pytest.raises(
        InvalidMessage,
        match=r"unknown event type 'assignment\.exploded' \(routing key "
        r"'assignment\.exploded\.ubnd\.ubnd'\)",
    ):
        parse_event("assignment.exploded.ubnd.ubnd", b"{}")


@pytest.mark.parametrize("body", [b"not json", b'{"a": ', b"\xff\xfe\x00", b""], ids=["text", "cut", "bytes", "empty"])
def test_a_body_that_is_not_json_is_invalid(body: bytes) -> None:
    with pytest.raises(InvalidMessage, match="body is not JSON"):
        parse_event("assignment.created.ubnd.ubnd", body)


@pytest.mark.parametrize("body", [b"[]", b'[{"plan_id": "p"}]', b'"text"', b"42", b"null"])
def test_json_that_is_not_an_object_is_invalid(body: bytes) -> None:
    with pytest.raises(InvalidMessage, match="body must be a JSON object"):
        parse_event("plan.registered", body)


def test_a_contract_mismatch_names_every_field_at_fault() -> None:
    payload = json.loads(assignment_created().model_dump_json())
    del payload["assignment_id"]
    payload["agency"]["code"] = "Không Hợp Lệ"
    payload["deadlines"][0]["due_at"] = "2027-06-30T23:59:59"

    with pytest.raises(InvalidMessage) as caught:
        parse_event("assignment.created.party_cell.x", json.dumps(payload).encode())
    message = str(caught.value)
    assert message.startswith("assignment.created does not match its contract: ")
    assert "assignment_id: Field required" in message
    assert "agency.code: String should match pattern" in message
    assert "deadlines.0.due_at: Value error, an instant needs its UTC offset" in message


def test_a_negative_lateness_is_a_contract_mismatch() -> None:
    cell = a_cell()
    payload = {
        "correlation_id": "p1",
        "agency": cell.model_dump(),
        "assignment_id": "a1",
        "plan_id": "p1",
        "period": "2027-H1",
        "submitted_at": "2027-06-01T00:00:00Z",
        "due_at": "2027-06-30T00:00:00Z",
        "late_by_seconds": -5,
        "revision": 1,
    }
    with pytest.raises(InvalidMessage, match="late_by_seconds: Input should be greater than or equal to 0"):
        parse_event(f"report.submitted.party_cell.{cell.code}", json.dumps(payload).encode())
    payload["late_by_seconds"] = 0
    parsed = parse_event(f"report.submitted.party_cell.{cell.code}", json.dumps(payload).encode())
    assert isinstance(parsed, ReportSubmitted) and parsed.revision == 1
