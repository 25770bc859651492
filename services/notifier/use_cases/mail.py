"""Send the queued e-mails: claim a batch, build and send each while the claim holds, record each outcome.

Rows are claimed with a lease before sending, so two notifiers never send the same row. A row is marked sent
after the server accepted it. A failure the transport calls permanent (a 5xx reply) fails the row at once; any
other is retried with exponential backoff, inside the sending window, up to `max_attempts`. A row whose message
cannot be built (an address that is not one plain address, say) fails alone, with the reason: no retry would
fix it, and the rest of its batch goes out as usual. A replica that dies between the server's acceptance and the
write that records it leaves the row to be sent again after the lease: SMTP allows no better, and the
deterministic Message-ID lets a mail system recognise the copy.

Just before a row is sent: if none of its notices still applies (its period reported or cancelled since, say:
services/notifier/rules/outbox.py), it is dropped with the reason and not sent; a digest only some of whose
notices no longer apply is written again without them (`Revise`; those left out are recorded on the row with their
reasons, with the text as sent, less its links), and so is one whose periods' content changed since it was written
(a deadline the assignment notice lists moved, a task reworded); then its personal links are
issued (the `LinkIssuer` port) and put in place of its marker lines, so a secret exists only in the message handed
to the server. Tracking unable to issue a link is a failed attempt like an SMTP 4xx: retried with the same backoff.

These writes are single-row, conditional on the claim, and publish no event: they do not need the unit of work.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, Protocol

import structlog

from services.notifier.records import DROPPED, FAILED, SENT, EmailRow, PeriodRow
from services.notifier.rules import links
from services.notifier.rules.outbox import amended, void_notices, void_reason
from services.notifier.rules.schedule import SendingWindow
from services.notifier.use_cases.errors import LinkRefused, LinkUnavailable
from services.notifier.use_cases.ports import LinkIssuer
from shared.domain.clock import Clock

log = structlog.get_logger()


class SendFailed(Exception):
    """The transport could not hand the message over; `permanent` when trying again cannot help."""

    def __init__(self, error: str, code: int | None, permanent: bool) -> None:
        super().__init__(error)
        self.error = error
        self.code = code
        self.permanent = permanent


class Transport(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Raises SendFailed."""


class MailStore(Protocol):
    async def count_pending_emails(self) -> int: ...
    async def claim_emails(self, now: datetime, limit: int, lease: timedelta) -> tuple[str, list[EmailRow]]: ...
    async def renew_emails(self, email_ids: list[str], token: str, until: datetime) -> set[str]: ...
    async def finish_email(self, email_id: str, token: str, fields: dict[str, Any], attempted: bool = True) -> bool: ...
    async def periods_by_id(self, period_ids: list[str]) -> dict[str, PeriodRow]: ...


Build = Callable[[Mapping[str, Any]], EmailMessage]
# A digest written again with only the notices that still apply (services/notifier/use_cases/scan.py `redigest`).
Revise = Callable[[EmailRow, list[str], Mapping[str, PeriodRow]], EmailRow]


@dataclass(frozen=True)
class MailPolicy:
    batch_size: int
    lease: timedelta
    longest_send: timedelta  # the transport's timeout: a send may end this long after it starts
    max_attempts: int
    retry_base_seconds: float
    retry_max_seconds: float


@dataclass
class MailPass:
    """What one pass did: e-mails pending before it, then sent, retried later, and failed for good."""

    pending: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped: list[str] = field(default_factory=list)  # the reason of each e-mail dropped
    sent_ids: list[str] = field(default_factory=list)


def retry_at(now: datetime, attempts: int, policy: MailPolicy, window: SendingWindow | None) -> datetime:
    """When to try again after `attempts` failed tries: exponential backoff, then the next moment the sending
    window is open. A notice held back until 07:30 must not go out at 22:00 because its first try failed."""
    seconds = policy.retry_base_seconds * 2 ** max(0, attempts - 1)
    at = now + timedelta(seconds=min(seconds, policy.retry_max_seconds))
    return window.next_open(at) if window is not None else at


class EmailSender:
    def __init__(
        self,
        store: MailStore,
        transport: Transport,
        build: Build,
        policy: MailPolicy,
        clock: Clock,
        window: SendingWindow | None = None,
        links: LinkIssuer | None = None,
        revise: Revise | None = None,
    ) -> None:
        self._store = store
        self._links = links
        self._revise = revise
        self._transport = transport
        self._build = build
        self._policy = policy
        self._clock = clock
        self._window = window

    async def send_due(self) -> MailPass:
        """Claim and send one batch of due e-mails."""
        pending = await self._store.count_pending_emails()
        token, rows = await self._store.claim_emails(self._clock.now(), self._policy.batch_size, self._policy.lease)
        done = await self.send_claimed(token, rows)
        done.pending = pending
        return done

    async def send_claimed(self, token: str, rows: list[EmailRow]) -> MailPass:
        """Send e-mails this replica claimed under `token`, each only while the claim still holds."""
        done = MailPass()
        claims = [row.get("next_attempt_at") for row in rows]
        held_until = min((at for at in claims if at is not None), default=None)
        periods = await self._store.periods_by_id(sorted({p for row in rows for p in row.get("period_ids") or []}))
        lost: set[str] = set()
        for index, row in enumerate(rows):
            # One claim covers the batch, but a slow server can outlast it, and a replica that took the expired
            # rows over would send them too. When a send might end after the claim, what is left is renewed first
            # (one round trip, rarely), and what was already taken over is left alone.
            now = self._clock.now()
            if held_until is not None and now + self._policy.longest_send >= held_until:
                remaining = [r["_id"] for r in rows[index:]]
                lost |= set(remaining) - await self._store.renew_emails(remaining, token, now + self._policy.lease)
                held_until = now + self._policy.lease
            if row["_id"] in lost:
                log.warning("e-mail claim expired; left to the replica that took it", email_id=row["_id"])
                continue
            reason = void_reason(row.get("notice_keys") or [], periods)
            if reason is not None:
                await self._drop(row, token, reason)
                done.dropped.append(reason)
                continue
            row, recorded = self._without_void(row, periods)
            await self._send_one(row, token, done, recorded)
        return done

    def _without_void(self, row: EmailRow, periods: Mapping[str, PeriodRow]) -> tuple[EmailRow, dict[str, Any]]:
        """A digest some of whose notices no longer apply, written again without them, and what to record on its
        row once it is sent (the text as sent, less its links; the notices left out with their reasons)."""
        keys = row.get("notice_keys") or []
        void = void_notices(keys, periods)
        own = {key.split("|", 1)[0] for key in keys}
        changed = amended(row.get("content_revs") or {}, {i: p for i, p in periods.items() if i in own})
        if not (void or changed) or self._revise is None:
            return row, {}
        revised = self._revise(row, [k for k in keys if k not in void], periods)
        if revised is row:
            return row, {}
        log.info("e-mail written again", email_id=row["_id"], left_out=len(void), amended=len(changed))
        kept = ("subject", "text", "html", "links", "link_marker", "content_revs")
        recorded = {name: revised.get(name) for name in kept}
        if void:
            recorded["left_out"] = [{"notice": key, "reason": reason} for key, reason in sorted(void.items())]
        return revised, recorded

    async def _drop(self, row: EmailRow, token: str, reason: str) -> None:
        fields = {"status": DROPPED, "dropped_at": self._clock.now(), "dropped_reason": reason, "next_attempt_at": None}
        log.info("e-mail dropped: what it was about no longer applies", email_id=row["_id"], reason=reason)
        await self._store.finish_email(row["_id"], token, fields, attempted=False)

    async def _with_links(self, row: EmailRow) -> EmailRow:
        """The row with its marker lines replaced by freshly issued links (kept in memory only)."""
        requests = [links.LinkRequest.from_row(r) for r in row.get("links") or []]
        if not requests or self._links is None or not row.get("link_marker"):
            return row
        issued = []
        # One call for all of them (a digest of 14 late bodies carries 14); LinkUnavailable makes the e-mail wait.
        for request, answer in zip(requests, await self._links.issue_all(requests), strict=True):
            if isinstance(answer, LinkRefused):
                log.error(
                    "no personal link for this body; the e-mail says where to ask",
                    email_id=row["_id"],
                    error=str(answer),
                )
                answer = self._links.fallback(request)
            issued.append((request, answer))
        text, page = links.fill(row.get("text", ""), row.get("html", ""), row["link_marker"], issued)
        return {**row, "text": text, "html": page}

    async def _send_one(
        self, row: EmailRow, token: str, done: MailPass, recorded: dict[str, Any] | None = None
    ) -> None:
        try:
            row = await self._with_links(row)
        except LinkUnavailable as exc:
            final = await self._failed(row, token, SendFailed(f"no personal link: {exc}", None, permanent=False))
            done.failed += final
            done.retried += not final
            return
        try:
            message = self._build(row)
        except Exception as exc:  # noqa: BLE001 - whatever stops this row's message stops only this row
            # Raising here would leave the rest of the batch claimed: other agencies' e-mails would wait a lease.
            await self._unbuildable(row, token, exc)
            done.failed += 1
            return
        try:
            await self._transport.send(message)
        except SendFailed as failure:
            final = await self._failed(row, token, failure)
            done.failed += final
            done.retried += not final
            return
        fields = {**(recorded or {}), "status": SENT, "sent_at": self._clock.now()}
        await self._store.finish_email(row["_id"], token, fields)
        log.info("e-mail sent", email_id=row["_id"], to=row["to"], attempts=row["attempts"] + 1)
        done.sent += 1
        done.sent_ids.append(row["_id"])

    async def _unbuildable(self, row: EmailRow, token: str, exc: Exception) -> None:
        now = self._clock.now()
        reason = f"the message could not be built: {exc}"[:1_000]
        fields = {"status": FAILED, "failed_at": now, "next_attempt_at": None, "last_error": reason, "last_code": None}
        log.error("e-mail not built; marked failed", email_id=row["_id"], to=repr(row.get("to")), reason=reason)
        await self._store.finish_email(row["_id"], token, fields, attempted=False)

    async def _failed(self, row: EmailRow, token: str, failure: SendFailed) -> bool:
        """Record a failed attempt; True when the row is given up."""
        attempts = row["attempts"] + 1
        final = failure.permanent or attempts >= self._policy.max_attempts
        now = self._clock.now()
        fields: dict[str, Any] = {
            "last_error": failure.error[:1_000],
            "last_code": failure.code,
            "last_attempt_at": now,
        }
        if final:
            fields |= {"status": FAILED, "failed_at": now, "next_attempt_at": None}
        else:
            fields["next_attempt_at"] = retry_at(now, attempts, self._policy, self._window)
        log.warning(
            "e-mail not sent",
            email_id=row["_id"],
            attempts=attempts,
            code=failure.code,
            permanent=failure.permanent,
            final=final,
            error=failure.error,
        )
        await self._store.finish_email(row["_id"], token, fields)
        return final
