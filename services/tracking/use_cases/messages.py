"""The use cases' typed commands and results (agencies' own commands are `shared.contracts.commands`), and what
they need
of storage: the protocols `TrackingRepository` and `TokenStore` fulfil, and the fakes of the unit tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from services.tracking import domain
from services.tracking.domain import AssignmentRecord, Change
from shared.contracts.events import Event
from shared.platform.auth import Role

Channel = Literal["http", "amqp"]
Session = Any  # the unit of work's database session, handed through to the repository untouched


@dataclass(frozen=True)
class ActionResult:
    event: dict[str, Any]
    duplicate: bool


@dataclass(frozen=True)
class DecideExtension:
    request_id: str
    approve: bool
    reason: str = ""


@dataclass(frozen=True)
class IssueToken:
    subject: str
    role: Role
    label: str = ""
    expires_at: datetime | None = None  # None: the default lifetime (TRACKING_TOKEN_TTL_DAYS)


@dataclass(frozen=True)
class IssuedToken:
    token_id: str
    token: str
    subject: str
    role: Role
    expires_at: datetime | None = None


@dataclass(frozen=True)
class RotateToken:
    token_id: str
    overlap: timedelta  # how long the old token keeps working beside the new one
    expires_at: datetime | None = None  # the new token's; None: the default lifetime


@dataclass(frozen=True)
class RotatedToken:
    """The successor (its secret shown once) and when the old token stops working."""

    new: IssuedToken
    old_token_id: str
    old_expires_at: datetime


@dataclass(frozen=True)
class AgencyQuery:
    agency_code: str
    state: domain.AssignmentState | None = None
    period: str | None = None
    offset: int = 0
    limit: int = 50


ExtensionState = Literal["pending", "approved", "refused"]


@dataclass(frozen=True)
class ExtensionQuery:
    """Extension requests, filtered by any of these, oldest first, a page at a time (the reader's scope is added
    by the use case: an agency's own, an issuer's plans')."""

    state: ExtensionState | None = None
    plan_id: str | None = None
    agency_code: str | None = None
    assignment_id: str | None = None
    offset: int = 0
    limit: int = 50


class Assignments(Protocol):
    """What the use cases need of the repository (`TrackingRepository`, or a fake in unit tests)."""

    async def get_assignment(self, assignment_id: str, session: Session = None) -> AssignmentRecord | None: ...
    async def apply(self, assignment: AssignmentRecord, change: Change, session: Session) -> bool: ...
    async def recorded(self, event_id: str, session: Session) -> dict[str, Any] | None: ...
    async def record_event(self, event: Event, session: Session, channel: str, actor_role: str | None) -> None: ...
    async def extension(self, request_id: str, session: Session = None) -> dict[str, Any] | None: ...
    async def add_extension(self, record: dict[str, Any], session: Session) -> None: ...
    async def settle_extension(self, request_id: str, outcome: dict[str, Any], session: Session) -> None: ...
    async def extension_requests(self, query: ExtensionQuery, issuer: str | None) -> list[dict[str, Any]]: ...
    async def plan(self, plan_id: str) -> dict[str, Any] | None: ...
    async def plan_assignments(self, plan_id: str) -> list[AssignmentRecord]: ...
    async def agency_assignments(
        self, agency_code: str, issuer: str | None, state: str | None, period: str | None, skip: int, limit: int
    ) -> list[AssignmentRecord]: ...
    async def history(self, assignment_id: str) -> list[dict[str, Any]]: ...


class Tokens(Protocol):
    async def issue(
        self,
        subject: str,
        role: Role,
        at: datetime,
        label: str = "",
        session: Session = None,
        *,
        expires_at: datetime | None = None,
    ) -> tuple[str, str]: ...
    async def rotate(
        self, token_id: str, at: datetime, overlap: timedelta, expires_at: datetime | None, session: Session = None
    ) -> RotatedToken | None: ...
    async def revoke(self, token_id: str, at: datetime, session: Session = None) -> bool: ...
