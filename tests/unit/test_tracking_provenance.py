"""Tracking's assignment record keeps where the plan's document assigns the task (`assignment.created`'s
`provenance`, one place per clause naming the body); a structured plan's record, and one made before the place was
kept, has the shape it always had."""

from __future__ import annotations

from services.tracking.domain import new_assignment
from shared.contracts.events import AssignmentCreated, Provenance
from tests.unit.test_tracking_deliverables import created as with_deliverables

PLACES = [
    Provenance(section="III", section_title="TỔ CHỨC THỰC HIỆN", clause="2", page=3, line=40),
    Provenance(section="III", section_title="TỔ CHỨC THỰC HIỆN", clause="5", page=4, line=7),
]


def created(provenance: list[Provenance]) -> AssignmentCreated:
    return with_deliverables([], provenance=provenance)


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
    assert "provenance" not in record and record["task"] == "Báo cáo kết quả"
