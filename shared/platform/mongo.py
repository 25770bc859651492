"""MongoDB through PyMongo's asyncio API (AsyncMongoClient), with a transaction helper."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    ConnectionFailure,
    NetworkTimeout,
    ServerSelectionTimeoutError,
)

T = TypeVar("T")
DUPLICATE_KEY = 11000

# Failures that say "the database is not there right now", as opposed to "this write is wrong".
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    AutoReconnect,
    ConnectionFailure,
    NetworkTimeout,
    ServerSelectionTimeoutError,
)


def make_client(url: str) -> AsyncMongoClient[dict[str, Any]]:
    # A message is acked once its write is acknowledged, so the acknowledgement must mean durable: journaled
    # (and on a replica set, on a majority). The driver's default (w:1, unjournaled on a standalone server or
    # the stand-in) acknowledged writes that a SIGKILLed server then lost (tests/chaos, scenario 5).
    # connectTimeoutMS is also how long the driver's monitor waits for its heartbeat (`hello`); a heartbeat
    # that times out marks the server unknown and cancels every operation in flight on its pool. The stand-in
    # answers one command at a time, so behind a large bulk write on a loaded machine a heartbeat waited more
    # than the 5 s this was: each batch in flight failed with "operation cancelled" and went one by one, which
    # loaded the database more (docs/performance.md). The driver's default, 20 s, rides that out; a server that
    # is down refuses connections at once, and server selection still gives up after 5 s.
    return AsyncMongoClient(
        url, tz_aware=True, serverSelectionTimeoutMS=5000, connectTimeoutMS=20_000, w="majority", journal=True
    )


async def in_transaction(
    client: AsyncMongoClient[dict[str, Any]], work: Callable[[AsyncClientSession], Awaitable[T]]
) -> T:
    """Run `work` in one multi-document transaction, retried by the driver on transient conflicts."""
    async with client.start_session() as session:
        return await session.with_transaction(work)


async def in_one_transaction(
    client: AsyncMongoClient[dict[str, Any]], work: Callable[[AsyncClientSession], Awaitable[T]]
) -> T:
    """One attempt at a transaction, for a caller with a cheaper way out than retrying (a batch that falls back
    to its messages one by one). `with_transaction` retries a transient abort for up to 120 s: under a
    burst the MongoDB-wire stand-in aborted every batch of the notifier's bulk projection (NoSuchTransaction),
    and each batch spent those 120 s before falling back (fan-out of 10,000 cells: 9.5 minutes)."""
    async with client.start_session() as session:
        async with await session.start_transaction():
            return await work(session)


async def ping(client: AsyncMongoClient[dict[str, Any]]) -> bool:
    try:
        await client.admin.command("ping")
    except Exception:  # noqa: BLE001 - readiness reports any failure as "not ready"
        return False
    return True


def only_duplicates(error: BulkWriteError) -> set[int]:
    """The indexes of the operations a bulk write refused for a duplicate key; `error` itself when anything else
    failed, or when the write concern was not met (then nothing is known to be durable)."""
    details = error.details or {}
    errors = details.get("writeErrors", [])
    if details.get("writeConcernErrors") or any(e.get("code") != DUPLICATE_KEY for e in errors):
        raise error
    return {int(e["index"]) for e in errors}


async def insert_new(
    collection: AsyncCollection[dict[str, Any]],
    rows: Sequence[dict[str, Any]],
    session: AsyncClientSession | None = None,
) -> set[int]:
    """Insert the rows in one write, leaving those already there (by a unique key) as they are; returns the
    indexes of those. Every "insert unless it is there" goes through here, so a duplicate means one thing."""
    if not rows:
        return set()
    try:
        await collection.insert_many(rows, ordered=False, session=session)
    except BulkWriteError as exc:
        return only_duplicates(exc)
    return set()
