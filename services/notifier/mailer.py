"""Sends queued e-mails through SMTP (aiosmtplib) and records each outcome.

Rows are claimed with a lease before sending, so two notifiers never send the same row. A row is marked
sent after the server's 250. Failures are classified: a 4xx reply or a connection problem is retried with
exponential backoff (up to `mail_max_attempts`), a 5xx reply is permanent and the row is marked failed at
once. A replica that dies between the server's 250 and the write that records it leaves the row to be
sent again after the lease: SMTP allows no better, and the deterministic Message-ID lets a mail system
recognise the copy.
"""

from __future__ import annotations

import asyncio
import email
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

import aiosmtplib
import structlog
from prometheus_client import Counter, Gauge

from services.notifier.config import Settings
from services.notifier.records import FAILED, SENT
from services.notifier.repository import NotifierRepository
from services.notifier.rules.headers import UnsafeHeader, header_text, mail_address, message_id
from services.notifier.rules.schedule import SendingWindow
from shared.clock import Clock, as_utc

log = structlog.get_logger()

EMAILS = Counter("dondoc_emails_sent_total", "E-mail sending attempts, by result (sent, retried, failed).", ["result"])
EMAILS_QUEUED = Gauge("dondoc_emails_queued", "E-mails waiting to be sent.")


HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted")


def build_message(row: dict[str, Any], sender: str, domain: str = "dondoc") -> EmailMessage:
    """The e-mail of one queued row. Every header value goes through services/notifier/rules/headers.py;
    raises UnsafeHeader (a ValueError) when the row's address is not one plain address."""
    message = EmailMessage()
    sender_name, sender_address = parseaddr(sender)
    message["From"] = mail_address(sender_name, sender_address)
    message["To"] = mail_address(row.get("to_name", ""), row["to"])
    message["Subject"] = header_text(row["subject"])
    message["Date"] = format_datetime(as_utc(row["created_at"]))
    message["Message-ID"] = message_id(row["_id"], domain)  # stable: a resend can be recognised as one
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(row.get("text") or row.get("body", ""), charset="utf-8", cte="quoted-printable")
    if row.get("html"):
        message.add_alternative(row["html"], subtype="html", charset="utf-8", cte="quoted-printable")
    _check_headers(message)
    return message


def _check_headers(message: EmailMessage) -> None:
    """Read the bytes back as a receiving server would and refuse them unless they carry exactly our headers
    and one recipient: a second line of defence that does not trust the library's folding."""
    back = email.message_from_bytes(message.as_bytes(), policy=policy.default)
    names = [name for name in back.keys() if name not in ("MIME-Version", "Content-Type", "Content-Transfer-Encoding")]
    recipients = back.get_all("To") or []
    if sorted(names) != sorted(HEADERS) or len(recipients) != 1 or len(recipients[0].addresses) != 1:
        raise UnsafeHeader(f"the built message's headers are not the expected ones: {names}")


def classify(exc: BaseException) -> tuple[bool, int | None]:
    """(permanent?, SMTP code): 5xx replies are permanent; 4xx, timeouts and connection errors are not."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        return all(500 <= c < 600 for c in codes) and bool(codes), (codes[0] if codes else None)
    code = getattr(exc, "code", None)
    if isinstance(exc, aiosmtplib.SMTPResponseException) and isinstance(code, int) and code > 0:
        return 500 <= code < 600, code
    return False, None


def retry_at(now: datetime, attempts: int, settings: Settings, window: SendingWindow | None) -> datetime:
    """When to try again after `attempts` failed tries: exponential backoff, then the next moment the sending
    window is open. A notice held back until 07:30 must not go out at 22:00 because its first try failed."""
    seconds = settings.mail_retry_base_seconds * 2 ** max(0, attempts - 1)
    at = now + timedelta(seconds=min(seconds, settings.mail_retry_max_seconds))
    return window.next_open(at) if window is not None else at


class Mailer:
    def __init__(
        self, repository: NotifierRepository, settings: Settings, clock: Clock, window: SendingWindow | None = None
    ) -> None:
        self._repo = repository
        self._settings = settings
        self._clock = clock
        self._window = window
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        self._wakeup.set()

    async def send_pending(self) -> int:
        """Claim and send one batch of due e-mails; returns how many the server accepted."""
        settings = self._settings
        EMAILS_QUEUED.set(await self._repo.count_pending_emails())
        token, rows = await self._repo.claim_emails(
            self._clock.now(), settings.mail_batch_size, timedelta(seconds=settings.mail_lease_seconds)
        )
        return await self.send_claimed(token, rows)

    async def send_claimed(self, token: str, rows: list[dict[str, Any]]) -> int:
        """Send e-mails this replica claimed under `token`, each only while the claim still holds."""
        settings = self._settings
        sent = 0
        lease = timedelta(seconds=settings.mail_lease_seconds)
        longest_send = timedelta(seconds=settings.smtp_timeout_seconds)
        held_until = min((row["next_attempt_at"] for row in rows), default=None)
        lost: set[str] = set()
        for index, row in enumerate(rows):
            # One claim covers the batch, but a slow server can outlast it, and a replica that took the expired
            # rows over would send them too. When a send might end after the claim, what is left is renewed first
            # (one round trip, rarely), and what was already taken over is left alone.
            now = self._clock.now()
            if held_until is not None and now + longest_send >= held_until:
                remaining = [r["_id"] for r in rows[index:]]
                lost |= set(remaining) - await self._repo.renew_emails(remaining, token, now + lease)
                held_until = now + lease
            if row["_id"] in lost:
                log.warning("e-mail claim expired; left to the replica that took it", email_id=row["_id"])
                continue
            sent += await self._send_one(row, token)
        return sent

    async def _send_one(self, row: dict[str, Any], token: str) -> int:
        """Send one claimed row and record the outcome; 1 when the server accepted it."""
        settings = self._settings
        try:
            message = build_message(row, settings.mail_from, settings.mail_domain)
        except Exception as exc:  # noqa: BLE001 - whatever stops this row's message stops only this row
            # A bad address in the directory, a value no header can hold: no retry can fix the row, and raising
            # here would leave the rest of the batch claimed (other agencies' e-mails waiting a lease or more).
            await self._unbuildable(row, token, exc)
            return 0
        try:
            await aiosmtplib.send(
                message,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username,
                password=settings.smtp_password,
                start_tls=settings.smtp_starttls,
                use_tls=settings.smtp_tls,
                cert_bundle=str(settings.smtp_ca_file) if settings.smtp_ca_file else None,  # always verified
                timeout=settings.smtp_timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            await self._failed(row, token, exc)
            return 0
        await self._repo.finish_email(row["_id"], token, {"status": SENT, "sent_at": self._clock.now()})
        EMAILS.labels("sent").inc()
        log.info("e-mail sent", email_id=row["_id"], to=row["to"], attempts=row["attempts"] + 1)
        return 1

    async def _unbuildable(self, row: dict[str, Any], token: str, exc: Exception) -> None:
        now = self._clock.now()
        reason = f"the message could not be built: {exc}"[:1_000]
        fields = {"status": FAILED, "failed_at": now, "next_attempt_at": None, "last_error": reason, "last_code": None}
        EMAILS.labels("failed").inc()
        log.error("e-mail not built; marked failed", email_id=row["_id"], to=repr(row.get("to")), reason=reason)
        await self._repo.finish_email(row["_id"], token, fields, attempted=False)

    async def _failed(self, row: dict[str, Any], token: str, exc: BaseException) -> None:
        permanent, code = classify(exc)
        attempts = row["attempts"] + 1
        final = permanent or attempts >= self._settings.mail_max_attempts
        now = self._clock.now()
        fields: dict[str, Any] = {"last_error": repr(exc)[:1_000], "last_code": code, "last_attempt_at": now}
        if final:
            fields |= {"status": FAILED, "failed_at": now, "next_attempt_at": None}
        else:
            fields["next_attempt_at"] = retry_at(now, attempts, self._settings, self._window)
        EMAILS.labels("failed" if final else "retried").inc()
        log.warning(
            "e-mail not sent",
            email_id=row["_id"],
            attempts=attempts,
            code=code,
            permanent=permanent,
            final=final,
            error=repr(exc),
        )
        await self._repo.finish_email(row["_id"], token, fields)

    async def run(self, poll_seconds: float = 2.0) -> None:
        while True:
            try:
                if await self.send_pending() == self._settings.mail_batch_size:
                    continue  # more is waiting
            except Exception:  # noqa: BLE001 - keep the loop alive through a database outage
                log.exception("mailer pass failed")
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=poll_seconds)
            except TimeoutError:
                pass
