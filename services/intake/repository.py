"""Intake's own database: plans as submitted, and the outbox of events they caused."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase


class PlanRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._plans = db["plans"]

    async def ensure_indexes(self) -> None:
        await self._plans.create_index([("issuer", 1), ("number", 1)])
        await self._plans.create_index([("assignments.agency", 1)])

    async def assigning(self, agencies: list[str], limit: int) -> list[str]:
        """Plans (up to `limit`) whose current version assigns work to any of `agencies`."""
        if not agencies:
            return []
        rows = self._plans.find({"assignments.agency": {"$in": agencies}}, {"_id": 1}).limit(limit)
        return [str(row["_id"]) async for row in rows]

    async def add(self, record: dict[str, Any], session: AsyncClientSession) -> None:
        await self._plans.insert_one(record, session=session)

    async def stored(self, plan_id: str, session: AsyncClientSession | None = None) -> dict[str, Any] | None:
        """The plan as last registered, with its submission and assignments."""
        return await self._plans.find_one({"_id": plan_id}, session=session)

    async def replace(self, record: dict[str, Any], version: int, session: AsyncClientSession) -> bool:
        """Store a corrected plan if nobody else corrected it since `version` was read."""
        result = await self._plans.replace_one(
            {"_id": record["_id"], "version": {"$in": [version, None]} if version == 0 else version},
            {**record, "version": version + 1},
            session=session,
        )
        return result.modified_count == 1

    async def get(self, plan_id: str) -> dict[str, Any] | None:
        return await self._plans.find_one({"_id": plan_id}, {"submission": 0})
