"""`link.requested`: someone holding a body's personal link asked for a new one. The new link goes to the body's
registered addresses (the notifier's copy of the directory), never to whoever asked: one e-mail per address,
queued with the event recorded as processed in one unit of work, its link issued by tracking when it is sent."""

from __future__ import annotations

import uuid

import structlog

from services.notifier.records import PENDING, EmailRow
from services.notifier.rules.decisions import stable_id
from services.notifier.rules.links import LinkRequest, new_link_message
from services.notifier.rules.recipients import Addressbook
from services.notifier.use_cases.errors import AlreadyProcessed
from services.notifier.use_cases.ports import Store, Wakeable
from shared.contracts.events import LinkRequested
from shared.platform.deliveries import InvalidMessage
from shared.platform.unit_of_work import Transaction, UnitOfWork

log = structlog.get_logger()


def new_link_emails(event: LinkRequested, book: Addressbook) -> list[EmailRow]:
    """The e-mails answering `event`; raises InvalidMessage when the directory has no address to send them to."""
    agency = book.agency(event.agency)
    if agency is None:
        raise InvalidMessage(f"link.requested for {event.agency!r}, which is not in the agency directory")
    if not agency.emails:
        raise InvalidMessage(f"link.requested for {event.agency!r}, which has no e-mail address in the directory")
    view_name = ""
    if event.scope == "view":
        shown = book.agency(event.view_of or "")
        if shown is None:
            raise InvalidMessage(f"link.requested to view {event.view_of!r}, which is not in the agency directory")
        view_name = shown.name
    request = LinkRequest(agency.code, event.scope, event.view_of if event.scope == "view" else None, view_name)
    emails = []
    for address in agency.emails:
        marker = uuid.uuid4().hex
        message = new_link_message(agency.name, request, marker, book.contact({}))
        emails.append(
            EmailRow(
                _id=stable_id(event.event_id, address),
                to=address,
                to_name=agency.name,
                subject=message.subject,
                text=message.text,
                html=message.html,
                notice_keys=[],
                period_ids=[],
                status=PENDING,
                attempts=0,
                created_at=event.occurred_at,
                next_attempt_at=event.occurred_at,
                links=[request.to_row()],
                link_marker=marker,
            )
        )
    return emails


async def send_new_link(
    event: LinkRequested, uow: UnitOfWork, store: Store, book: Addressbook, mailer: Wakeable
) -> bool:
    """Queue the new-link e-mails. False: the event was processed before."""
    emails = new_link_emails(event, book)

    async def work(tx: Transaction) -> None:
        await store.mark_processed(event.event_id, event.event_type, event.occurred_at, tx.session)
        await store.queue_emails(emails, tx.session)

    try:
        await uow.run(work)
    except AlreadyProcessed:
        return False
    mailer.wake()
    log.info("new link e-mail queued", agency=event.agency, scope=event.scope, emails=len(emails))
    return True
