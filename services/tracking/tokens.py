"""Who is calling: bearer tokens per agency, issuer and operator, stored only as SHA-256 hashes.

Tokens are looked up on every request, so issuing, rotating and revoking take effect without a restart. An API
token has an `expires_at` (docs/security.md, "API tokens: expiry and rotation"); rotating one issues its successor
and shortens the old one's life to an overlap during which both work. Rows stored before expiries existed, and the
operator's configured bootstrap token, have none and last until revoked. A session
token (made from a personal link, `services/tracking/links.py`) also has an `expires_at` and the agency of its link
(`link_agency`), so revoking that agency's links revokes it too. The token itself is shown once, when it is issued.
The header is parsed by `shared.platform.auth.bearer_token` and the answer is `shared.platform.auth.Principal`, as
in every service (installed with `shared.platform.auth.install`). Personal links themselves are `LinkStore`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.tracking.links import SessionGrant, session_expired
from services.tracking.use_cases.messages import IssuedToken, RotatedToken
from shared.domain.clock import Clock, SystemClock, as_utc
from shared.platform.auth import (
    SESSION_EXPIRED,
    TOKEN_EXPIRED,
    UNKNOWN_TOKEN,
    Principal,
    Role,
    Unauthenticated,
    bearer_token,
    hash_token,
)


@dataclass(frozen=True)
class Identity:
    """Who a token belongs to, and until when it is valid (None: until revoked)."""

    principal: Principal
    expires_at: datetime | None


class TokenStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], clock: Clock | None = None) -> None:
        self._tokens = db["tokens"]
        self._clock = clock or SystemClock()

    async def ensure_indexes(self) -> None:
        await self._tokens.create_index("token_id", unique=True)
        await self._tokens.create_index([("subject", 1), ("role", 1)])
        await self._tokens.create_index([("link_agency", 1), ("revoked_at", 1)])

    async def issue(
        self,
        subject: str,
        role: Role,
        at: datetime,
        label: str = "",
        session: AsyncClientSession | None = None,
        grant: SessionGrant | None = None,
        expires_at: datetime | None = None,
        rotated_from: str | None = None,
    ) -> tuple[str, str]:
        """Create a token valid until `expires_at` (None: until revoked), or a session token when `grant` is given;
        returns (token_id, token). Only the hash is stored."""
        token = f"ddc_{secrets.token_urlsafe(32)}"
        digest = hash_token(token)
        token_id = digest[:16]
        await self._tokens.insert_one(
            {
                "_id": digest,
                "token_id": token_id,
                "subject": subject,
                "role": role,
                "label": label,
                "issued_at": at,
                "revoked_at": None,
                "expires_at": grant.expires_at if grant else expires_at,
                "link_agency": grant.link_agency if grant else None,
                "rotated_from": rotated_from,
            },
            session=session,
        )
        return token_id, token

    async def ensure(self, token: str, subject: str, role: Role, at: datetime) -> None:
        """Register a token given by configuration (the bootstrap operator token)."""
        digest = hash_token(token)
        await self._tokens.update_one(
            {"_id": digest},
            {
                "$setOnInsert": {
                    "token_id": digest[:16],
                    "subject": subject,
                    "role": role,
                    "label": "configured",
                    "issued_at": at,
                    "revoked_at": None,
                }
            },
            upsert=True,
        )

    async def revoke(self, token_id: str, at: datetime, session: AsyncClientSession | None = None) -> bool:
        result = await self._tokens.update_one(
            {"token_id": token_id, "revoked_at": None}, {"$set": {"revoked_at": at}}, session=session
        )
        return result.modified_count == 1

    async def rotate(
        self,
        token_id: str,
        at: datetime,
        overlap: timedelta,
        expires_at: datetime | None,
        session: AsyncClientSession | None = None,
    ) -> RotatedToken | None:
        """Issue the successor of live API token `token_id` (same subject, role and label, valid until
        `expires_at`) and make the old one expire at `at + overlap` (or sooner, if it already would). None when
        there is no live, unexpired API token of that id (sessions are not rotated: their links make new ones)."""
        old = await self._tokens.find_one(
            {"token_id": token_id, "revoked_at": None, "link_agency": None}, session=session
        )
        if old is None or session_expired(old.get("expires_at"), at):
            return None
        old_expires_at = at + overlap
        if old.get("expires_at") is not None:
            old_expires_at = min(old_expires_at, as_utc(old["expires_at"]))
        await self._tokens.update_one({"_id": old["_id"]}, {"$set": {"expires_at": old_expires_at}}, session=session)
        new_id, token = await self.issue(
            old["subject"], old["role"], at, old["label"], session, expires_at=expires_at, rotated_from=token_id
        )
        return RotatedToken(
            IssuedToken(new_id, token, old["subject"], old["role"], expires_at), token_id, old_expires_at
        )

    async def revoke_sessions(self, agency: str | None, at: datetime, session: AsyncClientSession | None = None) -> int:
        """Revoke the live session tokens made from `agency`'s links (every agency's with None)."""
        query: dict[str, Any] = {"revoked_at": None}
        query["link_agency"] = agency if agency is not None else {"$ne": None}
        result = await self._tokens.update_many(query, {"$set": {"revoked_at": at}}, session=session)
        return result.modified_count

    async def list(self, subject: str | None = None) -> list[dict[str, Any]]:
        query: dict[str, Any] = {} if subject is None else {"subject": subject}
        return await self._tokens.find(query, {"_id": 0}).sort("issued_at", 1).to_list()

    async def identify(self, authorization: str | None) -> Principal:
        return (await self.identity(authorization)).principal

    async def identity(self, authorization: str | None) -> Identity:
        """Who holds the token and until when; an unknown, revoked or expired token is refused alike."""
        row = await self._tokens.find_one({"_id": hash_token(bearer_token(authorization))})
        if row is None or row["revoked_at"] is not None:
            raise Unauthenticated(UNKNOWN_TOKEN)
        expires_at = row.get("expires_at")
        if session_expired(expires_at, self._clock.now()):
            if row.get("link_agency") is None:
                raise Unauthenticated(TOKEN_EXPIRED)
            raise Unauthenticated(SESSION_EXPIRED)
        return Identity(Principal(code=row["subject"], role=row["role"]), as_utc(expires_at) if expires_at else None)


class LinkStore:
    """Personal links, stored as the SHA-256 of their secret (`_id`); `link_id` is a short public handle."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._links = db["links"]

    async def ensure_indexes(self) -> None:
        await self._links.create_index("link_id", unique=True)
        await self._links.create_index([("agency", 1), ("revoked_at", 1)])

    async def issue_many(
        self, links: list[dict[str, Any]], session: AsyncClientSession | None = None
    ) -> list[tuple[str, str]]:
        """Store new links (agency, scope, view_of, issued_at, expires_at) in one write (`insert_many`); returns
        each one's (link_id, secret), in order."""
        if not links:
            return []
        secrets_ = [secrets.token_urlsafe(32) for _ in links]
        digests = [hash_token(secret) for secret in secrets_]
        rows = [
            {**link, "_id": digest, "link_id": digest[:16], "revoked_at": None}
            for link, digest in zip(links, digests, strict=True)
        ]
        await self._links.insert_many(rows, session=session)
        return [(digest[:16], secret) for digest, secret in zip(digests, secrets_, strict=True)]

    async def find(self, secret: str, session: AsyncClientSession | None = None) -> dict[str, Any] | None:
        return await self._links.find_one({"_id": hash_token(secret)}, {"_id": 0}, session=session)

    async def revoke(self, agency: str | None, at: datetime, session: AsyncClientSession | None = None) -> int:
        """Revoke `agency`'s live links (every agency's with None); returns how many."""
        query: dict[str, Any] = {"revoked_at": None}
        if agency is not None:
            query["agency"] = agency
        result = await self._links.update_many(query, {"$set": {"revoked_at": at}}, session=session)
        return result.modified_count
