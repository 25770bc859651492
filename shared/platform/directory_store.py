"""The agency directory as a service keeps it in its own database, so that changes made over HTTP outlive a
restart and reach every replica.

One document per agency, per group and per declared agency kind (`agency:<code>`, `group:<code>`,
`kind:<code>`), each stamped with the directory version that last changed it; a removed entry stays as a
tombstone with its version, so an older change that arrives late cannot bring it back. One `directory_meta`
document holds the current version.

The deployment's YAML file seeds the database on the first start (version 0); from then on the database is
the directory. Intake changes it and publishes each change as a `directory.updated` event; the notifier
applies those events to its own copy with the same code. Every replica reloads when the version moves.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import structlog
from pymongo import UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from shared.contracts.events import Agency, DirectoryUpdated, Group
from shared.domain.directory import Directory
from shared.platform.mongo import insert_new, only_duplicates

log = structlog.get_logger()

META_ID = "directory"


def _entry_id(kind: str, code: str) -> str:
    return f"{kind}:{code}"


def changes_between(before: Directory, after: Directory) -> dict[str, Any]:
    """The fields of a `DirectoryUpdated` that turn `before` into `after`: what was added or changed, and what went."""
    return {
        "agencies": [a for code, a in sorted(after.agencies.items()) if before.agencies.get(code) != a],
        "groups": [g for code, g in sorted(after.groups.items()) if before.groups.get(code) != g],
        "removed_agencies": sorted(before.agencies.keys() - after.agencies.keys()),
        "removed_groups": sorted(before.groups.keys() - after.groups.keys()),
        "kinds": {k: name for k, name in after.declared_kinds.items() if before.declared_kinds.get(k) != name},
    }


def _kind_row(code: str, name: str) -> dict[str, str]:
    return {"code": code, "name": name}


class DirectoryStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._entries = db["directory_entries"]
        self._meta = db["directory_meta"]

    async def version(self, session: AsyncClientSession | None = None) -> int | None:
        """The stored directory's version; None before the first seed."""
        meta = await self._meta.find_one({"_id": META_ID}, {"version": 1}, session=session)
        return None if meta is None else int(meta["version"])

    async def seed(self, directory: Directory, source: str, now: datetime) -> bool:
        """Store `directory` as version 0 if nothing is stored yet. Replicas starting together: the first
        meta insert wins, the others find it there. Returns whether this call seeded."""
        if await self.version() is not None:
            return False
        rows = [self._row("agency", a.code, a.model_dump(mode="json"), 0) for a in directory.agencies.values()]
        rows += [self._row("group", g.code, g.model_dump(mode="json"), 0) for g in directory.groups.values()]
        rows += [self._row("kind", k, _kind_row(k, name), 0) for k, name in directory.declared_kinds.items()]
        if rows:
            # Entries first, then the meta document: a replica killed half-way seeds again on its next start
            # (the upserts below make that harmless); the meta document is what says "seeded".
            await self._entries.bulk_write(
                [UpdateOne({"_id": r["_id"]}, {"$setOnInsert": r}, upsert=True) for r in rows], ordered=False
            )
        if await insert_new(self._meta, [{"_id": META_ID, "version": 0, "seeded_from": source, "updated_at": now}]):
            return False
        log.info(
            "agency directory seeded", source=source, agencies=len(directory.agencies), groups=len(directory.groups)
        )
        return True

    async def load(self) -> tuple[int, Directory]:
        """The stored directory and its version (read in one snapshot-free pass; the version read first, so a
        change landing meanwhile makes the holder reload again on its next check)."""
        version = await self.version()
        if version is None:
            raise LookupError("the agency directory has not been seeded")
        agencies: list[Agency] = []
        groups: list[Group] = []
        kinds: dict[str, str] = {}
        async for row in self._entries.find({"removed": False}, {"data": 1, "kind": 1}):
            if row["kind"] == "agency":
                agencies.append(Agency.model_validate(row["data"]))
            elif row["kind"] == "kind":
                kinds[row["data"]["code"]] = row["data"]["name"]
            else:
                groups.append(Group.model_validate(row["data"]))
        # Not strict: entries stored before a check existed must not stop the service (or the notifier's copy)
        # from loading; they are logged, and the next whole-directory change has to mend them.
        directory = Directory(agencies, groups, strict=False, kinds=kinds)
        if directory.problems:
            log.warning(
                "stored agency directory breaks the entry rules",
                version=version,
                problems=len(directory.problems),
                first=str(directory.problems[0]),
            )
        return version, directory

    async def claim_version(self, expected: int, changed_by: str, now: datetime, session: AsyncClientSession) -> bool:
        """Move the version from `expected` to the next one; False when someone else changed it first."""
        result = await self._meta.update_one(
            {"_id": META_ID, "version": expected},
            {"$set": {"version": expected + 1, "updated_at": now, "updated_by": changed_by}},
            session=session,
        )
        return result.modified_count == 1

    async def apply(self, change: DirectoryUpdated, session: AsyncClientSession | None = None) -> int:
        """Write `change` entry by entry, each only over an older version of itself; returns how many entries
        changed (0 for a change already applied, or overtaken by a newer one)."""
        version = change.version
        operations = [self._upsert("agency", a.code, a.model_dump(mode="json"), version) for a in change.agencies]
        operations += [self._upsert("group", g.code, g.model_dump(mode="json"), version) for g in change.groups]
        operations += [self._upsert("agency", code, None, version) for code in change.removed_agencies]
        operations += [self._upsert("group", code, None, version) for code in change.removed_groups]
        operations += [self._upsert("kind", k, _kind_row(k, name), version) for k, name in change.kinds.items()]
        changed = 0
        if operations:
            try:
                result = await self._entries.bulk_write(operations, ordered=False, session=session)
                changed = result.upserted_count + result.modified_count
            except BulkWriteError as exc:
                only_duplicates(exc)  # a duplicate key is an entry already at this version or newer: nothing to do
                changed = exc.details.get("nUpserted", 0) + exc.details.get("nModified", 0)
        if change.complete:
            named = [_entry_id("agency", a.code) for a in change.agencies]
            named += [_entry_id("group", g.code) for g in change.groups]
            named += [_entry_id("kind", k) for k in change.kinds]
            gone = await self._entries.update_many(
                {"_id": {"$nin": named}, "version": {"$lt": version}, "removed": False},
                {"$set": {"removed": True, "version": version}},
                session=session,
            )
            changed += gone.modified_count
        await self._meta.update_one(
            {"_id": META_ID},
            {"$max": {"version": version}, "$set": {"updated_at": change.occurred_at}},
            upsert=True,
            session=session,
        )
        return changed

    @staticmethod
    def _row(kind: str, code: str, data: dict[str, Any] | None, version: int) -> dict[str, Any]:
        return {"_id": _entry_id(kind, code), "kind": kind, "data": data, "removed": data is None, "version": version}

    def _upsert(self, kind: str, code: str, data: dict[str, Any] | None, version: int) -> UpdateOne:
        row = self._row(kind, code, data, version)
        fields = {k: v for k, v in row.items() if k != "_id"}
        if data is None:
            fields.pop("data")  # a tombstone keeps the last description, for the record
        return UpdateOne({"_id": row["_id"], "version": {"$lt": version}}, {"$set": fields}, upsert=True)


class DirectoryHolder:
    """The directory a replica works with, reloaded from its store whenever the stored version moves."""

    def __init__(self, store: DirectoryStore, directory: Directory, version: int = -1) -> None:
        self.store = store
        self.directory = directory
        self.version = version

    async def start(self, source: str, now: datetime) -> None:
        """Seed the store from the directory held now (the deployment's file) on the very first start, then
        load what is stored. The file's copy is dropped then: with 10,000 agencies, keeping both took intake
        past 200 MB."""
        await self.store.seed(self.directory, source, now)
        await self.refresh()

    def replace(self, version: int, directory: Directory) -> None:
        if version > self.version:
            self.version, self.directory = version, directory

    async def refresh(self) -> bool:
        """Reload when the stored version differs from the one held; returns whether it reloaded."""
        stored = await self.store.version()
        if stored is None or stored == self.version:
            return False
        version, directory = await self.store.load()
        self.version, self.directory = version, directory
        log.info(
            "agency directory loaded", version=version, agencies=len(directory.agencies), groups=len(directory.groups)
        )
        return True

    async def follow(self, interval_seconds: float) -> None:
        """Keep up with changes other replicas (or events) made; a failed check is retried next time."""
        while True:
            await asyncio.sleep(interval_seconds)
            try:
                await self.refresh()
            except Exception:  # noqa: BLE001 - the database may be away for a while; keep the last directory
                log.warning("agency directory refresh failed", exc_info=True)
