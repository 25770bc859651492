"""Tracking's assignment record keeps where the plan's document assigns the task (`assignment.created`'s
`provenance`, one place per clause naming the body); a structured plan's record, and one made before the place was
kept, has the shape it always had."""

from __future__ import annotations

from datetime import UTC, datetime

from services.tracking.domain import new_assignment
from shared.contracts.events import AgencyRef, AssignmentCreated, Provenance, ReportingDeadline

CELL = AgencyRef(code="chi-bo-khu-1", kind="party_cell", name="Chi bộ khu dân cư số 1")
ISSUER = AgencyRef(code="dang-uy", kind="office", name="Đảng ủy phường Hòa An")
PLACES = [
    Provenance(section="III", section_title="TỔ CHỨC THỰC HIỆN", clause="2", page=3, line=40),
    Provenance(section="III", section_title="TỔ CHỨC THỰC HIỆN", clause="5", page=4, line=7),
]


def created(provenance: list[Provenance]) -> AssignmentCreated:
    return AssignmentCreated(
        correlation_id="p1",
        agency=CELL,
        actor=ISSUER,
        assignment_id="a1",
        plan_id="p1",
        plan_number="3-KH/ĐU",
        plan_title="Kế hoạch thử",
        issuer=ISSUER,
        task="Tổ chức học tập",
        deadlines=[ReportingDeadline(period="2027-H1", due_at=datetime(2027, 6, 30, 16, 59, tzinfo=UTC))],
        provenance=provenance,
    )


def test_the_record_keeps_every_place_in_order() -> None:
    record = new_assignment(created(PLACES).model_dump(mode="python"))
    assert record["provenance"] == [p.model_dump(mode="python") for p in PLACES]
    assert record["provenance"][0] == {
        "section": "III",
        "section_title": "TỔ CHỨC THỰC HIỆN",
        "clause": "2",
        "page": 3,
        "line": 40,
    }


def test_a_structured_plan_keeps_the_old_record_shape() -> None:
    record = new_assignment(created([]).model_dump(mode="python"))
    assert "provenance" not in record


def test_an_event_published_before_the_field_existed_still_makes_a_record() -> None:
    event = created(PLACES).model_dump(mode="json")
    del event["provenance"]
    record = new_assignment(AssignmentCreated.model_validate(event).model_dump(mode="python"))
    assert "provenance" not in record and record["task"] == "Tổ chức học tập"
