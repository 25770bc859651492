"""The batcher groups concurrent messages into one bulk call and tells every waiter how it went."""

from __future__ import annotations

import asyncio

import pytest

from shared.platform.batching import Batcher
from shared.platform.deliveries import Outcome


class Recorder:
    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail_on = fail_on

    def accepts(self, message) -> bool:  # type: ignore[no-untyped-def]
        return True

    async def __call__(self, messages):  # type: ignore[no-untyped-def]
        self.calls.append(list(messages))
        if self.fail_on in messages:
            raise RuntimeError("bulk write refused")
        return [Outcome.DUPLICATE if m.startswith("dup") else Outcome.PROCESSED for m in messages]


async def test_concurrent_messages_share_one_bulk_call_and_each_gets_its_own_outcome() -> None:
    handler = Recorder()
    batcher = Batcher(handler, max_size=100, window_seconds=0.01)
    outcomes = await asyncio.gather(*(batcher.submit(m) for m in ["a", "dup-b", "c"]))  # type: ignore[arg-type]
    assert handler.calls == [["a", "dup-b", "c"]]
    assert outcomes == [Outcome.PROCESSED, Outcome.DUPLICATE, Outcome.PROCESSED]


async def test_a_full_batch_is_written_at_once_and_the_rest_waits_for_the_window() -> None:
    handler = Recorder()
    batcher = Batcher(handler, max_size=2, window_seconds=0.01)
    await asyncio.gather(*(batcher.submit(m) for m in ["a", "b", "c"]))  # type: ignore[arg-type]
    assert handler.calls == [["a", "b"], ["c"]]


async def test_a_failed_batch_fails_every_waiter() -> None:
    batcher = Batcher(Recorder(fail_on="poison"), max_size=10, window_seconds=0.01)
    results = await asyncio.gather(
        *(batcher.submit(m) for m in ["a", "poison"]),
        return_exceptions=True,  # type: ignore[arg-type]
    )
    assert all(isinstance(r, RuntimeError) for r in results)
    with pytest.raises(RuntimeError, match="bulk write refused"):
        await batcher.submit("poison")  # type: ignore[arg-type]
