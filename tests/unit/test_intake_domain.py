"""Intake's rules: names in a plan become agencies (codes, aliases, old spellings, decomposed Unicode, groups),
one assignment per agency, deterministic identifiers, deadlines as end-of-day instants in Vietnam, and precise
problems for what cannot be registered."""

from __future__ import annotations

import json
import unicodedata
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from services.intake.domain import (
    MAX_PLAN_BYTES,
    DeadlineIn,
    PlanRejected,
    PlanSubmission,
    assignment_id_for,
    effective_instant,
    plan_id_for,
    problems_of,
    refuse_oversized,
    register_plan,
)
from shared.contracts.events import AssignmentCreated, PlanRegistered
from shared.domain.calendar import end_of_day
from shared.domain.clock import VIETNAM
from shared.domain.directory import Agency, Directory, Group
from shared.domain.wording import Wording, wording_of

WARD = Directory.load(Path(__file__).resolve().parents[2] / "deploy" / "local" / "directory.yaml")
TODAY = date(2026, 11, 20)
PARTY_CELLS = sorted(a.code for a in WARD.agencies.values() if a.kind == "party_cell")
MASS_ORGS = sorted(a.code for a in WARD.agencies.values() if a.kind == "socio_political_org")

H1 = {"period": "2027-H1", "due": "2027-06-30", "wording": "báo cáo sơ kết, gửi trước ngày 01 tháng 7"}
FY = {"period": "2027-FY", "due": "2027-12-31", "wording": "báo cáo tổng kết, gửi trước ngày 01 tháng 01"}


def plan_number() -> str:
    return f"{uuid.uuid4().int % 1000}-KH/ĐU-{uuid.uuid4().hex[:6]}"


def submission(assignments: list[dict[str, Any]], **changes: Any) -> PlanSubmission:
    values: dict[str, Any] = {
        "issuer": "Đảng ủy phường",
        "number": plan_number(),
        "title": "Kế hoạch tổ chức ngày hội đọc sách của phường năm 2027",
        "issued_on": "2026-11-20",
        "assignments": assignments,
        "deadlines": [H1, FY],
    }
    values.update(changes)
    return PlanSubmission.model_validate(values)


def register(plan: PlanSubmission, directory: Directory = WARD, max_assignments: int = 500):  # type: ignore[no-untyped-def]
    return register_plan(plan, directory, TODAY, max_assignments)


def created(events: list[Any]) -> dict[str, AssignmentCreated]:
    return {e.agency.code: e for e in events if isinstance(e, AssignmentCreated)}


def rejection(plan: PlanSubmission, **kwargs: Any) -> list[dict[str, str]]:
    with pytest.raises(PlanRejected) as caught:
        register(plan, **kwargs)
    return caught.value.problems


# --- resolving the names a plan uses ---------------------------------------------------------------------


def test_agencies_are_found_by_code_by_name_and_by_alias() -> None:
    plan = submission(
        [
            {"agency": "ubnd", "task": "Bố trí hội trường và loa đài cho ngày hội."},
            {"agency": "Ban Tuyên giáo Đảng ủy phường", "task": "Viết bài giới thiệu sách hay trên trang của phường."},
            {"agency": "MTTQ", "task": "Vận động các hộ gia đình quyên góp sách cũ."},
        ]
    )
    record, events = register(plan)

    assert [type(e) for e in events] == [PlanRegistered, AssignmentCreated, AssignmentCreated, AssignmentCreated]
    assert [e.agency.code for e in events[1:]] == ["ubnd", "tuyen-giao", "mttq"]
    assert [e.agency.kind for e in events[1:]] == ["ubnd", "propaganda_board", "fatherland_front"]
    assert events[0].assignment_count == 3
    assert [a["agency"] for a in record["assignments"]] == ["ubnd", "tuyen-giao", "mttq"]
    assert created(events)["mttq"].task == "Vận động các hộ gia đình quyên góp sách cũ."


@pytest.mark.parametrize(
    "written",
    [
        "Ủy ban nhân dân phường",
        "Uỷ ban nhân dân phường",
        "UỶ BAN NHÂN DÂN PHƯỜNG",
        unicodedata.normalize("NFD", "Uỷ ban nhân dân phường"),
        unicodedata.normalize("NFD", "Ủy ban nhân dân phường"),
        "  Ủy   ban nhân dân phường: ",
    ],
    ids=["uy-new", "uy-old", "capitals", "nfd-old", "nfd-new", "spacing-and-colon"],
)
def test_every_spelling_of_the_peoples_committee_names_it(written: str) -> None:
    _, events = register(submission([{"agency": written, "task": "Chỉ đạo các tổ dân phố tham gia."}]))
    assert list(created(events)) == ["ubnd"]
    assert created(events)["ubnd"].agency.name == "Ủy ban nhân dân phường Hòa An"


def test_the_affiliated_party_cells_become_one_assignment_each() -> None:
    task = "Tổ chức cho đảng viên đọc và trao đổi ít nhất một cuốn sách trong quý."
    plan = submission([{"agency": "Các chi bộ trực thuộc", "task": task}])
    record, events = register(plan)

    assignments = created(events)
    assert len(PARTY_CELLS) == 12
    assert sorted(assignments) == PARTY_CELLS
    assert events[0].assignment_count == 12 == len(record["assignments"])
    assert {e.task for e in assignments.values()} == {task}
    assert {e.agency.kind for e in assignments.values()} == {"party_cell"}
    assert len({e.assignment_id for e in assignments.values()}) == 12


def test_a_group_with_named_members_and_kinds_expands_to_both() -> None:
    _, events = register(submission([{"agency": "MTTQ và các đoàn thể", "task": "Phát động hội viên tham gia."}]))
    assert sorted(created(events)) == sorted(["mttq", *MASS_ORGS])
    assert len(created(events)) == 6


def test_an_agency_named_twice_gets_one_assignment_with_both_tasks() -> None:
    plan = submission(
        [
            {"agency": "UBND phường", "task": "Chuẩn bị địa điểm."},
            {"agency": "Uỷ ban nhân dân phường", "task": "Bố trí kinh phí khen thưởng."},
        ]
    )
    record, events = register(plan)

    assert list(created(events)) == ["ubnd"]
    assert created(events)["ubnd"].task == "Chuẩn bị địa điểm.\nBố trí kinh phí khen thưởng."
    assert events[0].assignment_count == 1
    assert record["assignments"][0]["task"] == "Chuẩn bị địa điểm.\nBố trí kinh phí khen thưởng."


def test_an_agency_named_alone_and_in_a_group_gets_both_tasks_once() -> None:
    plan = submission(
        [
            {"agency": "Chi bộ khu dân cư số 3", "task": "Làm điểm tại khu dân cư số 3."},
            {"agency": "các chi bộ trực thuộc Đảng ủy", "task": "Phổ biến kế hoạch trong sinh hoạt chi bộ."},
        ]
    )
    _, events = register(plan)

    assignments = created(events)
    assert len(assignments) == 12
    both = "Làm điểm tại khu dân cư số 3.\nPhổ biến kế hoạch trong sinh hoạt chi bộ."
    assert assignments["chi-bo-khu-3"].task == both
    assert assignments["chi-bo-khu-5"].task == "Phổ biến kế hoạch trong sinh hoạt chi bộ."


def test_deadlines_of_an_agency_named_twice_are_merged_by_period_earliest_first() -> None:
    own_fy = {"period": "2027-FY", "due": "2027-12-15", "wording": "riêng: trước ngày 15/12/2027"}
    quarter = {"period": "2027-Q1", "due": "2027-03-20", "wording": "báo cáo quý I"}
    plan = submission(
        [
            {"agency": "ubnd", "task": "Việc thứ nhất.", "deadlines": [own_fy]},
            {"agency": "UBND", "task": "Việc thứ hai.", "deadlines": [quarter, FY]},
        ]
    )
    _, events = register(plan)

    deadlines = created(events)["ubnd"].deadlines
    assert [d.period for d in deadlines] == ["2027-Q1", "2027-FY"]
    # the first task's FY deadline is kept; the second task's FY deadline does not replace it
    assert deadlines[1].due_at == datetime(2027, 12, 15, 16, 59, 59, 999_000, tzinfo=UTC)
    assert deadlines[1].wording == "riêng: trước ngày 15/12/2027"


def test_a_task_with_its_own_deadlines_does_not_take_the_plans() -> None:
    only_h1 = [{"period": "2027-H1", "due": "2027-06-15"}]
    plan = submission(
        [
            {"agency": "ubnd", "task": "Có hạn riêng.", "deadlines": only_h1},
            {"agency": "mttq", "task": "Theo hạn chung."},
        ]
    )
    _, events = register(plan)

    assert [d.period for d in created(events)["ubnd"].deadlines] == ["2027-H1"]
    assert created(events)["ubnd"].deadlines[0].due_at == datetime(2027, 6, 15, 16, 59, 59, 999_000, tzinfo=UTC)
    assert [d.period for d in created(events)["mttq"].deadlines] == ["2027-H1", "2027-FY"]


# --- what cannot be registered ----------------------------------------------------------------------------


def test_an_unknown_agency_is_rejected_naming_where_it_is() -> None:
    stranger = f"Hội Người yêu sách {uuid.uuid4().hex[:6]}"
    plan = submission(
        [
            {"agency": "ubnd", "task": "Việc đã rõ."},
            {"agency": stranger, "task": "Việc của một hội không có trong danh bạ."},
        ]
    )
    problems = rejection(plan)

    assert [p["where"] for p in problems] == ["assignments[1].agency"]
    assert stranger in problems[0]["problem"]


def test_every_problem_is_reported_at_once() -> None:
    plan = submission(
        [
            {"agency": "Hội Không Tồn Tại", "task": "a"},
            {"agency": "ubnd", "task": "b"},
            {"agency": "Ban Không Có", "task": "c", "deadlines": [H1]},
        ],
        issuer="Đảng ủy xã Bên Kia",
        deadlines=[],
    )
    problems = rejection(plan)
    wheres = [p["where"] for p in problems]

    assert wheres == ["issuer", "assignments[0].agency", "assignments[2].agency", "assignments[0]", "assignments[1]"]
    assert "Đảng ủy xã Bên Kia" in problems[0]["problem"]
    assert problems[3]["problem"] == "nhiệm vụ này chưa có hạn báo cáo"


def test_the_message_of_a_rejection_lists_where_and_why() -> None:
    with pytest.raises(PlanRejected) as caught:
        register(submission([{"agency": "Ban Ma", "task": "x"}]))
    assert str(caught.value).startswith("assignments[0].agency: no agency or group named 'Ban Ma'")


def test_plan_problems_are_worded_for_http_and_plain_where_they_are_published() -> None:
    """Over HTTP each problem is answered in the caller's language; `plan.rejected` and the preview carry plain text,
    in Vietnamese as `POST /plans` answers by default; the exception's message (logs) reads English."""
    plan = submission([{"agency": "Ban Ma", "task": "x"}, {"agency": "ubnd", "task": "y"}], deadlines=[])
    with pytest.raises(PlanRejected) as caught:
        register(plan)
    unknown, no_deadline = caught.value.worded[0]["problem"], caught.value.worded[2]["problem"]
    assert isinstance(unknown, Wording) and isinstance(no_deadline, Wording)
    assert unknown.vi == "danh bạ không có cơ quan hay nhóm nào tên hoặc mã 'Ban Ma'"
    assert no_deadline.en == "this assignment has no reporting deadline"
    assert caught.value.problems == [
        {"where": "assignments[0].agency", "problem": "danh bạ không có cơ quan hay nhóm nào tên hoặc mã 'Ban Ma'"},
        {"where": "assignments[0]", "problem": "nhiệm vụ này chưa có hạn báo cáo"},
        {"where": "assignments[1]", "problem": "nhiệm vụ này chưa có hạn báo cáo"},
    ]
    json.dumps(caught.value.problems)  # what plan.rejected and the preview carry: plain strings only
    assert str(caught.value).startswith("assignments[0].agency: no agency or group named 'Ban Ma'")


def test_field_problems_are_plain_vietnamese_and_worded_in_both_languages() -> None:
    with pytest.raises(ValidationError) as refused:
        submission([{"agency": "ubnd", "task": "x"}], number="12 KH", deadlines=[{**H1, "due": "2027-06-30T10:00"}])
    worded = problems_of(refused.value)
    plain_problems = PlanRejected(worded).problems
    by_where = {p["where"]: p["problem"] for p in plain_problems}
    assert by_where["number"].startswith("số, ký hiệu kế hoạch (number)")
    assert by_where["deadlines.0.due"].startswith("thời điểm cần ghi rõ múi giờ")
    due = next(p["problem"] for p in worded if p["where"] == "deadlines.0.due")
    assert isinstance(due, Wording) and due.en.startswith("an instant needs its UTC offset")


def test_a_task_without_any_deadline_is_rejected() -> None:
    plan = submission(
        [{"agency": "ubnd", "task": "Có hạn.", "deadlines": [FY]}, {"agency": "mttq", "task": "Không hạn."}],
        deadlines=[],
    )
    assert rejection(plan) == [{"where": "assignments[1]", "problem": "nhiệm vụ này chưa có hạn báo cáo"}]


def test_a_group_cannot_issue_a_plan() -> None:
    problems = rejection(submission([{"agency": "ubnd", "task": "x"}], issuer="Các chi bộ trực thuộc"))
    assert problems == [
        {"where": "issuer", "problem": "'Các chi bộ trực thuộc' là một nhóm, không phải một cơ quan ban hành"}
    ]


def test_the_number_of_assignments_is_capped_after_groups_are_expanded() -> None:
    plan = submission([{"agency": "Các chi bộ trực thuộc", "task": "x"}, {"agency": "ubnd", "task": "y"}])

    assert rejection(plan, max_assignments=12) == [
        {"where": "assignments", "problem": "kế hoạch giao 13 nhiệm vụ; mỗi kế hoạch tối đa 12 nhiệm vụ"}
    ]
    _, events = register(plan, max_assignments=13)
    assert events[0].assignment_count == 13


def test_a_plan_needs_at_least_one_assignment() -> None:
    with pytest.raises(ValidationError) as caught:
        submission([])
    assert caught.value.errors()[0]["loc"] == ("assignments",)


def test_a_group_without_members_is_a_problem_not_a_silently_dropped_task() -> None:
    directory = Directory(
        [
            Agency(code="dang-uy", kind="office", name="Đảng ủy xã Thử"),
            Agency(code="ubnd", kind="ubnd", name="Ủy ban nhân dân xã Thử", aliases=("UBND xã",), parent="dang-uy"),
        ],
        [Group(code="cac-truong", name="Các trường học", member_kinds=("education_unit",))],
    )
    assert directory.resolve("Các trường học") == []
    plan = submission(
        [{"agency": "UBND xã", "task": "x"}, {"agency": "Các trường học", "task": "Tổ chức tuần lễ đọc sách."}],
        issuer="dang-uy",
    )
    problems = rejection(plan, directory=directory)
    assert problems == [
        {"where": "assignments[1].agency", "problem": "'Các trường học' là nhóm chưa có thành viên nào trong danh bạ"}
    ]


# --- identifiers ------------------------------------------------------------------------------------------


def test_identifiers_are_deterministic_and_derived_from_issuer_number_and_year() -> None:
    number = plan_number()
    plan = submission([{"agency": "ubnd", "task": "x"}, {"agency": "mttq", "task": "y"}], number=number)
    record, events = register(plan)
    again_record, again = register(
        submission([{"agency": "UBND", "task": "x"}, {"agency": "MTTQ", "task": "y"}], number=number)
    )

    plan_id = plan_id_for("dang-uy", number, 2026)
    assert record["_id"] == again_record["_id"] == plan_id
    assert len(plan_id) == 20 and int(plan_id, 16) >= 0
    assert {e.plan_id for e in events} == {plan_id}
    assert {e.correlation_id for e in events} == {plan_id}
    assert created(events)["ubnd"].assignment_id == created(again)["ubnd"].assignment_id
    assert created(events)["ubnd"].assignment_id == assignment_id_for(plan_id, "ubnd")
    assert created(events)["ubnd"].assignment_id != created(events)["mttq"].assignment_id
    assert [a["assignment_id"] for a in record["assignments"]] == [e.assignment_id for e in events[1:]]
    # event ids are unique per emission, so a re-registration is a different message about the same plan
    assert events[0].event_id != again[0].event_id


def test_the_plan_id_changes_with_number_issuer_and_year_but_not_with_unicode_form() -> None:
    number = plan_number()
    base = plan_id_for("dang-uy", number, 2026)

    assert plan_id_for("dang-uy", unicodedata.normalize("NFD", number), 2026) == base
    assert plan_id_for("dang-uy", f"  {number} ", 2026) == base
    assert plan_id_for("dang-uy", number + "x", 2026) != base
    assert plan_id_for("ubnd", number, 2026) != base
    assert plan_id_for("dang-uy", number, 2027) != base


def test_the_year_comes_from_the_issue_date_or_else_today() -> None:
    number = plan_number()
    dated, _ = register(submission([{"agency": "ubnd", "task": "x"}], number=number, issued_on="2025-12-31"))
    undated, events = register(submission([{"agency": "ubnd", "task": "x"}], number=number, issued_on=None))

    assert dated["_id"] == plan_id_for("dang-uy", number, 2025)
    assert undated["_id"] == plan_id_for("dang-uy", number, TODAY.year)
    assert undated["issued_on"] is None and events[0].issued_on is None


def test_the_record_keeps_the_submission_as_written_and_the_events_name_the_issuer() -> None:
    nfd = unicodedata.normalize("NFD", "Uỷ ban nhân dân phường")
    plan = submission([{"agency": nfd, "task": "Việc được giao."}], issuer="ĐU")
    record, events = register(plan)

    assert record["issuer"] == "dang-uy"
    assert record["issued_on"] == "2026-11-20"
    assert record["submission"]["assignments"][0]["agency"] == nfd
    assert record["assignments"][0]["agency_ref"] == {
        "code": "ubnd",
        "kind": "ubnd",
        "name": "Ủy ban nhân dân phường Hòa An",
    }
    registered = events[0]
    assert registered.issuer.code == registered.actor.code == "dang-uy"
    assert registered.issued_on == "2026-11-20"
    assert registered.number == plan.number and registered.title == plan.title
    assert created(events)["ubnd"].plan_number == plan.number
    assert created(events)["ubnd"].routing_key() == "assignment.created.ubnd.ubnd"


# --- deadlines --------------------------------------------------------------------------------------------


def test_a_date_means_the_last_millisecond_of_that_day_in_vietnam() -> None:
    instant = effective_instant(date(2027, 6, 30))

    assert instant == datetime(2027, 6, 30, 23, 59, 59, 999_000, tzinfo=VIETNAM)
    assert instant.astimezone(UTC) == datetime(2027, 6, 30, 16, 59, 59, 999_000, tzinfo=UTC)


def test_deadlines_on_events_and_in_the_record_are_utc_end_of_day() -> None:
    record, events = register(submission([{"agency": "ubnd", "task": "x"}]))

    deadlines = created(events)["ubnd"].deadlines
    assert [(d.period, d.due_at) for d in deadlines] == [
        ("2027-H1", datetime(2027, 6, 30, 16, 59, 59, 999_000, tzinfo=UTC)),
        ("2027-FY", datetime(2027, 12, 31, 16, 59, 59, 999_000, tzinfo=UTC)),
    ]
    assert deadlines[0].wording == H1["wording"]
    stored = record["assignments"][0]["deadlines"]
    assert [datetime.fromisoformat(d["due_at"]) for d in stored] == [d.due_at for d in deadlines]


def test_an_instant_with_its_offset_is_kept_as_that_instant() -> None:
    deadline = DeadlineIn(period="2027-Q2", due="2027-06-20T10:30:00+07:00").to_contract()
    assert deadline.due_at == datetime(2027, 6, 20, 3, 30, tzinfo=UTC)
    assert deadline.due_at.utcoffset() is not None and deadline.due_at.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("naive", ["2027-06-30T23:59:00", datetime(2027, 6, 30, 23, 59)], ids=["text", "object"])
def test_an_instant_without_offset_is_refused(naive: object) -> None:
    with pytest.raises(ValidationError) as caught:
        DeadlineIn(period="2027-H1", due=naive)
    error = caught.value.errors()[0]
    assert error["loc"] == ("due",)
    assert "needs its UTC offset" in error["msg"]


def test_a_bad_period_key_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        DeadlineIn(period="H1-2027", due="2027-06-30")
    assert caught.value.errors()[0]["loc"] == ("period",)


def test_a_midnight_instant_sent_as_json_text_is_that_instant() -> None:
    body = json.dumps({"period": "2027-H1", "due": "2027-06-30T00:00:00+07:00"})
    assert DeadlineIn.model_validate_json(body).to_contract().due_at == datetime(2027, 6, 29, 17, tzinfo=UTC)


@pytest.mark.parametrize(
    ("written", "instant"),
    [
        ("2027-06-30T00:00:00+07:00", datetime(2027, 6, 29, 17, tzinfo=UTC)),
        ("2027-06-30T00:00:00Z", datetime(2027, 6, 30, tzinfo=UTC)),
        ("2027-06-30T00:00:00.000+07:00", datetime(2027, 6, 29, 17, tzinfo=UTC)),
        pytest.param("2027-06-30 00:00:00+07:00", datetime(2027, 6, 29, 17, tzinfo=UTC), id="space-separator"),
        pytest.param("2027-06-30t00:00:00z", datetime(2027, 6, 30, tzinfo=UTC), id="lower-case"),
    ],
)
def test_a_midnight_instant_validated_from_python_data_is_that_instant(written: str, instant: datetime) -> None:
    """Python-mode validation is what FastAPI and the document readers use."""
    parsed = DeadlineIn.model_validate({"period": "2027-H1", "due": written})
    assert parsed.to_contract().due_at == instant


def test_a_date_in_python_data_is_still_the_end_of_that_day() -> None:
    parsed = DeadlineIn.model_validate({"period": "2027-H1", "due": "2027-06-30"})
    assert parsed.due == date(2027, 6, 30)
    assert parsed.to_contract().due_at == datetime(2027, 6, 30, 16, 59, 59, 999_000, tzinfo=UTC)


def test_a_deadline_is_a_date_or_a_duration_from_receipt_never_both_nor_neither() -> None:
    from services.intake.domain import AfterReceipt

    rule = {"period": "2027-R10D", "after_receipt": {"days": 10}, "wording": "trong vòng 10 ngày kể từ ngày nhận được"}
    assert DeadlineIn.model_validate(rule).after_receipt == AfterReceipt(days=10, working_days=False)
    for wrong in ({**rule, "due": "2027-01-31"}, {"period": "2027-R10D"}):
        with pytest.raises(ValidationError, match="either `due` or `after_receipt`"):
            DeadlineIn.model_validate(wrong)
    with pytest.raises(ValueError, match="give the day of registration"):
        DeadlineIn.model_validate(rule).to_contract()


# --- input rules (issue #20) -----------------------------------------------------------------------------


def refusal(field: str, **changes: Any) -> str:
    """The message of the one validation error a submission with `changes` gets, checked to name `field`."""
    with pytest.raises(ValidationError) as refused:
        submission([{"agency": "ubnd", "task": "x"}], **changes)
    [error] = refused.value.errors()
    assert field in [str(part) for part in error["loc"]], error
    return vietnamese(error)


def vietnamese(error: Any) -> str:
    """A validation error's message as a clerk reads it: the Vietnamese of the `Wording` it was raised with (its
    English is pydantic's `msg`)."""
    said = wording_of(error["ctx"]["error"])
    assert isinstance(said, Wording) and said.en in error["msg"], error
    return said.vi


@pytest.mark.parametrize(
    "number",
    ["12 KH/ĐU", "<b>12</b>", "$where", "12-KH/ĐU;drop", "12_KH", "12-KH/" + "Đ" * 50, "-12-KH", "١٢-KH"],
    ids=["space", "markup", "operator", "semicolon", "underscore", "too-long", "leading-dash", "arabic-digits"],
)
def test_a_plan_number_has_the_shape_of_a_document_symbol(number: str) -> None:
    message = refusal("number", number=number)
    assert "số, ký hiệu kế hoạch" in message and "50 ký tự" in message


@pytest.mark.parametrize("number", ["85-KH/ĐU", "12/2026/QĐ-UBND", "03-HD/BTGTW", "1.5-KH/ĐU", "20-CT/TU", "15/KH-ủy"])
def test_real_document_symbols_are_accepted(number: str) -> None:
    assert submission([{"agency": "ubnd", "task": "x"}], number=number).number == number


INVISIBLE = [
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u200e",
    "\u200f",
    "\u202a",
    "\u202e",
    "\u2066",
    "\u2069",
]


@pytest.mark.parametrize("char", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_invisible_and_direction_characters_are_refused_in_numbers_and_names(char: str) -> None:
    assert f"U+{ord(char):04X}" in refusal("number", number=f"12-KH{char}/ĐU")
    assert "ký tự ẩn" in refusal("issuer", issuer=f"Đảng ủy{char} phường")
    with pytest.raises(ValidationError) as refused:
        submission([{"agency": f"Ủy ban{char} nhân dân phường", "task": "x"}])
    assert refused.value.errors()[0]["loc"][-1] == "agency"


def test_a_number_in_another_normal_form_is_the_same_plan_and_kept_as_written() -> None:
    wide = "８５－ＫＨ/ĐU"  # fullwidth digits, hyphen and letters, as some input methods type them
    assert plan_id_for("dang-uy", wide, 2026) == plan_id_for("dang-uy", "85-KH/ĐU", 2026)
    record, events = register(submission([{"agency": "ubnd", "task": "x"}], number=wide))
    assert record["number"] == wide and events[0].number == wide  # type: ignore[attr-defined]


@pytest.mark.parametrize("field", ["number", "title", "issuer", "agency", "task", "wording"])
def test_a_lone_surrogate_is_refused_wherever_it_is(field: str) -> None:
    lone = "Kế hoạch \ud800"
    assignments = [{"agency": "ubnd", "task": "x"}]
    changes: dict[str, Any] = {field: lone}
    if field in ("agency", "task"):
        assignments, changes = [{"agency": "ubnd", "task": "x", field: lone}], {}
    elif field == "wording":
        changes = {"deadlines": [{**H1, "wording": lone}]}
    with pytest.raises(ValidationError) as refused:
        submission(assignments, **changes)
    [error] = refused.value.errors()
    assert error["loc"][-1] == field and "nửa cặp UTF-16" in vietnamese(error), error
    assert "lone UTF-16 surrogate" in error["msg"]


def test_the_task_merged_for_one_body_is_capped_with_its_length_and_the_limit() -> None:
    clause = "y" * 9_000
    plan = submission(
        [{"agency": "ubnd", "task": clause}, {"agency": "UBND", "task": clause}, {"agency": "ubnd", "task": clause}]
    )
    with pytest.raises(PlanRejected) as rejected:
        register(plan)
    [problem] = rejected.value.problems
    assert "ubnd" in problem["problem"] and "27.002 ký tự" in problem["problem"] and "20.000" in problem["problem"]
    record, _ = register(submission([{"agency": "ubnd", "task": clause}, {"agency": "UBND", "task": clause}]))
    assert len(record["assignments"][0]["task"]) == 18_001


def test_a_plan_larger_than_the_limit_is_refused_with_its_size() -> None:
    refuse_oversized(MAX_PLAN_BYTES)
    with pytest.raises(PlanRejected) as rejected:
        refuse_oversized(MAX_PLAN_BYTES + 1)
    assert "8.388.609 byte" in rejected.value.problems[0]["problem"]
    assert "8.388.608 byte" in rejected.value.problems[0]["problem"]


def test_a_date_ends_at_the_shared_end_of_day_in_utc() -> None:
    instant = effective_instant(date(2027, 6, 30))
    assert instant == end_of_day(date(2027, 6, 30)) and instant.utcoffset() == timedelta(0)
    assert instant.tzinfo is UTC
