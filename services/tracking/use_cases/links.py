"""The use cases of personal links: issue one, or an e-mail's several in one write (operators, the notifier),
exchange one for a session, ask for a new one (published as `link.requested` through the unit of work), revoke an
agency's links or all. The rules are `services/tracking/links.py`; the secret is the credential of exchange and
renewal and is never logged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import structlog

from services.tracking.links import (
    SESSION_LABEL,
    InvalidLink,
    LinkPolicy,
    LinkScope,
    SessionGrant,
    check_scope,
    link_state,
    session_principal,
)
from services.tracking.use_cases.errors import ActionError, Gone, NotFound, Refused
from services.tracking.use_cases.messages import Session
from shared.contracts.events import LinkRequested
from shared.domain.clock import Clock, as_utc
from shared.domain.wording import Wording, wording_of
from shared.platform.auth import Role
from shared.platform.unit_of_work import Transaction, UnitOfWork

log = structlog.get_logger()

_NO_SUCH_LINK = Wording(vi="Không tìm thấy đường dẫn này; hãy kiểm tra lại đường dẫn trong thư.", en="no such link")
# Why a link no longer opens a session (`links.link_state`).
_ENDED = {
    "expired": Wording(vi="Đường dẫn này đã hết hạn; hãy đề nghị gửi đường dẫn mới.", en="this link has expired"),
    "revoked": Wording(
        vi="Đường dẫn này đã bị thu hồi; hãy đề nghị gửi đường dẫn mới.", en="this link has been revoked"
    ),
}


@dataclass(frozen=True)
class IssueLink:
    agency: str
    scope: LinkScope = "act"
    view_of: str | None = None


@dataclass(frozen=True)
class IssuedLink:
    link_id: str
    secret: str
    expires_at: datetime


@dataclass(frozen=True)
class LinkSession:
    session: str
    agency: str
    scope: LinkScope
    view_of: str | None
    expires_at: datetime


class Links(Protocol):
    """What the use cases need of the link store (`tokens.LinkStore`, or a fake in unit tests)."""

    async def issue_many(self, links: list[dict[str, Any]], session: Session = None) -> list[tuple[str, str]]: ...
    async def find(self, secret: str, session: Session = None) -> dict[str, Any] | None: ...
    async def revoke(self, agency: str | None, at: datetime, session: Session = None) -> int: ...


class SessionTokens(Protocol):
    """What the use cases need of the token store to make and end sessions."""

    async def issue(
        self,
        subject: str,
        role: Role,
        at: datetime,
        label: str = "",
        session: Session = None,
        grant: SessionGrant | None = None,
    ) -> tuple[str, str]: ...
    async def revoke_sessions(self, agency: str | None, at: datetime, session: Session = None) -> int: ...


def _record(command: IssueLink, now: datetime, expires_at: datetime) -> dict[str, Any]:
    return {
        "agency": command.agency,
        "scope": command.scope,
        "view_of": command.view_of,
        "issued_at": now,
        "expires_at": expires_at,
    }


class LinkService:
    def __init__(
        self,
        uow: UnitOfWork,
        links: Links,
        tokens: SessionTokens,
        clock: Clock,
        policy: LinkPolicy,
    ) -> None:
        self._uow = uow
        self._links = links
        self._tokens = tokens
        self._clock = clock
        self._policy = policy

    async def issue(self, command: IssueLink) -> IssuedLink:
        """A new link; its secret is shown only in this answer. Raises Refused when the scope rules forbid it."""
        (answer,) = await self.issue_many([command])
        if isinstance(answer, ActionError):
            raise answer
        return answer

    async def issue_many(self, commands: Sequence[IssueLink]) -> list[IssuedLink | ActionError]:
        """New links for several commands at once (an e-mail's links), stored in one write: each command's link,
        or the refusal of that command alone (the others are issued all the same), in the commands' order."""
        now = self._clock.now()
        expires_at = self._policy.link_expiry(now)
        answers: list[IssuedLink | ActionError | None] = []
        records = []
        for command in commands:
            try:
                check_scope(command.agency, command.scope, command.view_of)
            except InvalidLink as exc:
                answers.append(Refused(wording_of(exc)))
                continue
            answers.append(None)
            records.append(_record(command, now, expires_at))
        stored = iter(await self._links.issue_many(records))
        issued = [IssuedLink(*next(stored), expires_at) if answer is None else answer for answer in answers]
        link_ids = [answer.link_id for answer in issued if isinstance(answer, IssuedLink)]
        log.info("links issued", link_ids=link_ids, asked=len(commands), refused=len(commands) - len(link_ids))
        return issued

    async def _usable(self, secret: str, session: Session = None) -> dict[str, Any]:
        link = await self._links.find(secret, session)
        if link is None:
            raise NotFound(_NO_SUCH_LINK)
        return link

    async def exchange(self, secret: str) -> LinkSession:
        """A session for a valid link; 410 with the reason for an expired or revoked one."""
        now = self._clock.now()

        async def work(tx: Transaction) -> LinkSession:
            link = await self._usable(secret, tx.session)
            state = link_state(link, now)
            if state != "valid":
                raise Gone(_ENDED[state], state)
            principal = session_principal(link["agency"], link["scope"], link["view_of"])
            expires_at = self._policy.session_expiry(now, as_utc(link["expires_at"]))
            grant = SessionGrant(expires_at, link["agency"])
            _, token = await self._tokens.issue(principal.code, principal.role, now, SESSION_LABEL, tx.session, grant)
            log.info("link exchanged", link_id=link["link_id"], agency=link["agency"], scope=link["scope"])
            return LinkSession(token, link["agency"], link["scope"], link["view_of"], expires_at)

        return await self._uow.run(work)

    async def request_renewal(self, secret: str) -> str:
        """Publish `link.requested` for the link's agency (whatever the link's state); returns the agency. The new
        link goes to the agency's registered address (the notifier), never to the one asking."""

        async def work(tx: Transaction) -> str:
            link = await self._usable(secret, tx.session)
            agency: str = link["agency"]
            event = LinkRequested(
                correlation_id=f"link:{agency}", agency=agency, scope=link["scope"], view_of=link["view_of"]
            )
            tx.publish(event)
            log.info("new link requested", link_id=link["link_id"], agency=agency, event_id=event.event_id)
            return agency

        return await self._uow.run(work)

    async def revoke(self, agency: str | None) -> int:
        """Revoke `agency`'s links (every link with None) and the sessions made from them; returns the links'
        count."""
        now = self._clock.now()

        async def work(tx: Transaction) -> tuple[int, int]:
            links = await self._links.revoke(agency, now, tx.session)
            sessions = await self._tokens.revoke_sessions(agency, now, tx.session)
            return links, sessions

        links, sessions = await self._uow.run(work)
        log.info("links revoked", agency=agency or "*", links=links, sessions=sessions)
        return links
