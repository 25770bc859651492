"""The four-state gauge reads every assignment: in bounded batches (memory), and never more than a twentieth
of the time (the database)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.tracking import status_metrics
from shared.domain.clock import FakeClock

pytestmark = pytest.mark.unit


class _Cursor:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self._rows = iter(rows)

    def __aiter__(self) -> _Cursor:
        return self

    async def __anext__(self) -> dict[str, Any]:
        try:
            return next(self._rows)
        except StopIteration:
            raise StopAsyncIteration from None


class _Assignments:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.finds: list[dict[str, Any]] = []

    def find(self, filter: dict[str, Any], projection: dict[str, int], **options: Any) -> _Cursor:  # noqa: A002
        self.finds.append(options)
        return _Cursor(self.rows)


class _Repository:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.assignments = _Assignments(rows)


async def test_the_pass_asks_for_bounded_batches_and_counts_every_period() -> None:
    period = {"due_at": datetime(2027, 6, 30, tzinfo=UTC), "reports": []}
    rows = [{"agency": {"kind": "party_cell"}, "state": "assigned", "periods": {"2027-H1": period}}] * 3
    repository = _Repository(rows)
    counts = await status_metrics.refresh(repository, FakeClock(datetime(2027, 1, 1, tzinfo=UTC)))  # type: ignore[arg-type]
    assert sum(counts.values()) == 3
    assert repository.assignments.finds == [{"batch_size": status_metrics.STREAM_BATCH}]


def test_a_slow_pass_waits_longer_than_the_interval() -> None:
    assert status_metrics.next_pass_after(60, 1) == 60  # a 1 s pass every minute: under a twentieth
    assert status_metrics.next_pass_after(60, 6) == pytest.approx(114)  # 6 s of every 120 s
    assert status_metrics.next_pass_after(0.5, 0) == 0.5
