"""Who is calling: bearer tokens per agency, issuer and operator, stored only as SHA-256 hashes.

Tokens are looked up on every request, so issuing, rotating and revoking take effect without a
restart. The token itself is shown once, when it is issued. The header is parsed by `shared.platform.auth.bearer_token`
and the answer is `shared.platform.auth.Principal`, as in every service (installed with `shared.platform.auth.install`).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from shared.platform.auth import Principal, Role, Unauthenticated, bearer_token, hash_token


class TokenStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._tokens = db["tokens"]

    async def ensure_indexes(self) -> None:
        await self._tokens.create_index("token_id", unique=True)
        await self._tokens.create_index([("subject", 1), ("role", 1)])

    async def issue(
        self, subject: str, role: Role, at: datetime, label: str = "", session: AsyncClientSession | None = None
    ) -> tuple[str, str]:
        """Create a token; returns (token_id, token). Only the hash is stored."""
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

    async def list(self, subject: str | None = None) -> list[dict[str, Any]]:
        query: dict[str, Any] = {} if subject is None else {"subject": subject}
        return await self._tokens.find(query, {"_id": 0}).sort("issued_at", 1).to_list()

    async def identify(self, authorization: str | None) -> Principal:
        row = await self._tokens.find_one({"_id": hash_token(bearer_token(authorization))})
        if row is None or row["revoked_at"] is not None:
            raise Unauthenticated("the token is unknown or has been revoked")
        return Principal(code=row["subject"], role=row["role"])
