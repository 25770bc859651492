"""Plans: register one (a plan submitted again amends the stored one), read one, read a plan document.

Each state change runs in the unit of work: the plan and the events it causes are committed together and
the outbox relay is woken afterwards; nothing here opens a transaction or touches the outbox."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import structlog
from pydantic import TypeAdapter, ValidationError

from services.intake.amendments import Amendment, UnsupportedAmendment, plan_amendment
from services.intake.documents import DocumentReader, Entered, ParsedPlan, read_plan_document
from services.intake.documents.deadlines import DefaultReporting
from services.intake.documents.preview import preview
from services.intake.documents.readers import MAX_BYTES, media_type
from services.intake.documents.to_submission import to_submission
from services.intake.domain import (
    MAX_PLAN_BYTES,
    AssignmentRecord,
    DocumentRecord,
    PlanNumber,
    PlanRecord,
    PlanRejected,
    PlanSubmission,
    counts_from_receipt,
    problems_of,
    refuse_oversized,
    register_plan,
)
from services.intake.use_cases.errors import AmendmentRefused, Forbidden, NotFound, Overtaken
from services.intake.use_cases.ports import Actor, AlreadyStored, Directories, Documents, KeptDocument, Plans
from shared.contracts.events import AgencyRef, AssignmentCancelled, AssignmentCreated, Event, PlanRegistered
from shared.domain.calendar import deployment_calendar
from shared.domain.clock import VIETNAM, Clock, as_utc
from shared.domain.wording import Wording, wording_of
from shared.platform.unit_of_work import Transaction, UnitOfWork

log = structlog.get_logger()

RACED = Wording(
    vi="kế hoạch vừa được thay đổi trong lúc xử lý yêu cầu này: hãy gửi lại",
    en="the plan was changed while this request was handled: send it again",
)
WITHDRAWN_REASON = "Kế hoạch đã được cơ quan ban hành thu hồi."


@dataclass(frozen=True)
class SubmittedDocument:
    """The document a plan was read from, as uploaded, and the reader that read it (text, docx, pdf, ocr, json)."""

    data: bytes
    name: str
    reader: str
    entered: dict[str, str] = field(default_factory=dict)  # what the clerk entered for it, as entered


@dataclass(frozen=True)
class RegisterPlan:
    """Register a structured plan; submitted again, amend the stored one by the difference. `document`: the file
    it was read from, kept with the plan (with its SHA-256) for the issuer to download."""

    submission: PlanSubmission
    actor: Actor
    document: SubmittedDocument | None = None
    command_id: str | None = None  # an issuer's plan.submit: echoed in plan.registered


@dataclass(frozen=True)
class StoredDocument:
    """A plan's document as stored: its bytes and its record (name, media type, SHA-256)."""

    data: bytes
    record: DocumentRecord


@dataclass(frozen=True)
class WithdrawPlan:
    """Withdraw a registered plan: every assignment it made is cancelled."""

    plan_id: str
    actor: Actor
    reason: str | None = None


@dataclass
class PlanWithdrawal:
    """The plan withdrawn, and the bodies whose assignments this call cancelled (none when already withdrawn)."""

    plan_id: str
    cancelled: list[str]


@dataclass(frozen=True)
class ReadPlanDocument:
    """A plan document as uploaded: its bytes and file name (the name tells its format)."""

    data: bytes
    name: str
    skip_unresolved: bool = False
    no_deadline_lines: tuple[int, ...] = ()  # unread deadline sentences the clerk found to set no deadline
    entered: Entered = Entered()  # number, date of issue, day of receipt: entered by the clerk


@dataclass
class PlanRegistration:
    """What registering did: `registered` (new), `unchanged` or `amended` (with what the correction changed)."""

    plan_id: str
    status: Literal["registered", "unchanged", "amended"]
    assignments: list[AssignmentRecord]
    created_kinds: list[str] = field(default_factory=list)  # agency kind of each assignment created
    amendment: Amendment | None = None


@dataclass(frozen=True)
class ReadDocument:
    """A plan document read for registering: the submission, and the bodies skipped as unresolved."""

    submission: PlanSubmission
    skipped: list[dict[str, str]]
    source: str = "json"  # the reader that read it: json, text, docx, pdf (text layer) or ocr
    entered: dict[str, str] = field(default_factory=dict)  # what the clerk entered, as entered


@dataclass
class PlanSettings:
    max_assignments: int
    default_reporting: DefaultReporting = "annual"
    max_document_bytes: int = MAX_BYTES
    max_plan_bytes: int = MAX_PLAN_BYTES


def _no_plan(plan_id: str) -> Wording:
    return Wording(vi=f"không có kế hoạch {plan_id}", en=f"no plan {plan_id}")


def may_act_for(actor: Actor, issuer_code: str) -> None:
    """An issuer submits and reads only its own plans; an operator any."""
    if actor.role == "issuer" and actor.code != issuer_code:
        raise Forbidden(
            Wording(
                vi=f"kế hoạch này do {issuer_code} ban hành, không phải {actor.code}",
                en=f"this plan is issued by {issuer_code}, not by {actor.code}",
            )
        )


class PlanUseCases:
    def __init__(  # noqa: PLR0913 - the reader is injected so unit tests read documents in-process
        self,
        uow: UnitOfWork,
        plans: Plans,
        directories: Directories,
        clock: Clock,
        settings: PlanSettings,
        read: DocumentReader = read_plan_document,
        documents: Documents | None = None,
    ) -> None:
        self._read = read
        self._documents = documents
        self._uow = uow
        self._plans = plans
        self._directories = directories
        self._clock = clock
        self.settings = settings

    def _today(self) -> date:
        return self._clock.now().astimezone(VIETNAM).date()

    def _register(self, submission: PlanSubmission, today: date) -> tuple[PlanRecord, list[Event]]:
        return register_plan(submission, self._directories.directory, today, self.settings.max_assignments)

    async def register(self, command: RegisterPlan) -> PlanRegistration:
        """Raises PlanRejected (what cannot be registered), Forbidden, AmendmentRefused or Overtaken."""
        record, events = self._register(command.submission, self._today())
        if command.command_id is not None:
            echo = {"command_id": command.command_id}
            events = [e.model_copy(update=echo) if isinstance(e, PlanRegistered) else e for e in events]
        may_act_for(command.actor, record["issuer"])
        refuse_oversized(self._plans.stored_size(record), self.settings.max_plan_bytes)
        structlog.contextvars.bind_contextvars(plan_id=record["_id"])
        record["registered_at"] = self._clock.now()
        kept = await self._keep(command.document)
        try:
            result = await self._store(command.submission, record, events, kept)
        except Exception:
            await self._let_go(kept, record["_id"])
            raise
        if result.status == "unchanged":
            await self._let_go(kept, record["_id"])  # the stored plan keeps the document it was read from
        return result

    async def _store(
        self, submission: PlanSubmission, record: PlanRecord, events: list[Event], kept: KeptDocument | None
    ) -> PlanRegistration:
        if kept is not None:
            record["document"] = kept.record

        async def write(tx: Transaction) -> None:
            await self._plans.add(record, tx.session)
            tx.publish(*events)

        try:
            await self._uow.run(write)
        except AlreadyStored:
            record, events = await self._as_first_received(submission, record, events)
            if kept is not None:
                record["document"] = kept.record
            return await self._amend(record, events)
        kinds: list[str] = [e.agency.kind for e in events if isinstance(e, AssignmentCreated)]
        log.info("plan registered", assignments=len(kinds), number=submission.number)
        return PlanRegistration(record["_id"], "registered", record["assignments"], kinds)

    async def _keep(self, document: SubmittedDocument | None) -> KeptDocument | None:
        """The document stored before the plan: GridFS does not run in a transaction."""
        if document is None or self._documents is None:
            return None
        kept = await self._documents.keep(document.data, document.name, media_type(document.data), document.reader)
        if document.entered:
            kept.record["entered"] = document.entered
        return kept

    async def _let_go(self, kept: KeptDocument | None, plan_id: str) -> None:
        """A document stored by this call for a plan that was not stored (or stored unchanged) is removed, unless
        the stored plan names it after all (a failure after the commit)."""
        if kept is None or not kept.new or self._documents is None:
            return
        file_id = kept.record["file_id"]
        try:
            stored = await self._plans.stored(plan_id)
            if stored is None or stored.get("document", {}).get("file_id") != file_id:
                await self._documents.discard(file_id)
        except Exception:  # the plan's own outcome is what the caller must see; a stray file is only space
            log.warning("plan document not removed", file_id=file_id, exc_info=True)

    async def _as_first_received(
        self, submission: PlanSubmission, record: PlanRecord, events: list[Event]
    ) -> tuple[PlanRecord, list[Event]]:
        """A plan submitted again was received when it was first registered: its deadlines counted from receipt
        run from that day, not from the day of the correction (else every correction would move them)."""
        if not counts_from_receipt(submission):
            return record, events
        stored = await self._plans.stored(record["_id"])
        registered_at = stored.get("registered_at") if stored is not None else None
        if registered_at is None:
            return record, events
        received_on = as_utc(registered_at).astimezone(VIETNAM).date()
        if received_on == self._today():
            return record, events
        again, again_events = self._register(submission, received_on)
        if again["_id"] != record["_id"]:  # a plan without a date of issue is keyed by the year it came in
            return record, events
        again["registered_at"] = record.get("registered_at")
        return again, again_events

    async def _amend(self, record: PlanRecord, events: list[Event]) -> PlanRegistration:
        """The plan is known: publish only what the corrected version changes (nothing if it is the same)."""

        async def amend(tx: Transaction) -> Amendment:
            stored = await self._plans.stored(record["_id"], tx.session)
            if stored is None:
                raise Overtaken(RACED)
            if stored.get("withdrawn_at") is not None:
                raise AmendmentRefused(
                    Wording(
                        vi=f"kế hoạch {stored['number']} đã được thu hồi: hãy đăng ký kế hoạch mới với số, ký hiệu "
                        "khác",
                        en=f"plan {stored['number']} has been withdrawn: register a new plan under another number",
                    )
                )
            version = int(stored.get("version") or 0)
            amendment = plan_amendment(stored, record, events, version + 1, self._clock.now())
            if amendment.unchanged:
                return amendment
            record["registered_at"] = stored.get("registered_at")
            record["amended_at"] = self._clock.now()
            if not await self._plans.replace(record, version, tx.session):
                raise Overtaken(RACED)
            tx.publish(*amendment.events)
            return amendment

        try:
            amendment = await self._uow.run(amend)
        except UnsupportedAmendment as exc:
            raise AmendmentRefused(wording_of(exc)) from exc
        if amendment.unchanged:
            log.info("plan submitted again unchanged")
            return PlanRegistration(record["_id"], "unchanged", record["assignments"])
        log.info(
            "plan amended",
            created=len(amendment.created),
            cancelled=len(amendment.cancelled),
            deadlines_changed=len(amendment.deadlines_changed),
            tasks_changed=len(amendment.tasks_changed),
            deliverables_changed=len(amendment.deliverables_changed),
            places_changed=len(amendment.places_changed),
        )
        return PlanRegistration(record["_id"], "amended", record["assignments"], amendment=amendment)

    async def withdraw(self, command: WithdrawPlan) -> PlanWithdrawal:
        """Cancel every assignment of the plan and mark it withdrawn, in one unit of work. Withdrawing it again
        changes nothing. Raises NotFound, Forbidden or Overtaken."""

        async def withdraw(tx: Transaction) -> PlanWithdrawal:
            stored = await self._plans.stored(command.plan_id, tx.session)
            if stored is None:
                raise NotFound(_no_plan(command.plan_id))
            may_act_for(command.actor, stored["issuer"])
            if stored.get("withdrawn_at") is not None:
                return PlanWithdrawal(command.plan_id, [])
            now = self._clock.now()
            if not await self._plans.withdraw(stored, now, command.actor.label, tx.session):
                raise Overtaken(RACED)
            tx.publish(*self._cancellations(stored, command, now))
            return PlanWithdrawal(command.plan_id, [a["agency"] for a in stored["assignments"]])

        withdrawal = await self._uow.run(withdraw)
        log.info("plan withdrawn", plan_id=command.plan_id, cancelled=len(withdrawal.cancelled))
        return withdrawal

    def _cancellations(self, stored: PlanRecord, command: WithdrawPlan, now: datetime) -> list[Event]:
        issuer = self._directories.directory.agencies.get(stored["issuer"])
        return [
            AssignmentCancelled(
                correlation_id=stored["_id"],
                actor=issuer.ref() if issuer is not None else None,
                agency=AgencyRef.model_validate(a["agency_ref"]),
                occurred_at=now,
                assignment_id=a["assignment_id"],
                plan_id=stored["_id"],
                reason=command.reason or WITHDRAWN_REASON,
            )
            for a in stored["assignments"]
        ]

    async def plan(self, plan_id: str, actor: Actor) -> dict[str, Any]:
        """A registered plan without its submission, for its issuer or an operator to read."""
        plan = await self._plans.get(plan_id)
        if plan is None:
            raise NotFound(_no_plan(plan_id))
        may_act_for(actor, str(plan["issuer"]))
        return plan

    async def document(self, plan_id: str, actor: Actor) -> StoredDocument:
        """The document a registered plan was read from, for its issuer or an operator. Raises NotFound (no such
        plan, a plan submitted as JSON, or a document missing from storage) or Forbidden."""
        plan = await self._plans.get(plan_id)
        if plan is None:
            raise NotFound(_no_plan(plan_id))
        may_act_for(actor, str(plan["issuer"]))
        record: DocumentRecord | None = plan.get("document")
        if record is None or self._documents is None:
            raise NotFound(
                Wording(
                    vi=f"kế hoạch {plan_id} được gửi dạng dữ liệu có cấu trúc (JSON), không kèm tệp văn bản",
                    en=f"plan {plan_id} was submitted as structured data (JSON), without a document",
                )
            )
        data = await self._documents.read(record["file_id"])
        if data is None or hashlib.sha256(data).hexdigest() != record["sha256"]:
            log.error("plan document missing or altered", plan_id=plan_id, file_id=record["file_id"])
            raise NotFound(
                Wording(
                    vi=f"không tìm thấy tệp văn bản của kế hoạch {plan_id} trong kho lưu trữ",
                    en=f"the document of plan {plan_id} is missing from storage",
                )
            )
        return StoredDocument(data, record)

    async def _parse(self, data: bytes, name: str, entered: Entered) -> ParsedPlan | PlanSubmission:
        # The one call of the document reader: in a reader process, within the deployment's limits. The calendar is
        # passed along because the reader process does not share this one's deployment calendar.
        _check_entered(entered)
        return await self._read(
            data,
            name,
            self._directories.directory,
            self._today(),
            calendar=deployment_calendar(),
            max_bytes=self.settings.max_document_bytes,
            default_reporting=self.settings.default_reporting,
            entered=entered,
        )

    async def preview(self, data: bytes, name: str, entered: Entered | None = None) -> dict[str, Any]:
        """What a plan document would publish; nothing is stored. Raises DocumentError, or PlanRejected for a
        number entered in the wrong shape."""
        document = await self._parse(data, name, entered or Entered())
        return preview(document, self._directories.directory, self._today(), self.settings.max_assignments)

    async def read_document(self, command: ReadPlanDocument) -> ReadDocument:
        """A plan document as a submission. Raises DocumentError (unreadable, unresolved bodies) or
        PlanRejected (what it says breaks the input rules, e.g. a malformed number)."""
        document = await self._parse(command.data, command.name, command.entered)
        if isinstance(document, PlanSubmission):
            return ReadDocument(document, [])
        try:
            submission = to_submission(
                document, skip_unresolved=command.skip_unresolved, no_deadline_lines=command.no_deadline_lines
            )
        except ValidationError as exc:
            raise PlanRejected(problems_of(exc, limit=len(exc.errors()))) from exc
        skipped = [u.model_dump() for u in document.unresolved] if command.skip_unresolved else []
        return ReadDocument(submission, skipped, document.reader or "text", document.entered)


_PLAN_NUMBER: TypeAdapter[str] = TypeAdapter(PlanNumber)


def _check_entered(entered: Entered) -> None:
    """A number the clerk enters has the shape of one read from a document (`domain.PlanNumber`)."""
    if entered.number is None:
        return
    try:
        _PLAN_NUMBER.validate_python(entered.number.strip())
    except ValidationError as exc:
        raise PlanRejected([{**problems_of(exc, limit=1)[0], "where": "number"}]) from exc
