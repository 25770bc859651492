"""In-memory fakes for unit tests of the use cases (in the manner of cosmicpython's handler tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TypeVar

from shared.contracts.events import Event
from shared.platform.unit_of_work import Transaction

T = TypeVar("T")


class FakeUnitOfWork:
    """Commits by keeping the events; a failing use case leaves `published` as it was. The fake repositories
    a test gives the use case keep their own state and ignore `tx.session` (None here)."""

    def __init__(self) -> None:
        self.published: list[Event] = []
        self.commits = 0

    async def run(self, work: Callable[[Transaction], Awaitable[T]]) -> T:
        tx = Transaction(session=None)
        result = await work(tx)
        self._commit(tx)
        return result

    def attempt(self) -> AbstractAsyncContextManager[Transaction]:
        return self._attempt()

    @asynccontextmanager
    async def _attempt(self) -> AsyncIterator[Transaction]:
        tx = Transaction(session=None)
        yield tx
        self._commit(tx)

    def _commit(self, tx: Transaction) -> None:
        self.published.extend(tx.events)
        self.commits += 1
