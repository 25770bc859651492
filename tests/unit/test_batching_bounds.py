"""The batcher keeps a bounded number of bulk writes in flight (what arrives meanwhile is the next batch), counts
its batches by outcome, and a batch handler can send one message back to the one-by-one path without failing
the others."""

from __future__ import annotations

import asyncio

import pytest

from shared.platform.batching import BATCH_WRITES, BATCHED_MESSAGES, Batcher, ProcessAlone
from shared.platform.deliveries import Outcome


class Slow:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.release = asyncio.Event()

    def accepts(self, message) -> bool:  # type: ignore[no-untyped-def]
        return True

    async def __call__(self, messages):  # type: ignore[no-untyped-def]
        self.calls.append(list(messages))
        await self.release.wait()
        return [ProcessAlone() if m == "odd" else Outcome.PROCESSED for m in messages]


async def test_what_arrives_while_the_writes_run_becomes_one_next_batch() -> None:
    handler = Slow()
    batcher = Batcher(handler, max_size=100, window_seconds=0.001, max_writes=1)
    first = asyncio.ensure_future(batcher.submit("a"))  # type: ignore[arg-type]
    await asyncio.sleep(0.01)
    later = [asyncio.ensure_future(batcher.submit(m)) for m in ["b", "c", "d"]]  # type: ignore[arg-type]
    await asyncio.sleep(0.01)
    assert handler.calls == [["a"]], "a second write started while the first was in flight"
    handler.release.set()
    assert await asyncio.gather(first, *later) == [Outcome.PROCESSED] * 4
    assert handler.calls == [["a"], ["b", "c", "d"]]


async def test_batches_are_counted_by_outcome() -> None:
    def count(metric, outcome: str) -> float:  # type: ignore[no-untyped-def]
        return metric.labels("counted", outcome)._value.get()  # noqa: SLF001

    class Failing(Slow):
        async def __call__(self, messages):  # type: ignore[no-untyped-def]
            raise ConnectionError("database gone")

    handler = Slow()
    handler.release.set()
    written = Batcher(handler, max_size=10, window_seconds=0.001, service="counted")
    await asyncio.gather(*(written.submit(m) for m in "abc"))  # type: ignore[arg-type]
    failing = Batcher(Failing(), max_size=10, window_seconds=0.001, service="counted")
    await asyncio.gather(*(failing.submit(m) for m in "de"), return_exceptions=True)  # type: ignore[arg-type]
    assert (count(BATCH_WRITES, "written"), count(BATCHED_MESSAGES, "written")) == (1, 3)
    assert (count(BATCH_WRITES, "failed"), count(BATCHED_MESSAGES, "failed")) == (1, 2)


async def test_one_message_sent_back_alone_does_not_fail_the_batch() -> None:
    handler = Slow()
    handler.release.set()
    batcher = Batcher(handler, max_size=10, window_seconds=0.001)
    results = await asyncio.gather(
        *(batcher.submit(m) for m in ["a", "odd", "b"]),
        return_exceptions=True,  # type: ignore[arg-type]
    )
    assert results[0] == Outcome.PROCESSED and results[2] == Outcome.PROCESSED
    assert isinstance(results[1], ProcessAlone)
    with pytest.raises(ProcessAlone):
        await batcher.submit("odd")  # type: ignore[arg-type]
