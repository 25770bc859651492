"""Tracking's assignment record keeps what the plan asks the body to deliver and where, when
`assignment.created` says it; a record of a plan that says nothing has the shape it always had."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.tracking.domain import new_assignment
from shared.contracts.events import AgencyRef, AssignmentCreated, DeliverableRequirement, ReportingDeadline

UBND = AgencyRef(code="ubnd", kind="ubnd", name="Ủy ban nhân dân phường Hòa An")
ISSUER = AgencyRef(code="dang-uy", kind="office", name="Đảng ủy phường Hòa An")


def created(deliverables: list[DeliverableRequirement], **more: Any) -> AssignmentCreated:
    """An assignment of the ward's UBND as intake publishes it, with `deliverables` and any other field in `more`."""
    return AssignmentCreated(
        correlation_id="p1",
        agency=UBND,
        actor=ISSUER,
        assignment_id="a1",
        plan_id="p1",
        plan_number="3-KH/ĐU",
        plan_title="Kế hoạch thử",
        issuer=ISSUER,
        task="Báo cáo kết quả",
        deadlines=[ReportingDeadline(period="2027-H1", due_at=datetime(2027, 6, 30, 16, 59, tzinfo=UTC))],
        deliverables_required=deliverables,
        **more,
    )


def test_the_record_keeps_what_to_deliver_and_where() -> None:
    wanted = DeliverableRequirement(items=("01 file word", "01 file scan"), send_to="Văn phòng Đảng ủy")
    record = new_assignment(created([wanted]).model_dump(mode="python"))
    assert record["deliverables_required"] == [wanted.model_dump(mode="python")]


def test_a_plan_that_says_nothing_keeps_the_old_record_shape() -> None:
    record = new_assignment(created([]).model_dump(mode="python"))
    assert "deliverables_required" not in record
