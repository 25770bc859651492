"""Tracking's use cases with in-memory fakes (in the manner of cosmicpython's handler tests): the unit
of work commits by keeping the events, the repository and the token store are dictionaries."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from services.tracking import domain
from services.tracking.domain import AssignmentRecord, Change
from services.tracking.use_cases import (
    AgencyQuery,
    Conflict,
    DecideExtension,
    Forbidden,
    IssuedToken,
    IssueToken,
    NotFound,
    Refused,
    RotatedToken,
    RotateToken,
    TrackingService,
)
from services.tracking.use_cases.errors import Invalid
from shared.contracts.commands import AcknowledgeAssignment, ReportProgress, RequestExtension, SubmitReport
from shared.contracts.events import (
    AgencyRef,
    AssignmentAcknowledged,
    AssignmentCreated,
    DeadlineExtended,
    Event,
    ExtensionRefused,
    ExtensionRequested,
    ReportingDeadline,
    ReportSubmitted,
)
from shared.domain.clock import FakeClock
from shared.domain.wording import Wording, wording_of
from shared.platform.auth import Principal, Role
from tests.fakes import FakeUnitOfWork

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
ISSUER = AgencyRef(code="dang-uy", kind="office", name="Đảng ủy phường Hòa An")
CELL = AgencyRef(code="chi-bo-khu-1", kind="party_cell", name="Chi bộ khu dân cư số 1")
OTHER_CELL = AgencyRef(code="chi-bo-khu-2", kind="party_cell", name="Chi bộ khu dân cư số 2")

AGENCY = Principal(CELL.code, "agency")
ISSUING = Principal(ISSUER.code, "issuer")
OTHER_ISSUER = Principal("ubnd", "issuer")
OPERATOR = Principal("operator", "operator")


class FakeRepository:
    """The repository's behaviour in dictionaries: a change applies only at the version read."""

    def __init__(self, *assignments: AssignmentRecord) -> None:
        self.assignments = {a["_id"]: a for a in assignments}
        self.plans: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.extensions: dict[str, dict[str, Any]] = {}
        self.changed_meanwhile = False

    async def get_assignment(self, assignment_id: str, session: Any = None) -> AssignmentRecord | None:
        found = self.assignments.get(assignment_id)
        return copy.deepcopy(found) if found is not None else None

    async def apply(self, assignment: AssignmentRecord, change: Change, session: Any) -> bool:
        stored = self.assignments[assignment["_id"]]
        if self.changed_meanwhile or stored["version"] != assignment["version"]:
            return False
        stored.update(change.fields)  # type: ignore[typeddict-item]  # the fields a Change names
        if change.period is not None:
            period = stored["periods"][change.period]
            if change.report is not None:
                period["reports"].append(change.report)
            if change.due_at is not None:
                period["due_at"] = change.due_at
            if change.extension is not None:
                period.setdefault("extensions", []).append(change.extension)
        stored["version"] += 1
        return True

    async def recorded(self, event_id: str, session: Any = None) -> dict[str, Any] | None:
        return self.events.get(event_id)

    async def record_event(self, event: Event, session: Any, channel: str = "amqp", actor_role: Any = None) -> None:
        data = event.model_dump(mode="python")
        self.events[event.event_id] = {"channel": channel, "actor_role": actor_role, "data": data}

    async def extension(self, request_id: str, session: Any = None) -> dict[str, Any] | None:
        return copy.deepcopy(self.extensions.get(request_id))

    async def add_extension(self, record: dict[str, Any], session: Any) -> None:
        self.extensions[record["_id"]] = record

    async def settle_extension(self, request_id: str, outcome: dict[str, Any], session: Any) -> None:
        self.extensions[request_id].update(outcome)

    async def plan(self, plan_id: str) -> dict[str, Any] | None:
        return self.plans.get(plan_id)

    async def plan_assignments(self, plan_id: str) -> list[AssignmentRecord]:
        return [a for a in self.assignments.values() if a["plan_id"] == plan_id]

    async def agency_assignments(
        self, agency_code: str, issuer: str | None, state: str | None, period: str | None, skip: int, limit: int
    ) -> list[AssignmentRecord]:
        rows = [
            a
            for a in self.assignments.values()
            if a["agency"]["code"] == agency_code and (issuer is None or a["issuer"]["code"] == issuer)
        ]
        return rows[skip : skip + limit]

    async def history(self, assignment_id: str) -> list[dict[str, Any]]:
        return [row for row in self.events.values() if row["data"].get("assignment_id") == assignment_id]


class FakeTokens:
    def __init__(self) -> None:
        self.live: dict[str, tuple[str, Role]] = {}

    async def issue(
        self,
        subject: str,
        role: Role,
        at: datetime,
        label: str = "",
        session: Any = None,
        *,
        expires_at: datetime | None = None,
    ) -> tuple[str, str]:
        token_id = f"t{len(self.live)}"
        self.live[token_id] = (subject, role)
        return token_id, f"ddc_secret_{token_id}"

    async def rotate(
        self, token_id: str, at: datetime, overlap: timedelta, expires_at: datetime | None, session: Any = None
    ) -> RotatedToken | None:
        if token_id not in self.live:
            return None
        new_id, token = await self.issue(*self.live[token_id], at, expires_at=expires_at)
        return RotatedToken(IssuedToken(new_id, token, *self.live[token_id], expires_at), token_id, at + overlap)

    async def revoke(self, token_id: str, at: datetime, session: Any = None) -> bool:
        return self.live.pop(token_id, None) is not None


def assignment(agency: AgencyRef = CELL, issuer: AgencyRef = ISSUER, plan_id: str = "plan-1") -> AssignmentRecord:
    event = AssignmentCreated(
        correlation_id=plan_id,
        agency=agency,
        actor=issuer,
        assignment_id=f"a-{agency.code}-{plan_id}",
        plan_id=plan_id,
        plan_number="9-KH/ĐU",
        plan_title="Kế hoạch thử",
        issuer=issuer,
        task="Tổ chức học tập",
        occurred_at=NOW - timedelta(hours=2),
        deadlines=[
            ReportingDeadline(period="2027-Q1", due_at=NOW + timedelta(days=10)),
            ReportingDeadline(period="2027-Q2", due_at=NOW + timedelta(days=100)),
        ],
    )
    return domain.new_assignment(event.model_dump(mode="python"))


def service_for(*assignments: AssignmentRecord) -> tuple[TrackingService, FakeUnitOfWork, FakeRepository, FakeClock]:
    uow, repository, clock = FakeUnitOfWork(), FakeRepository(*assignments), FakeClock(NOW)
    return TrackingService(uow, repository, FakeTokens(), clock), uow, repository, clock


def acknowledgements_observed() -> float:
    labels = {"agency_kind": CELL.kind}
    return REGISTRY.get_sample_value("dondoc_acknowledgement_latency_seconds_count", labels) or 0.0


def ack(record: AssignmentRecord, command_id: str = "c1") -> AcknowledgeAssignment:
    return AcknowledgeAssignment(command_id=command_id, assignment_id=record["_id"])


async def test_an_acknowledgement_changes_the_state_and_publishes_one_fact_in_one_commit() -> None:
    record = assignment()
    service, uow, repository, _ = service_for(record)
    observed = acknowledgements_observed()
    result = await service.acknowledge(ack(record), AGENCY, "http")
    assert acknowledgements_observed() == observed + 1  # after the commit, by the use case
    assert result.duplicate is False and result.event["event_type"] == "assignment.acknowledged"
    assert [type(e) for e in uow.published] == [AssignmentAcknowledged] and uow.commits == 1
    stored = repository.assignments[record["_id"]]
    assert stored["state"] == "acknowledged" and stored["acknowledged_at"] == NOW and stored["version"] == 1
    audit = repository.events[uow.published[0].event_id]
    assert (audit["channel"], audit["actor_role"]) == ("http", "agency")


async def test_the_same_command_twice_is_applied_once() -> None:
    record = assignment()
    service, uow, _, _ = service_for(record)
    first = await service.acknowledge(ack(record), AGENCY, "amqp")
    again = await service.acknowledge(ack(record), AGENCY, "amqp")
    assert again.duplicate is True and again.event["event_id"] == first.event["event_id"]
    assert len(uow.published) == 1


async def test_another_agency_is_forbidden_and_counted_and_nothing_is_published() -> None:
    record = assignment()
    service, uow, repository, _ = service_for(record)
    before = REGISTRY.get_sample_value("dondoc_forbidden_total", {"channel": "http"}) or 0.0
    with pytest.raises(Forbidden, match="not assigned to chi-bo-khu-2"):
        await service.acknowledge(ack(record), Principal(OTHER_CELL.code, "agency"), "http")
    assert REGISTRY.get_sample_value("dondoc_forbidden_total", {"channel": "http"}) == before + 1
    assert uow.published == [] and repository.assignments[record["_id"]]["state"] == "assigned"


async def test_an_unknown_assignment_is_not_found_and_an_illegal_transition_is_refused() -> None:
    record = assignment()
    service, _, _, _ = service_for(record)
    with pytest.raises(NotFound):
        await service.acknowledge(AcknowledgeAssignment(command_id="c", assignment_id="nope"), AGENCY, "http")
    await service.acknowledge(ack(record), AGENCY, "http")
    with pytest.raises(Refused, match="acknowledged before") as twice:
        await service.acknowledge(ack(record, "c2"), AGENCY, "http")
    said = wording_of(twice.value)  # the rule's words in both languages, carried through the use case's refusal
    assert isinstance(said, Wording) and said.vi.startswith("Nhiệm vụ đã được xác nhận tiếp nhận từ trước")
    await service.report_progress(
        ReportProgress(command_id="p1", assignment_id=record["_id"], percent=40), AGENCY, "http"
    )
    with pytest.raises(Refused, match="cannot go back"):
        await service.report_progress(
            ReportProgress(command_id="p2", assignment_id=record["_id"], percent=10), AGENCY, "http"
        )


async def test_a_change_made_meanwhile_is_a_conflict_and_publishes_nothing() -> None:
    record = assignment()
    service, uow, repository, _ = service_for(record)
    repository.changed_meanwhile = True
    observed = acknowledgements_observed()
    with pytest.raises(Conflict):
        await service.acknowledge(ack(record), AGENCY, "http")
    assert uow.published == [] and uow.commits == 0
    assert acknowledgements_observed() == observed  # nothing was acknowledged


async def test_reports_are_late_by_whole_seconds_and_the_last_period_completes_the_assignment() -> None:
    record = assignment()
    service, uow, repository, clock = service_for(record)
    on_time = await service.submit_report(
        SubmitReport(command_id="r1", assignment_id=record["_id"], period="2027-Q1"), AGENCY, "http"
    )
    assert on_time.event["late_by_seconds"] == 0 and repository.assignments[record["_id"]]["state"] == "in_progress"
    clock.set(NOW + timedelta(days=100, seconds=1.5))
    late = await service.submit_report(
        SubmitReport(command_id="r2", assignment_id=record["_id"], period="2027-Q2"), AGENCY, "http"
    )
    assert late.event["late_by_seconds"] == 2
    stored = repository.assignments[record["_id"]]
    assert stored["state"] == "completed" and [r["revision"] for r in stored["periods"]["2027-Q2"]["reports"]] == [1]
    assert [type(e) for e in uow.published] == [ReportSubmitted, ReportSubmitted]
    with pytest.raises(Refused, match="2027-Q3"):
        await service.submit_report(
            SubmitReport(command_id="r3", assignment_id=record["_id"], period="2027-Q3"), AGENCY, "http"
        )


async def request(service: TrackingService, record: AssignmentRecord, days: int = 20) -> str:
    command = RequestExtension(
        command_id=f"x{days}",
        assignment_id=record["_id"],
        period="2027-Q1",
        requested_due_at=NOW + timedelta(days=days),
        reason="Chờ số liệu",
    )
    return str((await service.request_extension(command, AGENCY, "http")).event["request_id"])


async def test_an_extension_is_decided_once_by_the_plans_issuer_and_moves_the_deadline() -> None:
    record = assignment()
    service, uow, repository, _ = service_for(record)
    request_id = await request(service, record)
    assert repository.extensions[request_id]["status"] == "pending"
    for who in (AGENCY, OTHER_ISSUER):
        with pytest.raises(Forbidden):
            await service.decide_extension(DecideExtension(request_id, approve=True), who, "http")
    await service.decide_extension(DecideExtension(request_id, approve=True, reason="Đồng ý"), ISSUING, "http")
    with pytest.raises(Refused, match="already approved") as decided:
        await service.decide_extension(DecideExtension(request_id, approve=False), OPERATOR, "http")
    assert wording_of(decided.value) == Wording(
        vi=f"Đề nghị gia hạn {request_id} đã được chấp thuận từ trước.",
        en=f"extension request {request_id} was already approved",
    )
    period = repository.assignments[record["_id"]]["periods"]["2027-Q1"]
    assert period["due_at"] == NOW + timedelta(days=20) and period["extensions"][0]["approved_by"] == ISSUER.code
    assert [type(e) for e in uow.published] == [ExtensionRequested, DeadlineExtended]
    with pytest.raises(NotFound):
        await service.decide_extension(DecideExtension("nope", approve=True), OPERATOR, "http")


async def test_a_refused_extension_keeps_the_deadline() -> None:
    record = assignment()
    service, uow, repository, _ = service_for(record)
    request_id = await request(service, record)
    await service.decide_extension(DecideExtension(request_id, approve=False, reason="Không"), OPERATOR, "http")
    assert repository.assignments[record["_id"]]["periods"]["2027-Q1"]["due_at"] == NOW + timedelta(days=10)
    assert repository.extensions[request_id]["status"] == "refused" and type(uow.published[-1]) is ExtensionRefused


async def test_every_query_applies_one_reading_rule() -> None:
    mine, theirs = assignment(), assignment(issuer=AgencyRef(code="ubnd", kind="ubnd", name="UBND"), plan_id="p2")
    service, _, _, _ = service_for(mine, theirs)
    assert (await service.assignment(mine["_id"], ISSUING))["_id"] == mine["_id"]
    for query in (service.assignment, service.history):
        with pytest.raises(Forbidden):
            await query(mine["_id"], OTHER_ISSUER)
        with pytest.raises(Forbidden):
            await query(mine["_id"], Principal(OTHER_CELL.code, "agency"))
    with pytest.raises(Forbidden):
        await service.plan_status("plan-1", OTHER_ISSUER)  # known only by its assignments: their issuer decides
    with pytest.raises(Forbidden):
        await service.plan_status("plan-1", AGENCY)
    assert (await service.plan_status("plan-1", ISSUING))["totals"]["total"] == 2
    listed = {
        who.code: [a["_id"] for a in await service.agency_assignments(AgencyQuery(CELL.code), who)]
        for who in (ISSUING, OTHER_ISSUER, AGENCY, OPERATOR)
    }
    assert listed == {
        ISSUER.code: [mine["_id"]],
        "ubnd": [theirs["_id"]],
        CELL.code: [mine["_id"], theirs["_id"]],
        "operator": [mine["_id"], theirs["_id"]],
    }
    with pytest.raises(Forbidden):
        await service.agency_assignments(AgencyQuery(CELL.code), Principal(OTHER_CELL.code, "agency"))
    with pytest.raises(NotFound):
        await service.plan_status("no-such-plan", OPERATOR)


async def test_tokens_are_issued_once_and_revoked_each_in_the_unit_of_work() -> None:
    service, uow, _, _ = service_for()
    issued = await service.issue_token(IssueToken(CELL.code, "agency", "máy chủ chi bộ"))
    assert issued.token.startswith("ddc_") and issued.role == "agency"
    await service.revoke_token(issued.token_id)
    assert uow.commits == 2 and uow.published == []
    with pytest.raises(NotFound):
        await service.revoke_token(issued.token_id)


async def test_tokens_expire_after_the_default_lifetime_unless_told_and_never_in_the_past() -> None:
    service, _, _, clock = service_for()
    issued = await service.issue_token(IssueToken(CELL.code, "agency"))
    assert issued.expires_at == NOW + timedelta(days=365)
    chosen = NOW + timedelta(days=7)
    assert (await service.issue_token(IssueToken(CELL.code, "agency", expires_at=chosen))).expires_at == chosen
    with pytest.raises(Invalid):
        await service.issue_token(IssueToken(CELL.code, "agency", expires_at=NOW))
    rotated = await service.rotate_token(RotateToken(issued.token_id, timedelta(hours=24)))
    assert rotated.old_expires_at == NOW + timedelta(hours=24) and rotated.new.expires_at == NOW + timedelta(days=365)
    with pytest.raises(NotFound):
        await service.rotate_token(RotateToken("no-such-token", timedelta(hours=1)))
