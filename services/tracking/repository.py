"""Tracking's own database: assignments' current state, plans, and the append-only event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from shared.contracts import Event


def audit_row(event: Event, channel: str = "amqp", actor_role: str | None = None) -> dict[str, Any]:
    """One row of the append-only audit trail: what happened, to what, who did it, through which channel."""
    data = event.model_dump(mode="python")
    return {
        "channel": channel,
        "actor_role": actor_role,
        "_id": event.event_id,
        "event_type": event.event_type,
        "plan_id": event.correlation_id,
        "assignment_id": data.get("assignment_id"),
        "occurred_at": event.occurred_at,
        "actor": data.get("actor"),
        "data": data,
    }


class TrackingRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.assignments = db["assignments"]
        self.plans = db["plans"]
        self.events = db["events"]
        self.extensions = db["extensions"]

    async def ensure_indexes(self) -> None:
        await self.assignments.create_index([("plan_id", ASCENDING), ("agency.kind", ASCENDING)])
        await self.assignments.create_index([("agency.code", ASCENDING), ("state", ASCENDING), ("_id", ASCENDING)])
        await self.assignments.create_index([("agency.code", ASCENDING), ("period_keys", ASCENDING)])
        await self.extensions.create_index([("assignment_id", ASCENDING), ("status", ASCENDING)])
        await self.events.create_index([("assignment_id", ASCENDING), ("occurred_at", ASCENDING)])
        await self.events.create_index([("plan_id", ASCENDING), ("occurred_at", ASCENDING)])

    async def record_event(
        self, event: Event, session: AsyncClientSession, channel: str = "amqp", actor_role: str | None = None
    ) -> None:
        """Append to the audit trail; the event id is the key, so a replay raises DuplicateKeyError."""
        await self.events.insert_one(audit_row(event, channel, actor_role), session=session)

    async def create_assignment(self, record: dict[str, Any], session: AsyncClientSession) -> None:
        await self.assignments.update_one(
            {"_id": record["_id"]}, {"$setOnInsert": record}, upsert=True, session=session
        )

    async def upsert_plan(self, record: dict[str, Any], session: AsyncClientSession) -> None:
        await self.plans.update_one({"_id": record["_id"]}, {"$set": record}, upsert=True, session=session)

    async def cancel_assignment(self, assignment_id: str, reason: str, session: AsyncClientSession) -> bool:
        """False when the assignment is not recorded yet."""
        result = await self.assignments.update_one(
            {"_id": assignment_id},
            {"$set": {"state": "cancelled", "cancel_reason": reason}, "$inc": {"version": 1}},
            session=session,
        )
        return result.matched_count == 1

    async def revise_task(self, assignment_id: str, task: str, plan_version: int, session: AsyncClientSession) -> bool:
        """False when the assignment is not recorded yet. A revision older than the one applied changes nothing
        (corrections can arrive out of order); the history keeps every revision either way."""
        result = await self.assignments.update_one(
            {
                "_id": assignment_id,
                "$or": [{"task_revision": {"$exists": False}}, {"task_revision": {"$lt": plan_version}}],
            },
            {"$set": {"task": task, "task_revision": plan_version}, "$inc": {"version": 1}},
            session=session,
        )
        if result.matched_count == 1:
            return True
        return await self.assignments.count_documents({"_id": assignment_id}, limit=1, session=session) > 0

    async def move_deadline(
        self, assignment_id: str, period: str, due_at: datetime, session: AsyncClientSession
    ) -> bool:
        """False when the assignment (or its period) is not recorded yet."""
        result = await self.assignments.update_one(
            {"_id": assignment_id, f"periods.{period}": {"$exists": True}},
            {"$set": {f"periods.{period}.due_at": due_at}, "$inc": {"version": 1}},
            session=session,
        )
        return result.matched_count == 1

    async def get_assignment(
        self, assignment_id: str, session: AsyncClientSession | None = None
    ) -> dict[str, Any] | None:
        return await self.assignments.find_one({"_id": assignment_id}, session=session)

    async def update_assignment(
        self, assignment: dict[str, Any], update: dict[str, Any], session: AsyncClientSession
    ) -> bool:
        """Apply `update` if nobody changed the assignment since it was read."""
        update = {**update, "$inc": {"version": 1}}
        result = await self.assignments.update_one(
            {"_id": assignment["_id"], "version": assignment["version"]}, update, session=session
        )
        return result.modified_count == 1

    async def plan(self, plan_id: str) -> dict[str, Any] | None:
        return await self.plans.find_one({"_id": plan_id})

    async def plan_assignments(self, plan_id: str) -> list[dict[str, Any]]:
        return await self.assignments.find({"plan_id": plan_id}).sort("_id", ASCENDING).to_list()

    async def agency_assignments(
        self, agency_code: str, state: str | None, period: str | None, skip: int, limit: int
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"agency.code": agency_code}
        if state:
            query["state"] = state
        if period:
            query["period_keys"] = period
        cursor = self.assignments.find(query).sort("_id", ASCENDING).skip(skip).limit(limit)
        return await cursor.to_list()

    async def history(self, assignment_id: str) -> list[dict[str, Any]]:
        cursor = self.events.find({"assignment_id": assignment_id}, {"data": 0}).sort("occurred_at", ASCENDING)
        return await cursor.to_list()
