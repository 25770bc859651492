"""The use cases: one method per action, each state change in the unit of work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import structlog
from prometheus_client import Counter

from services.tracking import domain, status_metrics
from services.tracking.domain import AssignmentRecord
from services.tracking.use_cases.decisions import Decision, decide, decide_extension
from services.tracking.use_cases.errors import (
    CHANGED_MEANWHILE,
    EXPIRY_IN_THE_PAST,
    OWN_ASSIGNMENTS_ONLY,
    OWN_EXTENSIONS_ONLY,
    PLAN_STATUS_NOT_YOURS,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    Refused,
    no_assignment,
    no_live_token,
    not_assigned_to,
)
from services.tracking.use_cases.messages import (
    ActionResult,
    AgencyQuery,
    Assignments,
    Channel,
    DecideExtension,
    ExtensionQuery,
    IssuedToken,
    IssueToken,
    RotatedToken,
    RotateToken,
    Tokens,
)
from shared.contracts.commands import AcknowledgeAssignment, Command, ReportProgress, RequestExtension, SubmitReport
from shared.domain.clock import Clock, as_utc
from shared.domain.wording import Wording, wording_of
from shared.platform.auth import Principal
from shared.platform.unit_of_work import Transaction, UnitOfWork

log = structlog.get_logger()

FORBIDDEN = Counter(
    "dondoc_forbidden_total", "Actions refused because the actor may not act on the object.", ["channel"]
)


def counted(error: Forbidden, channel: str = "http") -> Forbidden:
    """`error`, counted in the forbidden metric: an agency (or its session) reaching for another's work."""
    FORBIDDEN.labels(channel).inc()
    return error


DEFAULT_TOKEN_TTL = timedelta(days=365)  # TRACKING_TOKEN_TTL_DAYS


class TrackingService:
    def __init__(
        self,
        uow: UnitOfWork,
        assignments: Assignments,
        tokens: Tokens,
        clock: Clock,
        token_ttl: timedelta = DEFAULT_TOKEN_TTL,
    ) -> None:
        self._uow = uow
        self._repo = assignments
        self._tokens = tokens
        self._clock = clock
        self._token_ttl = token_ttl

    def now(self) -> datetime:
        """The service's clock, for answers that depend on it (a period turns overdue by itself)."""
        return self._clock.now()

    # Agencies' actions: acknowledge, report progress, submit a report, request an extension.

    async def acknowledge(self, command: AcknowledgeAssignment, actor: Principal, channel: Channel) -> ActionResult:
        def observe(assignment: AssignmentRecord, decision: Decision) -> None:
            status_metrics.observe_acknowledgement(assignment, decision.event.occurred_at)

        return await self._agency_action(command, actor, channel, after_commit=observe)

    async def report_progress(self, command: ReportProgress, actor: Principal, channel: Channel) -> ActionResult:
        return await self._agency_action(command, actor, channel)

    async def submit_report(self, command: SubmitReport, actor: Principal, channel: Channel) -> ActionResult:
        return await self._agency_action(command, actor, channel)

    async def request_extension(self, command: RequestExtension, actor: Principal, channel: Channel) -> ActionResult:
        return await self._agency_action(command, actor, channel)

    async def apply(self, command: Command, actor: Principal, channel: Channel) -> ActionResult:
        """Any agency command, for the channels that receive them untyped (the AMQP consumer)."""
        if isinstance(command, AcknowledgeAssignment):
            return await self.acknowledge(command, actor, channel)
        return await self._agency_action(command, actor, channel)  # `decide` refuses a command it does not know

    async def _agency_action(
        self,
        command: Command,
        actor: Principal,
        channel: Channel,
        after_commit: Callable[[AssignmentRecord, Decision], None] | None = None,
    ) -> ActionResult:
        event_id = command.event_id(actor.code)
        structlog.contextvars.bind_contextvars(assignment_id=command.assignment_id, agency=actor.code)
        made: list[tuple[AssignmentRecord, Decision]] = []  # the committed attempt's is the last

        async def work(tx: Transaction, assignment: AssignmentRecord) -> Decision:
            if not domain.may_act_as_agency(actor) or assignment["agency"]["code"] != actor.code:
                raise Forbidden(not_assigned_to(command.assignment_id, actor.code))
            decision = decide(command, assignment, event_id, self._clock.now())
            if decision.extension is not None:
                await self._repo.add_extension(decision.extension, tx.session)
            made.append((assignment, decision))
            return decision

        result = await self._change(command.assignment_id, event_id, actor, channel, work)
        if after_commit is not None and not result.duplicate:
            after_commit(*made[-1])  # once, after the commit: never for an aborted or retried attempt
        return result

    async def decide_extension(self, command: DecideExtension, actor: Principal, channel: Channel) -> ActionResult:
        """The issuer (or an operator) approves or refuses an agency's extension request."""
        request = await self._repo.extension(command.request_id)
        if request is None:
            raise NotFound(
                Wording(
                    vi=f"Không tìm thấy đề nghị gia hạn {command.request_id}.",
                    en=f"no extension request {command.request_id}",
                )
            )

        async def work(tx: Transaction, assignment: AssignmentRecord) -> Decision:
            # Re-read inside the transaction: two concurrent decisions cannot both pass the check.
            current = await self._repo.extension(command.request_id, tx.session) or request
            decision = decide_extension(command, current, assignment, actor, self._clock.now())
            if decision.extension is not None:
                await self._repo.settle_extension(command.request_id, decision.extension, tx.session)
            return decision

        return await self._change(request["assignment_id"], None, actor, channel, work)

    async def _change(
        self,
        assignment_id: str,
        event_id: str | None,
        actor: Principal,
        channel: Channel,
        decide_in: Callable[[Transaction, AssignmentRecord], Awaitable[Decision]],
    ) -> ActionResult:
        async def work(tx: Transaction) -> ActionResult:
            earlier = await self._repo.recorded(event_id, tx.session) if event_id else None
            if earlier is not None:
                return ActionResult(event=earlier["data"], duplicate=True)
            assignment = await self._repo.get_assignment(assignment_id, tx.session)
            if assignment is None:
                raise NotFound(no_assignment(assignment_id))
            structlog.contextvars.bind_contextvars(plan_id=assignment["plan_id"])
            decision = await decide_in(tx, assignment)
            if decision.change is not None and not await self._repo.apply(assignment, decision.change, tx.session):
                raise Conflict(CHANGED_MEANWHILE)
            await self._repo.record_event(decision.event, tx.session, channel, actor.role)
            tx.publish(decision.event)
            return ActionResult(event=decision.event.model_dump(mode="json"), duplicate=False)

        try:
            result = await self._uow.run(work)
        except Forbidden:
            FORBIDDEN.labels(channel).inc()
            raise
        except (domain.IllegalTransition, domain.UnknownPeriod) as exc:
            raise Refused(wording_of(exc)) from exc
        if not result.duplicate:
            log.info("assignment updated", event_type=result.event["event_type"], channel=channel)
        return result

    # Tokens.

    async def issue_token(self, command: IssueToken) -> IssuedToken:
        """Only operators reach this (the route requires the role); the token is returned once. It expires at
        `command.expires_at`, or after the default lifetime."""
        expires_at = self._token_expiry(command.expires_at)

        async def work(tx: Transaction) -> tuple[str, str]:
            return await self._tokens.issue(
                command.subject, command.role, self._clock.now(), command.label, tx.session, expires_at=expires_at
            )

        token_id, token = await self._uow.run(work)
        return IssuedToken(token_id, token, command.subject, command.role, expires_at)

    async def rotate_token(self, command: RotateToken) -> RotatedToken:
        """Issue a live token's successor; the old one keeps working for `command.overlap` (never longer than it
        would have), so clients switch over without a moment refused (docs/security.md)."""
        expires_at = self._token_expiry(command.expires_at)

        async def work(tx: Transaction) -> RotatedToken | None:
            now = self._clock.now()
            return await self._tokens.rotate(command.token_id, now, command.overlap, expires_at, tx.session)

        rotated = await self._uow.run(work)
        if rotated is None:
            raise NotFound(no_live_token(command.token_id))
        return rotated

    def _token_expiry(self, asked: datetime | None) -> datetime:
        now = self._clock.now()
        if asked is None:
            return now + self._token_ttl
        if as_utc(asked) <= now:
            raise Invalid(EXPIRY_IN_THE_PAST)
        return as_utc(asked)

    async def revoke_token(self, token_id: str) -> None:
        async def work(tx: Transaction) -> bool:
            return await self._tokens.revoke(token_id, self._clock.now(), tx.session)

        if not await self._uow.run(work):
            raise NotFound(no_live_token(token_id))

    # Queries: each applies the one reading rule, `domain.read_scope`.

    async def assignment(self, assignment_id: str, reader: Principal) -> AssignmentRecord:
        assignment = await self._repo.get_assignment(assignment_id)
        if assignment is None:
            raise NotFound(no_assignment(assignment_id))
        if not domain.read_scope(reader).admits(assignment["agency"]["code"], assignment["issuer"]["code"]):
            raise counted(
                Forbidden(
                    Wording(
                        vi=f"Không có quyền xem nhiệm vụ {assignment_id}.",
                        en=f"assignment {assignment_id} is not yours to read",
                    )
                )
            )
        return assignment

    async def history(self, assignment_id: str, reader: Principal) -> list[dict[str, Any]]:
        """Every event about an assignment, oldest first."""
        await self.assignment(assignment_id, reader)
        return await self._repo.history(assignment_id)

    async def plan_status(self, plan_id: str, reader: Principal) -> dict[str, Any]:
        """The four-state status of a plan, overall, per agency kind and per period, with each assignment."""
        scope = domain.read_scope(reader)
        if not scope.plans:
            raise Forbidden(PLAN_STATUS_NOT_YOURS)
        assignments = await self._repo.plan_assignments(plan_id)
        plan = await self._repo.plan(plan_id)
        if plan is None and not assignments:
            raise NotFound(Wording(vi=f"Không tìm thấy kế hoạch {plan_id}.", en=f"no plan {plan_id}"))
        # A plan tracking has not seen registered yet is known by its assignments, which name its issuer.
        issuer = plan["issuer"]["code"] if plan is not None else assignments[0]["issuer"]["code"]
        if not scope.admits_plan(issuer):
            raise Forbidden(
                Wording(
                    vi=f"Kế hoạch {plan_id} do cơ quan khác ban hành.", en=f"plan {plan_id} was issued by another body"
                )
            )
        return {"plan_id": plan_id, "plan": plan, **domain.plan_status(assignments, self._clock.now())}

    async def agency_assignments(self, query: AgencyQuery, reader: Principal) -> list[AssignmentRecord]:
        """An agency's assignments, a page at a time: of the reader's own plans when it is an issuer."""
        scope = domain.read_scope(reader)
        if scope.agency is not None and scope.agency != query.agency_code:
            raise counted(Forbidden(OWN_ASSIGNMENTS_ONLY))
        return await self._repo.agency_assignments(
            query.agency_code, scope.issuer, query.state, query.period, query.offset, query.limit
        )

    async def extension_requests(self, query: ExtensionQuery, reader: Principal) -> list[dict[str, Any]]:
        """Extension requests (pending ones: what awaits a decision): an agency's or viewer's own, an issuer's
        plans', every one for an operator (`domain.read_scope`)."""
        scope = domain.read_scope(reader)
        if scope.agency is not None:
            if query.agency_code not in (None, scope.agency):
                raise counted(Forbidden(OWN_EXTENSIONS_ONLY))
            query = replace(query, agency_code=scope.agency)
        return await self._repo.extension_requests(query, scope.issuer)
