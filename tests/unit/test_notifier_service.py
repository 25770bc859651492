"""The notifier's use cases with fakes (in the manner of cosmicpython's handler tests): an in-memory
store in place of the repository, FakeUnitOfWork in place of MongoDB's, a fake clock and a fake mailer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest

from services.notifier.config import DEFAULT_LADDER
from services.notifier.mailer import build_message
from services.notifier.records import EmailRow, NoticeRow, PeriodRow, SilenceRecord
from services.notifier.rules.decisions import Rules
from services.notifier.rules.links import IssuedLink, LinkRequest, marker_line
from services.notifier.rules.recipients import Addressbook
from services.notifier.rules.schedule import SendingWindow
from services.notifier.rules.silences import SilenceRequest
from services.notifier.use_cases.bundle import NotifierUseCases
from services.notifier.use_cases.commands import (
    CreateSilence,
    EndSilence,
    PreviewEscalations,
    ReapplyLadder,
    ReapplyRequest,
)
from services.notifier.use_cases.errors import (
    AlreadyProcessed,
    ClaimLost,
    LinkRefused,
    LinkUnavailable,
    MomentWithoutOffset,
    NotKnownYet,
    SilenceNotFound,
)
from services.notifier.use_cases.mail import EmailSender, MailPolicy, SendFailed
from services.notifier.use_cases.scan import ScanLimits, redigest
from shared.contracts.events import (
    AssignmentAcknowledged,
    AssignmentCancelled,
    AssignmentCreated,
    AssignmentRevised,
    DeadlineExtended,
    EscalationSent,
    LinkRequested,
    ReportingDeadline,
    ReportSubmitted,
)
from shared.contracts.ladder import Ladder
from shared.domain.calendar import DEFAULT_OVERRIDES, load_calendar
from shared.domain.clock import FakeClock
from shared.domain.directory import Directory
from shared.platform.deliveries import InvalidMessage
from shared.platform.settings import DEFAULT_DIRECTORY
from tests.fakes import FakeUnitOfWork

START = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)  # a Monday, 10:00 in Hà Nội
DUE = datetime(2026, 6, 30, 16, 59, tzinfo=UTC)
DIRECTORY = Directory.load(DEFAULT_DIRECTORY)
CALENDAR = load_calendar(DEFAULT_OVERRIDES)
AGENCY = "chi-bo-khu-1@hoa-an.example"
SUPERVISOR = "thuong-truc@hoa-an.example"


class FakeStore:
    """The repository's contract (services/notifier/use_cases/ports.py) over dictionaries; sessions ignored."""

    def __init__(self) -> None:
        self.periods: dict[str, dict[str, Any]] = {}
        self.processed: set[str] = set()
        self.notices: dict[str, NoticeRow] = {}
        self.suppressions: dict[str, dict[str, Any]] = {}
        self.silences: dict[str, SilenceRecord] = {}
        self.emails: dict[str, EmailRow] = {}
        self.lose_claims = False

    # the projection
    async def mark_processed(self, event_id: str, event_type: str, at: datetime, session: Any) -> None:
        if event_id in self.processed:
            raise AlreadyProcessed(event_id)
        self.processed.add(event_id)

    async def open_item(self, item_id: str, details: dict[str, Any], on_insert: dict[str, Any], session: Any) -> None:
        row = self.periods.setdefault(item_id, {"_id": item_id, **on_insert})
        row.update(details)

    async def close_period(self, item_id: str, fields: dict[str, Any], session: Any) -> None:
        row = self.periods.setdefault(item_id, {"_id": item_id})
        row.update({"state": "submitted", "next_check_at": None, "claimed_by": None, **fields})

    async def acknowledge(self, item_id: str, at: datetime, session: Any) -> None:
        row = self.periods.setdefault(item_id, {"_id": item_id})
        if row.get("state") != "cancelled":
            row.update({"state": "acknowledged", "acknowledged_at": at, "next_check_at": None, "claimed_by": None})

    async def cancel_assignment(self, assignment_id: str, session: Any) -> bool:
        rows = [r for r in self.periods.values() if r.get("assignment_id") == assignment_id]
        for row in rows:
            if row["state"] == "open":
                row.update({"state": "cancelled", "next_check_at": None, "claimed_by": None})
        return bool(rows)

    async def revise(self, assignment_id: str, fields: dict[str, Any], plan_version: int, session: Any) -> bool:
        rows = [r for r in self.periods.values() if r.get("assignment_id") == assignment_id]
        for row in rows:
            if row["state"] == "open" and row.get("task_revision", -1) < plan_version:
                row.update({**fields, "task_revision": plan_version, "content_rev": row.get("content_rev", 0) + 1})
        return bool(rows)

    async def get(self, item_id: str, session: Any = None) -> PeriodRow | None:
        row = self.periods.get(item_id)
        return dict(row) if row is not None else None  # type: ignore[return-value]  # a copy, as a read returns

    async def rebase(self, item_id: str, fields: dict[str, Any], session: Any) -> None:
        self.periods[item_id].update({**fields, "claimed_by": None})

    async def amend(self, item_id: str, fields: dict[str, Any], session: Any) -> None:
        row = self.periods[item_id]
        row.update({**fields, "content_rev": row.get("content_rev", 0) + 1})

    # the scan
    def _due(self, now: datetime) -> list[dict[str, Any]]:
        due = [r for r in self.periods.values() if r.get("state") == "open" and r.get("next_check_at")]
        return sorted((r for r in due if r["next_check_at"] <= now), key=lambda r: r["next_check_at"])

    async def due_periods(self, now: datetime, limit: int) -> list[PeriodRow]:
        return [dict(r) for r in self._due(now)[:limit]]  # type: ignore[misc]  # copies, as a read returns

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> tuple[str, list[PeriodRow]]:
        token = f"token-{len(self.processed)}-{now.timestamp()}"
        claimed = self._due(now)[:limit]
        for row in claimed:
            row.update({"next_check_at": now + lease, "claimed_by": token, "claimed_at": now})
        return token, [dict(r) for r in claimed]  # type: ignore[misc]  # copies, as a read returns

    async def release(self, token: str, period_ids: list[str], now: datetime) -> None:
        for period_id in period_ids:
            row = self.periods[period_id]
            if row.get("claimed_by") == token:
                row.update({"next_check_at": now, "claimed_by": None})

    async def sent_keys_of(self, period_ids: list[str]) -> set[str]:
        return {key for key, n in self.notices.items() if n["period_id"] in period_ids}

    async def active_silences(self, now: datetime) -> list[SilenceRecord]:
        return [s for s in self.silences.values() if s.starts_at <= now < s.ends_at]

    async def settle_period(self, period: Any, token: str, update: dict[str, Any], session: Any) -> None:
        row = self.periods[period["_id"]]
        if self.lose_claims or row.get("claimed_by") != token or row.get("rev", 0) != period.get("rev", 0):
            raise ClaimLost(period["_id"])
        row.update(update)

    async def add_notices(self, notices: list[NoticeRow], now: datetime, session: Any) -> None:
        for notice in notices:
            if notice["_id"] in self.notices:
                raise ClaimLost(notice["_id"])
            self.notices[notice["_id"]] = notice
            if notice["_id"] in self.suppressions:
                self.suppressions[notice["_id"]]["released_at"] = now

    async def record_muted(
        self, key: str, silence_id: str, on_insert: dict[str, Any], now: datetime, session: Any
    ) -> None:
        row = self.suppressions.setdefault(key, dict(on_insert))
        row.update({"silence_id": silence_id, "last_muted_at": now})

    async def queue_emails(self, emails: list[EmailRow], session: Any) -> None:
        self.emails.update({e["_id"]: e for e in emails})

    # silences
    async def add_silence(self, silence: SilenceRecord, session: Any) -> None:
        self.silences[silence.id] = silence

    async def remove_silence(self, silence_id: str, session: Any) -> bool:
        return self.silences.pop(silence_id, None) is not None

    async def held_by(self, silence_id: str, session: Any) -> list[str]:
        return sorted(
            {
                s["period_id"]
                for s in self.suppressions.values()
                if s["silence_id"] == silence_id and not s["released_at"]
            }
        )

    async def check_again(self, period_ids: list[str], now: datetime, session: Any) -> None:
        for period_id in period_ids:
            row = self.periods[period_id]
            if row["state"] == "open" and row.get("claimed_by") is None:
                row["next_check_at"] = now

    async def list_silences(self, active_at: datetime | None) -> list[SilenceRecord]:
        return [s for s in self.silences.values() if active_at is None or s.ends_at > active_at]

    # the ladder
    async def open_page(self, query: dict[str, Any], after: str | None, limit: int) -> list[PeriodRow]:
        rows = sorted(
            (r for r in self.periods.values() if r.get("state") == "open" and (after is None or r["_id"] > after)),
            key=lambda r: r["_id"],
        )
        ids = query.get("_id", {}).get("$in")
        wanted = [r for r in rows if (ids is None or r["_id"] in ids) and r.get("ladder_change_id") != "applied"]
        if "ladder_change_id" in query:
            wanted = [r for r in wanted if r.get("ladder_change_id") != query["ladder_change_id"]["$ne"]]
        else:
            version = query.get("ladder_version", {}).get("$ne")
            wanted = [r for r in wanted if r.get("ladder_version") != version and r.get("ladder_source") != "plan"]
        return [dict(r) for r in wanted[:limit]]  # type: ignore[misc]  # copies, as a read returns

    async def replace_ladders(self, changes: list[tuple[dict[str, Any], dict[str, Any]]], session: Any = None) -> int:
        for unchanged, update in changes:
            row = self.periods[unchanged["_id"]]
            row.update(update["$set"])
            row.setdefault("ladder_changes", []).append(update["$push"]["ladder_changes"])
        return len(changes)

    # what operators look at
    async def periods_of(self, assignment_id: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self.periods.values() if r.get("assignment_id") == assignment_id]

    async def list_emails(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        return [dict(e) for e in self.emails.values() if status is None or e["status"] == status][:limit]


class FakeMailer:
    def __init__(self) -> None:
        self.woken = 0

    def wake(self) -> None:
        self.woken += 1


def bootstrap(ladder: Ladder | None = None) -> tuple[NotifierUseCases, FakeUnitOfWork, FakeStore, FakeMailer]:
    uow, store, mailer = FakeUnitOfWork(), FakeStore(), FakeMailer()
    rules = Rules(ladder or Ladder.load(DEFAULT_LADDER), CALENDAR, SendingWindow.parse("always", CALENDAR))
    use_cases = NotifierUseCases(
        uow, store, Addressbook(DIRECTORY), rules, FakeClock(START), mailer, ScanLimits(50, timedelta(seconds=60))
    )
    return use_cases, uow, store, mailer


def created(agency: str = "chi-bo-khu-1", assignment_id: str = "a1") -> AssignmentCreated:
    return AssignmentCreated(
        occurred_at=START,
        correlation_id="p1",
        agency=DIRECTORY.get(agency).ref(),
        assignment_id=assignment_id,
        plan_id="p1",
        plan_number="85-KH/ĐU",
        plan_title="Kế hoạch thử",
        issuer=DIRECTORY.get("dang-uy").ref(),
        task="Báo cáo kết quả",
        deadlines=[ReportingDeadline(period="2026-H1", due_at=DUE, wording="trước ngày 01/7")],
    )


def acknowledged(event: AssignmentCreated) -> AssignmentAcknowledged:
    return AssignmentAcknowledged(
        occurred_at=START + timedelta(hours=1),
        correlation_id=event.plan_id,
        agency=event.agency,
        assignment_id=event.assignment_id,
        plan_id=event.plan_id,
    )


def clock_of(use_cases: NotifierUseCases) -> FakeClock:
    clock = use_cases.clock
    assert isinstance(clock, FakeClock)
    return clock


# --- projecting events -----------------------------------------------------------------------------------------


async def test_an_assignment_opens_its_acknowledgement_window_and_its_periods_in_one_commit() -> None:
    use_cases, uow, store, _ = bootstrap()
    assert await use_cases.project(created()) is True
    assert sorted(store.periods) == ["a1:2026-H1", "a1:ack"]
    assert {p["state"] for p in store.periods.values()} == {"open"}
    assert store.periods["a1:2026-H1"]["ladder_source"] == "deployment"
    assert uow.commits == 1 and uow.published == []


async def test_a_redelivered_event_is_a_duplicate_and_changes_nothing() -> None:
    use_cases, uow, store, _ = bootstrap()
    event = created()
    await use_cases.project(event)
    before = {k: dict(v) for k, v in store.periods.items()}
    assert await use_cases.project(event) is False
    assert store.periods == before and uow.commits == 1


async def test_a_report_closes_its_period_and_an_acknowledgement_its_window() -> None:
    use_cases, _, store, _ = bootstrap()
    event = created()
    await use_cases.project(event)
    await use_cases.project(acknowledged(event))
    await use_cases.project(
        ReportSubmitted(
            occurred_at=START,
            correlation_id="p1",
            agency=event.agency,
            assignment_id="a1",
            plan_id="p1",
            period="2026-H1",
            submitted_at=START,
            due_at=DUE,
            late_by_seconds=0,
            revision=1,
        )
    )
    assert store.periods["a1:ack"]["state"] == "acknowledged"
    assert store.periods["a1:2026-H1"]["state"] == "submitted"
    assert store.periods["a1:2026-H1"]["next_check_at"] is None


async def test_a_cancellation_that_overtook_its_assignment_is_retried() -> None:
    use_cases, uow, _, _ = bootstrap()
    cancelled = AssignmentCancelled(
        correlation_id="p1", agency=DIRECTORY.get("ubnd").ref(), assignment_id="a9", plan_id="p1", reason="thử"
    )
    with pytest.raises(NotKnownYet):
        await use_cases.project(cancelled)
    assert uow.commits == 0


async def test_a_new_deadline_starts_the_period_again_as_a_new_revision() -> None:
    use_cases, _, store, _ = bootstrap()
    event = created()
    await use_cases.project(event)
    later = DUE + timedelta(days=10)
    await use_cases.project(
        DeadlineExtended(
            correlation_id="p1",
            agency=event.agency,
            request_id="r1",
            assignment_id="a1",
            plan_id="p1",
            period="2026-H1",
            previous_due_at=DUE,
            due_at=later,
        )
    )
    period = store.periods["a1:2026-H1"]
    assert (period["due_at"], period["previous_due_at"], period["rev"]) == (later, DUE, 1)
    # The acknowledgement window's list, which the assignment notice shows, moves with it (its schedule does not).
    window = store.periods["a1:ack"]
    assert [(d["period"], d["due_at"], d["previous_due_at"]) for d in window["deadlines"]] == [("2026-H1", later, DUE)]
    assert window["deadlines"][0]["wording"] == "trước ngày 01/7"  # the event wrote none: the plan's stays
    assert window["content_rev"] == 1 and window["rev"] == 0


# --- the scan --------------------------------------------------------------------------------------------------


async def overdue() -> tuple[NotifierUseCases, FakeUnitOfWork, FakeStore, FakeMailer]:
    use_cases, uow, store, mailer = bootstrap()
    event = created()
    await use_cases.project(event)
    await use_cases.project(acknowledged(event))
    clock_of(use_cases).set(DUE + timedelta(hours=1))
    return use_cases, uow, store, mailer


async def test_an_overdue_period_becomes_notices_one_digest_per_recipient_and_events_in_one_commit() -> None:
    use_cases, uow, store, mailer = await overdue()
    commits = uow.commits
    taken = await use_cases.scan_due()
    assert taken.claimed == 1 and taken.queued == ("overdue", "overdue") and taken.emails == 2
    assert uow.commits == commits + 1
    assert sorted(n["address"] for n in store.notices.values()) == [AGENCY, SUPERVISOR]
    assert sorted(e["to"] for e in store.emails.values()) == [AGENCY, SUPERVISOR]
    [event] = uow.published
    assert isinstance(event, EscalationSent) and event.recipients == [AGENCY, SUPERVISOR]
    assert event.overdue_by_seconds == 3600
    period = store.periods["a1:2026-H1"]
    assert period["claimed_by"] is None and "overdue#1" in period["done"]
    assert mailer.woken == 1


async def test_a_second_scan_sends_nothing_again() -> None:
    use_cases, uow, store, _ = await overdue()
    await use_cases.scan_due()
    published = len(uow.published)
    assert (await use_cases.scan_due()).claimed == 0
    assert len(store.notices) == 2 and len(uow.published) == published


async def test_a_batch_that_changed_under_its_claim_is_released_and_nothing_is_recorded() -> None:
    use_cases, uow, store, mailer = await overdue()
    store.lose_claims = True
    published = len(uow.published)
    assert (await use_cases.scan_due()).claimed == 0
    assert store.notices == {} and store.emails == {} and len(uow.published) == published
    assert store.periods["a1:2026-H1"]["claimed_by"] is None  # released: due again at once
    assert store.periods["a1:2026-H1"]["next_check_at"] == clock_of(use_cases).now()
    assert mailer.woken == 0


# --- silences and the preview ------------------------------------------------------------------------------------


def silence(**fields: Any) -> SilenceRequest:
    return SilenceRequest.model_validate(
        {"starts_at": START, "ends_at": DUE + timedelta(days=2), "reason": "Tết", **fields}
    )


async def test_a_silence_records_its_creator_from_the_command_and_holds_notices_until_it_ends() -> None:
    use_cases, _, store, _ = await overdue()
    made = await use_cases.create_silence(CreateSilence(silence(plan_id="p1", created_by="ai-do"), created_by="op-1"))
    assert made.created_by == "op-1" and store.silences[made.id].created_by == "op-1"

    taken = await use_cases.scan_due()
    assert taken.queued == () and taken.muted == ("overdue", "overdue") and store.notices == {}
    assert store.periods["a1:2026-H1"]["next_check_at"] > clock_of(use_cases).now()

    released = await use_cases.end_silence(EndSilence(made.id))
    assert released == ["a1:2026-H1"]
    assert store.periods["a1:2026-H1"]["next_check_at"] == clock_of(use_cases).now()
    assert (await use_cases.scan_due()).queued == ("overdue", "overdue")
    assert all(s["released_at"] is not None for s in store.suppressions.values())


async def test_ending_an_unknown_silence_says_so() -> None:
    use_cases, uow, _, _ = bootstrap()
    with pytest.raises(SilenceNotFound):
        await use_cases.end_silence(EndSilence("nope"))
    assert uow.commits == 0


async def test_the_preview_decides_like_the_scan_and_writes_nothing() -> None:
    use_cases, uow, store, _ = await overdue()
    commits = uow.commits
    found = await use_cases.preview(PreviewEscalations())
    assert sorted(e["to"] for e in found.emails) == [AGENCY, SUPERVISOR]
    assert uow.commits == commits and store.notices == {} and store.emails == {}
    # Each e-mail shows where its link will be; no link is issued for a preview, no marker line is left.
    assert all("(đường dẫn riêng, do tracking cấp khi gửi thư)" in e["text"] for e in found.emails)
    assert not any("[[" in e["text"] or "[[" in e["html"] for e in found.emails)
    with pytest.raises(MomentWithoutOffset):
        await use_cases.preview(PreviewEscalations(at=datetime(2026, 7, 1, 8, 0)))


# --- the ladder --------------------------------------------------------------------------------------------------


async def test_reapplying_the_ladder_records_who_changed_it_and_from_which_version() -> None:
    use_cases, uow, store, _ = bootstrap()
    await use_cases.project(created())
    for period in store.periods.values():
        period["ladder_version"] = "old"
    result = await use_cases.reapply_ladder(ReapplyLadder(ReapplyRequest(reason="chính sách mới"), by="op-2"))
    assert result.changed == 2 and result.conflicts == 0
    assert result.ladder_version == use_cases.rules.ladder.version
    changes = [p["ladder_changes"][-1] for p in store.periods.values()]
    assert {(c["by"], c["from_version"], c["reason"]) for c in changes} == {("op-2", "old", "chính sách mới")}
    assert uow.commits >= 2  # the projection's, then the change's


# --- sending e-mail ----------------------------------------------------------------------------------------------


class FakeMailStore:
    def __init__(self, rows: list[dict[str, Any]], periods: dict[str, dict[str, Any]] | None = None) -> None:
        self.rows = {r["_id"]: {"status": "pending", "attempts": 0, "claimed_by": None, **r} for r in rows}
        self.periods = periods or {}

    async def periods_by_id(self, period_ids: list[str]) -> dict[str, dict[str, Any]]:
        return {i: self.periods[i] for i in period_ids if i in self.periods}

    async def count_pending_emails(self) -> int:
        return sum(1 for r in self.rows.values() if r["status"] == "pending")

    async def claim_emails(self, now: datetime, limit: int, lease: timedelta) -> tuple[str, list[dict[str, Any]]]:
        due = [r for r in self.rows.values() if r["status"] == "pending" and r["next_attempt_at"] <= now][:limit]
        for row in due:
            row.update({"claimed_by": "t", "next_attempt_at": now + lease})
        return "t", [dict(r) for r in due]

    async def renew_emails(self, email_ids: list[str], token: str, until: datetime) -> set[str]:
        return {i for i in email_ids if self.rows[i]["claimed_by"] == token}

    async def finish_email(self, email_id: str, token: str, fields: dict[str, Any], attempted: bool = True) -> bool:
        row = self.rows[email_id]
        row.update({**fields, "claimed_by": None, "attempts": row["attempts"] + attempted})
        return True


class FakeTransport:
    def __init__(self, failures: dict[str, SendFailed] | None = None) -> None:
        self.failures = failures or {}
        self.sent: list[str] = []

    async def send(self, message: Any) -> None:
        to = str(message["To"].addresses[0].addr_spec)
        if to in self.failures:
            raise self.failures[to]
        self.sent.append(to)


def mail_row(email_id: str, to: str) -> dict[str, Any]:
    return {
        "_id": email_id,
        "to": to,
        "to_name": "Chi bộ",
        "subject": "[Đôn đốc] thử",
        "text": "Kính gửi.\n",
        "created_at": START,
        "next_attempt_at": START,
    }


def sender(
    store: FakeMailStore, transport: FakeTransport, clock: FakeClock, links: Any = None, revise: Any = None
) -> EmailSender:
    policy = MailPolicy(
        batch_size=10,
        lease=timedelta(minutes=5),
        longest_send=timedelta(seconds=30),
        max_attempts=2,
        retry_base_seconds=60,
        retry_max_seconds=3600,
    )
    build = lambda row: build_message(row, "Hệ thống <d@hoa-an.example>")  # noqa: E731
    return EmailSender(store, transport, build, policy, clock, links=links, revise=revise)


async def test_an_unbuildable_e_mail_fails_alone_with_its_reason() -> None:
    store = FakeMailStore(
        [mail_row("e1", AGENCY), mail_row("e2", "a@x.example, b@y.example"), mail_row("e3", SUPERVISOR)]
    )
    transport = FakeTransport()
    done = await sender(store, transport, FakeClock(START)).send_due()
    assert (done.pending, done.sent, done.failed, done.retried) == (3, 2, 1, 0)
    assert transport.sent == [AGENCY, SUPERVISOR]
    bad = store.rows["e2"]
    assert bad["status"] == "failed" and bad["claimed_by"] is None and bad["attempts"] == 0
    assert bad["last_error"].startswith("the message could not be built: not a single e-mail address")


async def test_a_refusal_that_may_pass_is_retried_later_and_one_that_cannot_fails_at_once() -> None:
    clock = FakeClock(START)
    store = FakeMailStore([mail_row("e1", AGENCY), mail_row("e2", SUPERVISOR)])
    transport = FakeTransport(
        {AGENCY: SendFailed("421 try later", 421, permanent=False), SUPERVISOR: SendFailed("554 no", 554, True)}
    )
    done = await sender(store, transport, clock).send_due()
    assert (done.sent, done.retried, done.failed) == (0, 1, 1)
    assert store.rows["e1"]["status"] == "pending" and store.rows["e1"]["next_attempt_at"] == START + timedelta(
        minutes=1
    )
    assert store.rows["e2"]["status"] == "failed" and store.rows["e2"]["last_code"] == 554
    clock.advance(timedelta(minutes=1))
    done = await sender(store, transport, clock).send_due()  # the second attempt is the last (max_attempts=2)
    assert (done.retried, done.failed) == (0, 1) and store.rows["e1"]["status"] == "failed"


class FakeLinks:
    """Tracking's links, in memory: `down` makes every call fail as tracking unreachable would."""

    def __init__(self, down: bool = False, refuse: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.down = down
        self.refuse = refuse
        self.issued: list[tuple[str, str, str | None]] = []
        self.calls = 0

    async def issue_all(self, requests: Sequence[LinkRequest]) -> list[IssuedLink | LinkRefused]:
        self.calls += 1
        if self.down:
            raise LinkUnavailable("tracking did not answer POST /links/batch: ConnectError")
        answers: list[IssuedLink | LinkRefused] = []
        for request in requests:
            if request.agency in self.refuse:
                answers.append(LinkRefused(f"tracking answered 409 for {request.agency}"))
                continue
            self.issued.append((request.agency, request.scope, request.view_of))
            url = f"http://web.example/l/secret-{len(self.issued)}"
            answers.append(IssuedLink(url, True, datetime(2026, 8, 1, tzinfo=UTC)))
        return answers

    def fallback(self, request: LinkRequest) -> IssuedLink:
        return IssuedLink("http://web.example/lien-ket-moi", False)


class RecordingTransport(FakeTransport):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    async def send(self, message: Any) -> None:
        await super().send(message)
        self.texts.append(str(message.get_body(("plain",)).get_content()))


def linked_row(email_id: str, to: str, links: list[LinkRequest]) -> dict[str, Any]:
    marker = "m" + email_id
    lines = "\n".join(marker_line(marker, i) for i in range(len(links)))
    return {
        **mail_row(email_id, to),
        "text": f"Kính gửi.\n\n{lines}\n",
        "html": f"<p>Kính gửi.</p>\n{lines}",
        "links": [r.to_row() for r in links],
        "link_marker": marker,
    }


async def test_links_are_issued_when_the_e_mail_is_sent_and_never_written_to_its_row() -> None:
    store = FakeMailStore([linked_row("e1", AGENCY, [LinkRequest("chi-bo-khu-1")])])
    transport, links = RecordingTransport(), FakeLinks()
    done = await sender(store, transport, FakeClock(START), links).send_due()
    assert done.sent == 1 and links.issued == [("chi-bo-khu-1", "act", None)]
    assert "http://web.example/l/secret-1" in transport.texts[0] and "[[" not in transport.texts[0]
    assert "có giá trị đến ngày 01/08/2026" in transport.texts[0]
    assert "secret" not in repr(store.rows["e1"])


async def test_tracking_down_is_a_failed_attempt_retried_with_the_backoff_then_the_e_mail_goes() -> None:
    clock = FakeClock(START)
    store = FakeMailStore([linked_row("e1", AGENCY, [LinkRequest("chi-bo-khu-1")])])
    transport, links = RecordingTransport(), FakeLinks(down=True)
    done = await sender(store, transport, clock, links).send_due()
    assert (done.sent, done.retried, done.failed) == (0, 1, 0) and transport.sent == []
    row = store.rows["e1"]
    assert row["status"] == "pending" and row["next_attempt_at"] == START + timedelta(minutes=1)
    assert row["last_error"].startswith("no personal link: tracking did not answer")
    links.down = False
    clock.advance(timedelta(minutes=1))
    done = await sender(store, transport, clock, links).send_due()
    assert done.sent == 1 and store.rows["e1"]["status"] == "sent" and "/l/secret-1" in transport.texts[0]


async def test_a_refused_link_sends_the_page_to_ask_for_one_and_a_view_link_names_the_late_body() -> None:
    requests = [LinkRequest("dang-uy"), LinkRequest("dang-uy", "view", "mttq", "Ủy ban MTTQ phường")]
    store = FakeMailStore([linked_row("e1", SUPERVISOR, requests)])
    transport, links = RecordingTransport(), FakeLinks(refuse={"dang-uy"})
    assert (await sender(store, transport, FakeClock(START), links).send_due()).sent == 1
    text = transport.texts[0]
    assert "đơn vị đề nghị cấp đường dẫn truy cập tại:\nhttp://web.example/lien-ket-moi" in text
    assert "Đề nghị cấp đường dẫn theo dõi tình hình thực hiện của Ủy ban MTTQ phường tại:" in text


async def test_a_queued_notice_whose_period_was_reported_is_dropped_with_its_reason() -> None:
    period = {"state": "submitted", "track": "report", "rev": 0, "steps": [{"name": "overdue", "ask": "report"}]}
    row = {**mail_row("e1", AGENCY), "notice_keys": [f"a1:2026-FY|r0|overdue#1|{AGENCY}"], "period_ids": ["a1:2026-FY"]}
    store = FakeMailStore([row, mail_row("e2", SUPERVISOR)], {"a1:2026-FY": period})
    transport = FakeTransport()
    done = await sender(store, transport, FakeClock(START)).send_due()
    assert done.dropped == ["reported"] and done.sent == 1 and transport.sent == [SUPERVISOR]
    dropped = store.rows["e1"]
    assert (dropped["status"], dropped["dropped_reason"], dropped["attempts"]) == ("dropped", "reported", 0)
    assert dropped["dropped_at"] == START and dropped["next_attempt_at"] is None


async def test_a_link_request_queues_the_new_link_to_the_registered_address_once() -> None:
    use_cases, _, store, mailer = bootstrap()
    event = LinkRequested(correlation_id="link:chi-bo-khu-1", agency="chi-bo-khu-1", occurred_at=START)
    assert await use_cases.send_new_link(event) is True
    assert await use_cases.send_new_link(event) is False  # a redelivery queues nothing more
    (row,) = store.emails.values()
    assert row["to"] == AGENCY and row["links"] == [LinkRequest("chi-bo-khu-1").to_row()]
    assert row["subject"] == "[Đôn đốc] Cấp đường dẫn truy cập mới – Chi bộ khu dân cư số 1"
    assert marker_line(row["link_marker"], 0) in row["text"] and row["notice_keys"] == []
    assert mailer.woken == 1


async def test_a_view_link_request_names_the_body_and_an_unknown_body_is_dead_lettered() -> None:
    use_cases, _, store, _ = bootstrap()
    view = LinkRequested(correlation_id="link:dang-uy", agency="dang-uy", scope="view", view_of="mttq")
    assert await use_cases.send_new_link(view)
    (row,) = store.emails.values()
    assert row["links"][0]["view_of"] == "mttq" and "của Ủy ban Mặt trận Tổ quốc Việt Nam phường" in row["text"]
    with pytest.raises(InvalidMessage, match="not in the agency directory"):
        await use_cases.send_new_link(LinkRequested(correlation_id="link:x", agency="khong-co"))


async def test_a_digest_is_written_again_from_the_notices_kept_or_left_as_queued_when_one_cannot_be_placed() -> None:
    use_cases, _, store, _ = await overdue()
    await use_cases.project(created("chi-bo-khu-2", "a2"))
    await use_cases.project(acknowledged(created("chi-bo-khu-2", "a2")))
    await use_cases.scan_due()
    digest = next(e for e in store.emails.values() if e["to"] == SUPERVISOR)
    assert len(digest["notice_keys"]) == 2 and "Chi bộ khu dân cư số 1" in digest["text"]
    kept = [k for k in digest["notice_keys"] if k.startswith("a2:")]
    book = use_cases.addressbook
    again = redigest(digest, kept, store.periods, book)
    assert "Chi bộ khu dân cư số 2" in again["text"] and "Chi bộ khu dân cư số 1" not in again["text"]
    assert again["link_marker"] != digest["link_marker"] and marker_line(again["link_marker"], 0) in again["text"]
    assert again["links"] == [LinkRequest("thuong-truc", "view", "chi-bo-khu-2", "Chi bộ khu dân cư số 2").to_row()]
    assert redigest(digest, kept, {}, book) is digest  # its period unknown: as queued
    unknown_step = [k.replace("|overdue#1|", "|renamed#1|") for k in kept]
    assert redigest(digest, unknown_step, store.periods, book) is digest


def extended(event: AssignmentCreated, due_at: datetime, wording: str = "") -> DeadlineExtended:
    return DeadlineExtended(
        correlation_id=event.plan_id,
        agency=event.agency,
        request_id="amendment-1",
        assignment_id=event.assignment_id,
        plan_id=event.plan_id,
        period="2026-H1",
        previous_due_at=DUE,
        due_at=due_at,
        wording=wording,
    )


async def test_a_queued_assignment_notice_goes_with_the_deadline_and_task_as_they_stand_when_it_is_sent() -> None:
    use_cases, _, store, _ = bootstrap()
    event = created()
    await use_cases.project(event)
    await use_cases.scan_due()
    (queued,) = store.emails.values()
    assert "hạn cuối 23:59 ngày 30/06/2026" in queued["text"] and queued.get("content_revs") == {}
    later = DUE + timedelta(days=15)
    await use_cases.project(extended(event, later, "gia hạn đến ngày 15/7"))
    revision = AssignmentRevised(
        correlation_id="p1",
        agency=event.agency,
        assignment_id="a1",
        plan_id="p1",
        task="Báo cáo kết quả, kèm số liệu",
        previous_task="Báo cáo kết quả",
        plan_version=1,
    )
    await use_cases.project(revision)
    mail = FakeMailStore([dict(queued)], store.periods)
    transport = RecordingTransport()
    revise = partial(redigest, book=use_cases.addressbook)
    done = await sender(mail, transport, FakeClock(START), revise=revise).send_due()
    assert done.sent == 1 and done.dropped == []
    text = transport.texts[0]
    assert "Nội dung nhiệm vụ: Báo cáo kết quả, kèm số liệu" in text
    assert (
        "– Kỳ 2026-H1: “gia hạn đến ngày 15/7”, hạn cuối 23:59 ngày 15/07/2026 "
        "(đã gia hạn, hạn trước đây 23:59 ngày 30/06/2026)." in text
    )
    sent = mail.rows[queued["_id"]]
    assert sent["content_revs"] == {"a1:ack": 2} and "15/07/2026" in sent["text"] and "left_out" not in sent
    # Written once: a row whose periods have not changed since goes as it is.
    again = FakeMailStore([{**sent, "status": "pending", "text": "as written\n"}], store.periods)
    await sender(again, RecordingTransport(), FakeClock(START), revise=revise).send_due()
    assert again.rows[queued["_id"]]["text"] == "as written\n"


# --- the consumer's registry ---------------------------------------------------------------------------------------


async def test_the_consumer_dispatches_by_event_type_and_ignores_what_it_does_not_project() -> None:
    from services.notifier.consumers import PeriodProjector, handlers
    from services.notifier.use_cases.projection import PROJECTIONS
    from shared.contracts.events import DirectoryUpdated
    from shared.platform.deliveries import Outcome

    use_cases, _, store, _ = bootstrap()
    projector = PeriodProjector(use_cases)
    registry = handlers(projector, follow_directory=object())  # type: ignore[arg-type]  # never called here
    assert set(registry) == {DirectoryUpdated, *PROJECTIONS}
    assert all(registry[t] is projector for t in PROJECTIONS)
    event = created()
    assert await registry[AssignmentCreated](event) == Outcome.PROCESSED
    assert await registry[AssignmentCreated](event) == Outcome.DUPLICATE
    sent = EscalationSent(
        correlation_id="p1",
        agency=DIRECTORY.get("ubnd").ref(),
        assignment_id="a1",
        plan_id="p1",
        step="overdue",
        recipients=[AGENCY],
        overdue_by_seconds=0,
        track="report",
    )
    assert await projector(sent) == Outcome.IGNORED and len(store.processed) == 1


async def test_the_queue_handler_sends_each_type_to_its_handler_and_ignores_the_rest() -> None:
    from services.notifier.consumers import dispatch
    from shared.platform.deliveries import Outcome

    seen: list[str] = []

    async def on_created(event: Any) -> Outcome:
        seen.append(event.assignment_id)
        return Outcome.PROCESSED

    handle = dispatch({AssignmentCreated: on_created})
    assert await handle(created()) == Outcome.PROCESSED and seen == ["a1"]
    assert await handle(acknowledged(created())) == Outcome.IGNORED and seen == ["a1"]


async def test_a_digest_asks_for_all_its_links_in_one_call_and_a_refused_one_alone_gets_the_page() -> None:
    late = [LinkRequest("thuong-truc", "view", f"chi-bo-{i}", f"Chi bộ số {i}") for i in range(14)]
    refused = LinkRequest("khong-co", "view", "chi-bo-x", "Chi bộ X")
    store = FakeMailStore([linked_row("e1", SUPERVISOR, [*late[:7], refused, *late[7:]])])
    transport, links = RecordingTransport(), FakeLinks(refuse={"khong-co"})
    assert (await sender(store, transport, FakeClock(START), links).send_due()).sent == 1
    assert links.calls == 1 and len(links.issued) == 14
    text = transport.texts[0]
    assert all(f"/l/secret-{n}" in text for n in range(1, 15))
    assert "Đề nghị cấp đường dẫn theo dõi tình hình thực hiện của Chi bộ X tại:" in text
