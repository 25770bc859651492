"""MongoDB through PyMongo's asyncio API (AsyncMongoClient), with a transaction helper."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import AutoReconnect, ConnectionFailure, NetworkTimeout, ServerSelectionTimeoutError

T = TypeVar("T")

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
    return AsyncMongoClient(
        url, tz_aware=True, serverSelectionTimeoutMS=5000, connectTimeoutMS=5000, w="majority", journal=True
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
