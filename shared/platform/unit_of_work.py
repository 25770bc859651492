"""The unit of work: one transaction holding a change and the events it causes.

    result = await uow.run(work)          # work(tx) runs in a transaction; retried whole on a transient abort
    async with uow.attempt() as tx:       # one attempt, for a caller with a cheaper way out than retrying
        ...

Inside, `tx.session` is the database session every write of the change must use, and `tx.publish(*events)`
collects the events to send. Leaving commits the change and the events' outbox rows together (nothing is
published that was not stored, nothing stored is lost), then wakes the relay. An exception aborts both.
Use cases receive a `UnitOfWork` and never open a transaction or touch the outbox themselves; unit tests
give them `FakeUnitOfWork` (tests/fakes.py), which commits by keeping the events in a list.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession

from shared.contracts.events import Event
from shared.platform.outbox_writer import OutboxWriter

T = TypeVar("T")


@dataclass
class Transaction:
    """What a use case sees of its unit of work: the session to write with, and the events to publish."""

    session: AsyncClientSession | None
    events: list[Event] = field(default_factory=list)

    def publish(self, *events: Event) -> None:
        self.events.extend(events)


class UnitOfWork(Protocol):
    async def run(self, work: Callable[[Transaction], Awaitable[T]]) -> T: ...

    def attempt(self) -> AbstractAsyncContextManager[Transaction]: ...


class MongoUnitOfWork:
    """The unit of work on MongoDB: a multi-document transaction, the outbox written in it, the relay woken."""

    def __init__(
        self, client: AsyncMongoClient[dict[str, Any]], outbox: OutboxWriter, wake: Callable[[], None]
    ) -> None:
        self._client = client
        self._outbox = outbox
        self._wake = wake

    async def run(self, work: Callable[[Transaction], Awaitable[T]]) -> T:
        """Run `work` in one transaction. The driver retries the whole of it on a transient conflict (for up to
        120 s) and the commit when its outcome is unknown, so `work` must not keep state between attempts."""
        published: list[Event] = []

        async def attempt(session: AsyncClientSession) -> T:
            tx = Transaction(session)
            result = await work(tx)
            await self._outbox.add(tx.events, session)
            published[:] = tx.events
            return result

        async with self._client.start_session() as session:
            result = await session.with_transaction(attempt)
        if published:
            self._wake()
        return result

    def attempt(self) -> AbstractAsyncContextManager[Transaction]:
        return self._one_attempt()

    @asynccontextmanager
    async def _one_attempt(self) -> AsyncIterator[Transaction]:
        async with self._client.start_session() as session:
            async with await session.start_transaction():
                tx = Transaction(session)
                yield tx
                await self._outbox.add(tx.events, session)
        if tx.events:
            self._wake()
