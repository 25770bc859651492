"""Intake's use cases with in-memory fakes (in the manner of cosmicpython's handler tests): what
each action stores and publishes through the unit of work, and what it refuses — storing and publishing
nothing then."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from services.intake.documents import parse_document_here
from services.intake.domain import PlanRecord, PlanRejected, PlanSubmission
from services.intake.use_cases.directory import DirectoryEdit, DirectoryUseCases
from services.intake.use_cases.errors import (
    AmendmentRefused,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    Overtaken,
    VersionMismatch,
)
from services.intake.use_cases.plans import (
    PlanSettings,
    PlanUseCases,
    ReadPlanDocument,
    RegisterPlan,
    WithdrawPlan,
)
from services.intake.use_cases.ports import Actor, AlreadyStored
from shared.contracts.events import (
    AssignmentCancelled,
    AssignmentCreated,
    AssignmentRevised,
    DirectoryUpdated,
    PlanRegistered,
)
from shared.domain.clock import FakeClock
from shared.domain.directory import Directory
from tests.fakes import FakeUnitOfWork
from tests.unit.test_intake_domain import WARD

NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
OPERATOR = Actor("operator", "ops")
ISSUER = Actor("issuer", "dang-uy")


class FakePlans:
    """The plan repository in a dict; `race` makes the next conditional replace lose to another writer."""

    def __init__(self) -> None:
        self.plans: dict[str, PlanRecord] = {}
        self.race = False

    async def add(self, record: PlanRecord, session: Any) -> None:
        if record["_id"] in self.plans:
            raise AlreadyStored(record["_id"])
        self.plans[record["_id"]] = copy.deepcopy(record)

    async def stored(self, plan_id: str, session: Any = None) -> PlanRecord | None:
        return copy.deepcopy(self.plans.get(plan_id))

    async def replace(self, record: PlanRecord, version: int, session: Any) -> bool:
        if self.race or int(self.plans[record["_id"]].get("version") or 0) != version:
            return False
        self.plans[record["_id"]] = {**copy.deepcopy(record), "version": version + 1}
        return True

    async def withdraw(self, stored: PlanRecord, now: datetime, by: str, session: Any) -> bool:
        current = self.plans[stored["_id"]]
        if self.race or current.get("version") != stored.get("version") or current.get("withdrawn_at"):
            return False
        current.update(withdrawn_at=now, withdrawn_by=by)
        return True

    async def get(self, plan_id: str) -> dict[str, Any] | None:
        stored = self.plans.get(plan_id)
        return None if stored is None else {k: v for k, v in stored.items() if k != "submission"}

    async def assigning(self, agencies: list[str], limit: int) -> list[str]:
        return [
            plan_id
            for plan_id, plan in self.plans.items()
            if not plan.get("withdrawn_at") and any(a["agency"] in agencies for a in plan["assignments"])
        ][:limit]

    def stored_size(self, record: PlanRecord) -> int:
        return len(repr(record).encode())


class FakeDirectoryStore:
    def __init__(self, version: int) -> None:
        self.version = version
        self.applied: list[DirectoryUpdated] = []
        self.overtaken = False

    async def claim_version(self, expected: int, changed_by: str, now: datetime, session: Any) -> bool:
        if self.overtaken or expected != self.version:
            return False
        self.version = expected + 1
        return True

    async def apply(self, change: DirectoryUpdated, session: Any = None) -> int:
        self.applied.append(change)
        return 1


class FakeDirectories:
    def __init__(self, directory: Directory, version: int = 3) -> None:
        self.directory = directory
        self.version = version
        self.store = FakeDirectoryStore(version)

    async def refresh(self) -> bool:
        return False

    def replace(self, version: int, directory: Directory) -> None:
        self.version, self.directory = version, directory


def submission(task: str = "Rà soát các hộ kinh doanh.", **changes: Any) -> PlanSubmission:
    values: dict[str, Any] = {
        "issuer": "Đảng ủy phường",
        "number": "12-KH/ĐU",
        "title": "Kế hoạch kiểm tra",
        "issued_on": "2026-12-01",
        "assignments": [
            {"agency": "Ủy ban nhân dân phường", "task": task},
            {"agency": "Ban Tuyên giáo", "task": "Tuyên truyền trên loa phường."},
        ],
        "deadlines": [{"period": "2027-H1", "due": "2027-06-30"}],
    }
    return PlanSubmission.model_validate({**values, **changes})


def bootstrap(**settings: Any) -> tuple[PlanUseCases, FakePlans, FakeUnitOfWork]:
    plans, uow = FakePlans(), FakeUnitOfWork()
    use_cases = PlanUseCases(
        uow,
        plans,
        FakeDirectories(WARD),
        FakeClock(NOW),
        PlanSettings(max_assignments=500, **settings),
        read=parse_document_here,
    )
    return use_cases, plans, uow


# --- plans -----------------------------------------------------------------------------------------------


async def test_a_new_plan_is_stored_and_its_events_published_in_one_commit() -> None:
    use_cases, plans, uow = bootstrap()

    result = await use_cases.register(RegisterPlan(submission(), OPERATOR))

    assert result.status == "registered"
    assert list(plans.plans) == [result.plan_id]
    assert plans.plans[result.plan_id]["registered_at"] == NOW
    assert uow.commits == 1
    assert isinstance(uow.published[0], PlanRegistered)
    assert sorted(e.agency.code for e in uow.published[1:] if isinstance(e, AssignmentCreated)) == [
        "tuyen-giao",
        "ubnd",
    ]
    assert sorted(result.created_kinds) == sorted(a.kind for a in (WARD.get("ubnd"), WARD.get("tuyen-giao")))


async def test_the_same_plan_submitted_again_publishes_nothing() -> None:
    use_cases, plans, uow = bootstrap()
    first = await use_cases.register(RegisterPlan(submission(), OPERATOR))
    published = list(uow.published)

    again = await use_cases.register(RegisterPlan(submission(), OPERATOR))

    assert (again.status, again.plan_id) == ("unchanged", first.plan_id)
    assert uow.published == published
    assert "version" not in plans.plans[first.plan_id]


async def test_a_corrected_plan_publishes_only_the_difference_and_moves_the_version() -> None:
    use_cases, plans, uow = bootstrap()
    first = await use_cases.register(RegisterPlan(submission(), OPERATOR))
    before = len(uow.published)

    amended = await use_cases.register(RegisterPlan(submission("Rà soát lại các hộ kinh doanh."), OPERATOR))

    assert amended.status == "amended" and amended.amendment is not None
    assert amended.amendment.tasks_changed == ["ubnd"]
    assert [type(e) for e in uow.published[before:]] == [AssignmentRevised]
    assert plans.plans[first.plan_id]["version"] == 1
    assert plans.plans[first.plan_id]["registered_at"] == NOW


async def test_a_body_no_longer_named_is_cancelled() -> None:
    use_cases, _, uow = bootstrap()
    await use_cases.register(RegisterPlan(submission(), OPERATOR))
    only_ubnd = [{"agency": "Ủy ban nhân dân phường", "task": "Rà soát các hộ kinh doanh."}]

    amended = await use_cases.register(RegisterPlan(submission(assignments=only_ubnd), OPERATOR))

    assert amended.amendment is not None and amended.amendment.cancelled == ["tuyen-giao"]
    assert isinstance(uow.published[-1], AssignmentCancelled)


async def test_a_correction_of_the_reporting_periods_is_refused_and_nothing_is_published() -> None:
    use_cases, plans, uow = bootstrap()
    first = await use_cases.register(RegisterPlan(submission(), OPERATOR))
    published, stored = list(uow.published), copy.deepcopy(plans.plans)

    with pytest.raises(AmendmentRefused):
        await use_cases.register(
            RegisterPlan(submission(deadlines=[{"period": "2027-FY", "due": "2027-12-31"}]), OPERATOR)
        )

    assert uow.published == published and plans.plans == stored
    assert first.plan_id in plans.plans


async def test_a_correction_overtaken_by_another_is_refused() -> None:
    use_cases, plans, uow = bootstrap()
    await use_cases.register(RegisterPlan(submission(), OPERATOR))
    published = list(uow.published)
    plans.race = True

    with pytest.raises(Overtaken):
        await use_cases.register(RegisterPlan(submission("Một nhiệm vụ khác."), OPERATOR))

    assert uow.published == published


async def test_a_plan_naming_an_unknown_body_is_rejected_and_nothing_is_stored() -> None:
    use_cases, plans, uow = bootstrap()

    with pytest.raises(PlanRejected) as rejected:
        await use_cases.register(
            RegisterPlan(submission(assignments=[{"agency": "Sở Không Tồn Tại", "task": "x"}]), OPERATOR)
        )

    assert rejected.value.problems[0]["where"] == "assignments[0].agency"
    assert plans.plans == {} and uow.published == [] and uow.commits == 0


async def test_an_issuer_registers_only_its_own_plans() -> None:
    use_cases, plans, uow = bootstrap()

    with pytest.raises(Forbidden):
        await use_cases.register(RegisterPlan(submission(), Actor("issuer", "ubnd")))
    assert plans.plans == {} and uow.published == []

    result = await use_cases.register(RegisterPlan(submission(), ISSUER))
    assert result.status == "registered"


async def test_a_plan_too_large_to_store_is_refused_with_its_size_and_the_limit() -> None:
    use_cases, plans, uow = bootstrap(max_plan_bytes=1_000)

    with pytest.raises(PlanRejected) as rejected:
        await use_cases.register(RegisterPlan(submission(), OPERATOR))

    problem = rejected.value.problems[0]
    assert problem["where"] == "plan" and "1.000 byte" in problem["problem"], problem
    assert plans.plans == {} and uow.published == []


async def test_a_plan_is_read_by_its_issuer_and_operators_only() -> None:
    use_cases, _, _ = bootstrap()
    registered = await use_cases.register(RegisterPlan(submission(), OPERATOR))

    shown = await use_cases.plan(registered.plan_id, ISSUER)
    assert shown["number"] == "12-KH/ĐU" and "submission" not in shown
    with pytest.raises(Forbidden):
        await use_cases.plan(registered.plan_id, Actor("issuer", "ubnd"))
    with pytest.raises(NotFound):
        await use_cases.plan("nothere", OPERATOR)


async def test_a_json_document_is_read_as_its_submission() -> None:
    use_cases, plans, _ = bootstrap()
    data = submission().model_dump_json().encode()

    document = await use_cases.read_document(ReadPlanDocument(data, "plan.json"))

    assert document.submission == submission() and document.skipped == []
    assert (await use_cases.preview(data, "plan.json"))["ready"] is True
    assert plans.plans == {}  # reading and previewing store nothing


async def test_a_withdrawn_plan_cancels_every_assignment_once_and_cannot_come_back() -> None:
    use_cases, plans, uow = bootstrap()
    registered = await use_cases.register(RegisterPlan(submission(), ISSUER))
    before = len(uow.published)

    withdrawn = await use_cases.withdraw(WithdrawPlan(registered.plan_id, ISSUER))

    assert sorted(withdrawn.cancelled) == ["tuyen-giao", "ubnd"]
    cancelled = uow.published[before:]
    assert all(isinstance(e, AssignmentCancelled) for e in cancelled)
    assert {e.assignment_id for e in cancelled} == {a["assignment_id"] for a in registered.assignments}  # type: ignore[attr-defined]
    assert plans.plans[registered.plan_id]["withdrawn_at"] == NOW
    again = await use_cases.withdraw(WithdrawPlan(registered.plan_id, OPERATOR))
    assert again.cancelled == [] and len(uow.published) == before + 2
    with pytest.raises(AmendmentRefused):
        await use_cases.register(RegisterPlan(submission(), ISSUER))


async def test_only_its_issuer_or_an_operator_withdraws_a_plan() -> None:
    use_cases, plans, uow = bootstrap()
    registered = await use_cases.register(RegisterPlan(submission(), OPERATOR))
    before = len(uow.published)

    with pytest.raises(Forbidden):
        await use_cases.withdraw(WithdrawPlan(registered.plan_id, Actor("issuer", "ubnd")))
    with pytest.raises(NotFound):
        await use_cases.withdraw(WithdrawPlan("nothere", OPERATOR))
    plans.race = True
    with pytest.raises(Overtaken):
        await use_cases.withdraw(WithdrawPlan(registered.plan_id, OPERATOR))
    assert len(uow.published) == before and "withdrawn_at" not in plans.plans[registered.plan_id]


async def test_a_withdrawn_plan_no_longer_keeps_its_agencies_in_the_directory() -> None:
    plans = FakePlans()
    plan_use_cases = PlanUseCases(
        FakeUnitOfWork(), plans, FakeDirectories(WARD), FakeClock(NOW), PlanSettings(max_assignments=500)
    )
    registered = await plan_use_cases.register(RegisterPlan(submission(), OPERATOR))
    await plan_use_cases.withdraw(WithdrawPlan(registered.plan_id, OPERATOR))
    use_cases, _, uow = directory_use_cases(plans)

    change = await use_cases.delete_agency("tuyen-giao", DirectoryEdit(OPERATOR))

    assert change.changed and uow.published


# --- directory -------------------------------------------------------------------------------------------


def directory_use_cases(plans: FakePlans | None = None) -> tuple[DirectoryUseCases, FakeDirectories, FakeUnitOfWork]:
    directories, uow = FakeDirectories(WARD), FakeUnitOfWork()
    return DirectoryUseCases(uow, directories, plans or FakePlans(), FakeClock(NOW)), directories, uow


async def test_a_changed_agency_is_stored_and_published_under_the_next_version() -> None:
    use_cases, directories, uow = directory_use_cases()
    renamed = WARD.get("ubnd").model_copy(update={"name": "Ủy ban nhân dân phường Hòa An mới"})

    change = await use_cases.put_agency("ubnd", renamed, DirectoryEdit(OPERATOR, if_match=3))

    assert (change.version, change.changed, change.agencies_changed) == (4, True, ["ubnd"])
    [event] = uow.published
    assert isinstance(event, DirectoryUpdated) and event.version == 4 and event.changed_by == "operator:ops"
    assert directories.store.applied == [event]
    assert directories.version == 4 and directories.directory.get("ubnd").name == renamed.name


async def test_an_agency_put_as_it_is_changes_nothing() -> None:
    use_cases, directories, uow = directory_use_cases()

    change = await use_cases.put_agency("ubnd", WARD.get("ubnd"), DirectoryEdit(OPERATOR))

    assert (change.version, change.changed) == (3, False)
    assert uow.published == [] and directories.store.applied == []


async def test_a_change_from_an_older_version_is_refused() -> None:
    use_cases, _, uow = directory_use_cases()

    with pytest.raises(VersionMismatch):
        await use_cases.delete_group("cac-chi-bo", DirectoryEdit(OPERATOR, if_match=2))
    assert uow.published == []


async def test_a_change_overtaken_while_it_ran_publishes_nothing() -> None:
    use_cases, directories, uow = directory_use_cases()
    directories.store.overtaken = True
    renamed = WARD.get("ubnd").model_copy(update={"name": "Tên khác"})

    with pytest.raises(Overtaken):
        await use_cases.put_agency("ubnd", renamed, DirectoryEdit(OPERATOR))
    assert uow.published == [] and directories.version == 3


async def test_an_agency_with_assigned_work_cannot_leave() -> None:
    plans = FakePlans()
    registered = await PlanUseCases(
        FakeUnitOfWork(), plans, FakeDirectories(WARD), FakeClock(NOW), PlanSettings(max_assignments=500)
    ).register(RegisterPlan(submission(), OPERATOR))
    use_cases, _, uow = directory_use_cases(plans)

    with pytest.raises(Conflict) as refused:
        await use_cases.delete_agency("tuyen-giao", DirectoryEdit(OPERATOR))
    assert registered.plan_id in str(refused.value)
    with pytest.raises(Conflict):
        await use_cases.replace(WARD.to_file().model_copy(update={"agencies": []}), DirectoryEdit(OPERATOR))
    assert uow.published == []


async def test_unknown_entries_and_mismatched_codes_are_refused() -> None:
    use_cases, _, uow = directory_use_cases()

    with pytest.raises(NotFound):
        await use_cases.delete_agency("khong-co", DirectoryEdit(OPERATOR))
    with pytest.raises(NotFound):
        await use_cases.agency("khong-co")
    with pytest.raises(Invalid):
        await use_cases.put_agency("mttq", WARD.get("ubnd"), DirectoryEdit(OPERATOR))
    assert uow.published == []


async def test_republishing_sends_the_whole_directory_under_a_new_version() -> None:
    use_cases, _, uow = directory_use_cases()

    change = await use_cases.republish(OPERATOR)

    [event] = uow.published
    assert isinstance(event, DirectoryUpdated) and event.complete and change.version == 4
    assert {a.code for a in event.agencies} == set(WARD.agencies)
