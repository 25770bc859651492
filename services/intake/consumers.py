"""Intake's subscriber. An agency added to the directory (`directory.updated`) gets its queue at once, with the
delivery limit, and the operators a task counted in `dondoc_operator_tasks_total{task="agency_broker_user"}`: its
broker user is made by `dondoc agencies provision` (the services hold no broker administrator's rights).

An issuer's system submits a plan over AMQP (`plan.submit.<issuer-kind>.<issuer-code>`, as
the issuer's own broker user). It is registered by the same use case as `POST /plans`, with the broker-validated
user as the issuer, and answered on the issuer's queue: `plan.registered` (published by the registration, routed
by its issuer, with the `command_id`) or `plan.rejected` with the reasons (and the command dead-lettered for the
operators). A plan sent again unchanged is not answered again: its `plan.registered` was the answer."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import NoReturn

import structlog
from prometheus_client import Counter
from pydantic import ValidationError

from services.intake.domain import PlanRejected as Unregistrable
from services.intake.domain import PlanSubmission, plain, problems_of
from services.intake.use_cases.errors import Conflict, Forbidden, NotFound
from services.intake.use_cases.plans import PlanUseCases, RegisterPlan
from services.intake.use_cases.ports import Actor
from shared.contracts.commands import SubmitPlan
from shared.contracts.events import AgencyRef, DirectoryUpdated, PlanRejected, is_agency_kind
from shared.domain.wording import wording_of
from shared.platform.consumer import by_event_type
from shared.platform.deliveries import Handler, InvalidMessage, Message, Outcome, sender_of
from shared.platform.unit_of_work import Transaction, UnitOfWork

log = structlog.get_logger()

_ANSWER_NAMESPACE = uuid.UUID("2f1d3c4b-5a69-4e87-b0c1-d2e3f4a5b6c7")
MAX_PROBLEMS = 50


def _problems_of(error: ValidationError) -> list[dict[str, str]]:
    return Unregistrable(problems_of(error, MAX_PROBLEMS)).problems


def _problem(where: str, exc: Exception) -> list[dict[str, str]]:
    """A refusal as `plan.rejected` carries it: plain text, in the language it has always had there."""
    return [{"where": where, "problem": plain(wording_of(exc))}]


class PlanSubmissions:
    def __init__(self, plans: PlanUseCases, uow: UnitOfWork, agency_user_prefix: str) -> None:
        self._plans = plans
        self._uow = uow
        self._prefix = agency_user_prefix

    async def __call__(self, message: Message) -> Outcome:
        if not isinstance(message, SubmitPlan):
            raise InvalidMessage(f"intake takes plan.submit only, not {type(message).__name__}")
        issuer = sender_of(message.broker_user_id, self._prefix, "INTAKE_AGENCY_USER_PREFIX")
        structlog.contextvars.bind_contextvars(issuer=issuer)
        number = message.plan.get("number") if isinstance(message.plan.get("number"), str) else None
        try:
            submission = PlanSubmission.model_validate(message.plan)
            command = RegisterPlan(submission, Actor("issuer", issuer), command_id=message.command_id)
            result = await self._plans.register(command)
        except ValidationError as exc:
            await self._reject(message, issuer, number, "invalid", _problems_of(exc))
        except Unregistrable as exc:
            await self._reject(message, issuer, number, "unresolved", exc.problems[:MAX_PROBLEMS])
        except (Forbidden, NotFound) as exc:
            await self._reject(message, issuer, number, "forbidden", _problem("issuer", exc))
        except Conflict as exc:
            await self._reject(message, issuer, number, "conflict", _problem("plan", exc))
        return Outcome.PROCESSED if result.status != "unchanged" else Outcome.DUPLICATE

    async def _reject(
        self, message: SubmitPlan, issuer: str, number: str | None, reason: str, problems: list[dict[str, str]]
    ) -> NoReturn:
        """Answer on the issuer's queue, then refuse the command (dead-lettered with the same reason)."""
        detail = "; ".join(f"{p['where']}: {p['problem']}" for p in problems[:5])[:1000] or reason
        kind = message.sender_kind
        if is_agency_kind(kind):
            answer = PlanRejected(
                event_id=uuid.uuid5(_ANSWER_NAMESPACE, f"{issuer}|{message.command_id}").hex,
                correlation_id=message.command_id,
                command_id=message.command_id,
                message_id=message.message_id,
                issuer=AgencyRef.model_validate({"code": issuer, "kind": kind, "name": issuer}),
                number=number,
                reason=reason,
                detail=detail,
                problems=problems,
            )

            async def work(tx: Transaction) -> None:
                tx.publish(answer)

            await self._uow.run(work)
        else:
            log.warning("refused plan not answered: its routing key names no agency kind")
        raise InvalidMessage(f"{reason}: {detail}")


OPERATOR_TASKS = Counter(
    "dondoc_operator_tasks_total",
    "Work the system asks of an operator (agency_broker_user: give an agency added at runtime its broker user "
    "with `dondoc agencies provision`).",
    ["task"],
)
AGENCY_QUEUES_DECLARED = Counter(
    "dondoc_agency_queues_declared_total", "Agency queues declared because the directory added or changed them."
)


class AgencyProvisioning:
    """Declares the queue of every agency a directory change adds or changes (declaring an existing queue with the
    same arguments changes nothing), so its next assignment is not lost to a missing queue."""

    def __init__(self, declare: Callable[[list[str]], Awaitable[None]]) -> None:
        self._declare = declare

    async def __call__(self, message: Message) -> Outcome:
        if not isinstance(message, DirectoryUpdated):
            raise InvalidMessage(f"not a directory change: {type(message).__name__}")
        codes = [agency.code for agency in message.agencies]
        if not codes or message.complete:
            # A complete republish (for a notifier's lost copy) adds nobody: declaring every agency's queue then
            # would fill queues of agencies that have no broker user (services/intake/main.py).
            return Outcome.IGNORED
        await self._declare(codes)
        AGENCY_QUEUES_DECLARED.inc(len(codes))
        OPERATOR_TASKS.labels("agency_broker_user").inc(len(codes))
        log.warning(
            "operator task: agencies' queues declared; make sure each has its broker user (dondoc agencies provision)",
            agencies=codes[:20],
            count=len(codes),
        )
        return Outcome.PROCESSED


def intake_handler(submissions: PlanSubmissions, provisioning: AgencyProvisioning) -> Handler:
    """Intake's one subscriber: plans to `submissions`, directory changes to `provisioning`."""
    return by_event_type({SubmitPlan: submissions, DirectoryUpdated: provisioning}, _unexpected)


async def _unexpected(message: Message) -> Outcome:
    raise InvalidMessage(f"intake takes plan.submit and directory.updated, not {type(message).__name__}")
