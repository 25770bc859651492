"""Write what arrives together together: messages taken concurrently from a queue (up to the channel's
prefetch) are handed to a batch handler in groups, so one bulk write serves many messages. Each message
is still acked on its own, after the bulk write that covers it returned.

At most `max_writes` bulk writes are in flight: what arrives while they run waits and goes into the next
batch (group commit). Without the bound, a steady stream made many small concurrent writes, and the
database's cost is per write as much as per document (docs/performance.md, row 1).

Every batch is counted in `dondoc_batch_writes_total` by outcome: `written`, or `failed` (its messages then
take the one-by-one path, a batch's worth of single writes)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import structlog
from prometheus_client import Counter

if TYPE_CHECKING:
    from shared.platform.deliveries import Message, Outcome


log = structlog.get_logger()

BATCH_WRITES = Counter(
    "dondoc_batch_writes_total",
    "Bulk writes of consumers' batch paths, by outcome (written, failed).",
    ["service", "outcome"],
)
BATCHED_MESSAGES = Counter(
    "dondoc_batched_messages_total", "Messages in those bulk writes, by the write's outcome.", ["service", "outcome"]
)


class ProcessAlone(Exception):
    """Given by a batch handler in place of an outcome: this message takes the one-by-one path instead."""


class BatchHandler(Protocol):
    def accepts(self, message: Message) -> bool:
        """Whether this message may go through the batch path."""
        ...

    async def __call__(self, messages: list[Message]) -> Sequence[Outcome | Exception]:
        """Process the messages together; one outcome per message, in order. An exception in place of an
        outcome sends that message alone to the one-by-one path (which classifies its error)."""
        ...


class Batcher:
    def __init__(
        self,
        handler: BatchHandler,
        max_size: int = 256,
        window_seconds: float = 0.005,
        max_writes: int = 2,
        service: str = "",
    ) -> None:
        self.handler = handler
        self._max_size = max_size
        self._window = window_seconds
        self._max_writes = max_writes
        self._service = service
        self._pending: list[tuple[Message, asyncio.Future[Outcome]]] = []
        self._timer: asyncio.Task[None] | None = None
        self._flushes: set[asyncio.Task[None]] = set()

    def accepts(self, message: Message) -> bool:
        return self.handler.accepts(message)

    async def submit(self, message: Message) -> Outcome:
        """Wait for the batch that carries `message` to be written; raises what the batch raised."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._pending.append((message, future))
        if len(self._pending) >= self._max_size:
            self._flush_now()
        elif self._timer is None:
            self._timer = asyncio.create_task(self._flush_after_window())
        return await future

    async def _flush_after_window(self) -> None:
        await asyncio.sleep(self._window)
        self._timer = None
        self._flush_now()

    def _flush_now(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._pending and len(self._flushes) < self._max_writes:
            batch, self._pending = self._pending[: self._max_size], self._pending[self._max_size :]
            task = asyncio.create_task(self._write(batch))
            self._flushes.add(task)
            task.add_done_callback(self._written)

    def _written(self, task: asyncio.Task[None]) -> None:
        self._flushes.discard(task)
        if self._pending and self._timer is None:
            self._flush_now()  # what gathered while the writes ran is the next batch

    async def _write(self, batch: list[tuple[Message, asyncio.Future[Outcome]]]) -> None:
        try:
            outcomes = await self.handler([message for message, _ in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError(f"batch handler returned {len(outcomes)} outcomes for {len(batch)} messages")
        except BaseException as exc:  # every waiter must hear of it, even on cancellation
            self._count("failed", len(batch))
            # Once for the batch (each waiter then goes one by one, where a message's own error is logged).
            log.info("batch write failed; its messages go one by one", messages=len(batch), error=repr(exc)[:500])
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("batch cancelled"))
            if not isinstance(exc, Exception):
                raise
            return
        self._count("written", len(batch))
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    def _count(self, outcome: str, size: int) -> None:
        BATCH_WRITES.labels(self._service, outcome).inc()
        BATCHED_MESSAGES.labels(self._service, outcome).inc(size)
