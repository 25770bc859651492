"""The notifier's bulk projection against the one-by-one path on the real database: a batch of events makes
the same periods as the same events one at a time, and a batch holding an event seen before is refused whole
(its messages then go one by one, where that event is a duplicate)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.errors import BulkWriteError

from services.notifier.bulk import ProjectionInBulk
from shared.contracts.events import AssignmentAcknowledged, Event, ReportSubmitted
from shared.domain.clock import FakeClock
from shared.platform.deliveries import Outcome
from tests.integration.notifier_harness import created, notifier

START = datetime(2027, 3, 1, 1, 0, tzinfo=UTC)


def events() -> list[Event]:
    due = START + timedelta(days=20)
    made = [created(agency, due, START) for agency in ("ubnd", "chi-bo-khu-1", "chi-bo-khu-2")]
    acked, reported = made[0], made[1]
    later = START + timedelta(hours=2)
    return [
        *made,
        AssignmentAcknowledged(
            occurred_at=later,
            correlation_id=acked.plan_id,
            agency=acked.agency,
            actor=acked.agency,
            assignment_id=acked.assignment_id,
            plan_id=acked.plan_id,
        ),
        ReportSubmitted(
            occurred_at=later,
            correlation_id=reported.plan_id,
            agency=reported.agency,
            actor=reported.agency,
            assignment_id=reported.assignment_id,
            plan_id=reported.plan_id,
            period="2026-FY",
            submitted_at=later,
            due_at=due,
            late_by_seconds=0,
            revision=1,
        ),
    ]


async def periods(repository: Any) -> list[dict[str, Any]]:
    return await repository.periods.find({}).sort("_id", 1).to_list()


async def test_a_batch_projects_what_the_same_events_one_by_one_do(mongo_url, database_name) -> None:
    batch = events()
    clock = FakeClock(START)
    async with (
        notifier(mongo_url, database_name, clock) as alone,
        notifier(mongo_url, f"{database_name}_bulk", clock) as together,
    ):
        for event in batch:
            assert await alone.projector(event) == Outcome.PROCESSED
        bulk = ProjectionInBulk(together.use_cases.uow, together.repository, together.rules)
        assert all(bulk.accepts(event) for event in batch)
        assert await bulk(batch) == [Outcome.PROCESSED] * len(batch)

        one_by_one, in_bulk = await periods(alone.repository), await periods(together.repository)
        assert len(one_by_one) == 6  # three acknowledgement windows, three report periods
        assert in_bulk == one_by_one
        states = {p["_id"]: p["state"] for p in in_bulk}
        assert sorted(states.values()) == ["acknowledged", "open", "open", "open", "open", "submitted"]
        assert await together.repository.processed.count_documents({}) == len(batch)

        # Redelivered: the whole batch is refused and nothing changes; alone, each event is a duplicate.
        with pytest.raises(BulkWriteError):
            await bulk([batch[-1], *events()[:1]])
        assert await periods(together.repository) == in_bulk
        assert await together.projector(batch[-1]) == Outcome.DUPLICATE
