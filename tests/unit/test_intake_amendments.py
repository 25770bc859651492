"""A plan submitted again: only what the correction changes is published, and a reworded task is one
`assignment.revised` for its assignment with the new and the previous text."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.intake.amendments import plan_amendment
from shared.contracts.events import AssignmentRevised, DeadlineExtended
from tests.unit.test_intake_domain import register, submission

NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
CLEAN_UP = "Chỉ đạo các tổ dân phố ra quân tổng vệ sinh vào sáng Chủ nhật cuối tháng."
CLEAN_UP_REWORDED = "Chỉ đạo các tổ dân phố ra quân tổng vệ sinh vào sáng thứ Bảy và Chủ nhật cuối tháng."
LOUDSPEAKERS = "Tuyên truyền trên hệ thống loa truyền thanh của phường."


def plan(ubnd_task: str, number: str = "12-KH/ĐU", **changes: Any):  # type: ignore[no-untyped-def]
    return register(
        submission(
            [
                {"agency": "Ủy ban nhân dân phường", "task": ubnd_task},
                {"agency": "Ban Tuyên giáo", "task": LOUDSPEAKERS},
            ],
            number=number,
            **changes,
        )
    )


def test_a_reworded_task_is_published_once_with_its_previous_text() -> None:
    stored, _ = plan(CLEAN_UP)
    record, events = plan(CLEAN_UP_REWORDED)

    amendment = plan_amendment(stored, record, events, 1, NOW)

    assert amendment.tasks_changed == ["ubnd"]
    assert not (amendment.created or amendment.cancelled or amendment.deadlines_changed)
    assert not amendment.unchanged
    (revised,) = amendment.events
    assert isinstance(revised, AssignmentRevised)
    ubnd = next(a for a in record["assignments"] if a["agency"] == "ubnd")  # type: ignore[union-attr]
    assert (revised.assignment_id, revised.plan_id) == (ubnd["assignment_id"], record["_id"])
    assert (revised.task, revised.previous_task, revised.plan_version) == (CLEAN_UP_REWORDED, CLEAN_UP, 1)
    assert revised.agency.code == "ubnd" and revised.actor is not None and revised.actor.code == "dang-uy"
    assert revised.occurred_at == NOW
    assert revised.routing_key() == "assignment.revised.ubnd.ubnd"


def test_the_same_text_again_changes_nothing() -> None:
    stored, _ = plan(CLEAN_UP)
    record, events = plan(CLEAN_UP)
    amendment = plan_amendment(stored, record, events, 1, NOW)
    assert amendment.unchanged and amendment.events == []


def test_a_reworded_task_and_a_moved_deadline_publish_one_event_each() -> None:
    stored, _ = plan(CLEAN_UP)
    h1 = {"period": "2027-H1", "due": "2027-06-15", "wording": "gửi trước ngày 16 tháng 6"}
    fy = {"period": "2027-FY", "due": "2027-12-31", "wording": "báo cáo tổng kết, gửi trước ngày 01 tháng 01"}
    record, events = plan(CLEAN_UP_REWORDED, deadlines=[h1, fy])

    amendment = plan_amendment(stored, record, events, 3, NOW)

    kinds = sorted((type(e).__name__, e.agency.code) for e in amendment.events)  # type: ignore[attr-defined]
    assert kinds == [("AssignmentRevised", "ubnd"), ("DeadlineExtended", "tuyen-giao"), ("DeadlineExtended", "ubnd")]
    assert all(e.plan_version == 3 for e in amendment.events if isinstance(e, AssignmentRevised))
    assert all(e.request_id == "amendment-3" for e in amendment.events if isinstance(e, DeadlineExtended))


WORD_AND_SCAN = {"items": ["01 file word", "01 file scan"], "send_to": "Văn phòng Đảng ủy"}
TO_THE_FOLDER = {"items": ["01 file word", "01 file scan"], "send_to": "https://drive.example.vn/bao-cao"}


def test_a_changed_destination_for_reports_is_one_revision_per_body_with_the_new_deliverables() -> None:
    stored, _ = plan(CLEAN_UP, deliverables_required=[WORD_AND_SCAN])
    record, events = plan(CLEAN_UP, deliverables_required=[TO_THE_FOLDER])

    amendment = plan_amendment(stored, record, events, 1, NOW)

    assert sorted(amendment.deliverables_changed) == ["tuyen-giao", "ubnd"], amendment
    assert amendment.tasks_changed == [] and not amendment.unchanged
    revisions = [e for e in amendment.events if isinstance(e, AssignmentRevised)]
    assert len(revisions) == 2 == len(amendment.events)
    ubnd = next(r for r in revisions if r.agency.code == "ubnd")
    assert ubnd.task == ubnd.previous_task == CLEAN_UP  # the task as it stands, unchanged
    assert ubnd.deliverables_required is not None
    assert [d.send_to for d in ubnd.deliverables_required] == ["https://drive.example.vn/bao-cao"]
    assert ubnd.revised_fields() == {
        "task": CLEAN_UP,
        "deliverables_required": [
            {
                "items": ["01 file word", "01 file scan"],
                "send_to": "https://drive.example.vn/bao-cao",
                "wording": "",
                "provenance": None,
            }
        ],
    }


def test_a_reworded_task_alone_leaves_the_deliverables_out_of_its_revision() -> None:
    stored, _ = plan(CLEAN_UP, deliverables_required=[WORD_AND_SCAN])
    record, events = plan(CLEAN_UP_REWORDED, deliverables_required=[WORD_AND_SCAN])
    (revised,) = plan_amendment(stored, record, events, 1, NOW).events
    assert isinstance(revised, AssignmentRevised) and revised.deliverables_required is None
    assert revised.revised_fields() == {"task": CLEAN_UP_REWORDED}


def test_the_same_deliverables_written_on_other_lines_change_nothing() -> None:
    moved = {"line": 60, "section": "IV", "clause": None, "page": None}
    stored, _ = plan(CLEAN_UP, deliverables_required=[WORD_AND_SCAN])
    record, events = plan(CLEAN_UP, deliverables_required=[{**WORD_AND_SCAN, "provenance": moved}])
    assert plan_amendment(stored, record, events, 1, NOW).unchanged


def test_a_task_moved_to_another_clause_is_revised_with_its_new_place_but_a_moved_line_is_not() -> None:
    from services.intake.domain import PlanRecord
    from shared.contracts.events import Provenance

    stored, _ = plan(CLEAN_UP)
    record, events = plan(CLEAN_UP)

    def placed(plan_record: PlanRecord, clause: str, line: int) -> None:
        for assignment in plan_record["assignments"]:
            assignment["provenance"] = [{"section": "III", "clause": clause, "page": None, "line": line}]

    placed(stored, "2", 40)
    placed(record, "2", 44)  # a sentence inserted above: the same clause, lines further down
    assert plan_amendment(stored, record, events, 1, NOW).unchanged
    placed(record, "3", 44)
    moved_to = [Provenance(section="III", clause="3", line=44)]
    events = [e.model_copy(update={"provenance": moved_to}) if hasattr(e, "provenance") else e for e in events]
    amendment = plan_amendment(stored, record, events, 1, NOW)
    assert sorted(amendment.places_changed) == ["tuyen-giao", "ubnd"] and not amendment.tasks_changed
    revised = [e for e in amendment.events if isinstance(e, AssignmentRevised)]
    assert len(revised) == 2 and all(r.task == r.previous_task for r in revised)
    assert revised[0].revised_fields()["provenance"] == [
        {"section": "III", "section_title": None, "clause": "3", "page": None, "line": 44}
    ]
