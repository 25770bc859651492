"""Tracking's bulk path for acknowledgements (`AcknowledgementsInBulk`) on the real database: a burst is written
in a few `update_many` (one per chunk of assignments read at the same version), each assignment still guarded
by its version and marked with its own event id, exactly as one `update_one` each would be."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.tracking import domain
from services.tracking.consumers import AcknowledgementsInBulk
from services.tracking.repository import TrackingRepository
from shared.contracts.commands import AcknowledgeAssignment
from shared.contracts.events import AgencyRef
from shared.domain.clock import FakeClock
from shared.platform import tracing
from shared.platform.batching import ProcessAlone
from shared.platform.deliveries import Outcome
from shared.platform.mongo import make_client
from shared.platform.outbox_writer import OutboxWriter
from tests.integration.test_tracking_consumer import assignment_created


class ChangedMeanwhile:
    """The assignments collection, but one assignment changes (its version moves on) just before the first
    `update_many` of the bulk path: as if an HTTP request had changed it between the bulk path's read and write."""

    def __init__(self, assignments: Any, assignment_id: str) -> None:
        self._assignments = assignments
        self._assignment_id = assignment_id
        self.update_many_calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._assignments, name)

    async def update_many(self, *args: Any, **kwargs: Any) -> Any:
        if self.update_many_calls == 0:
            await self._assignments.update_one({"_id": self._assignment_id}, {"$inc": {"version": 1}})
        self.update_many_calls += 1
        return await self._assignments.update_many(*args, **kwargs)


def cell(index: int) -> AgencyRef:
    return AgencyRef(code=f"chi-bo-{index:02d}", kind="party_cell", name=f"Chi bộ khu phố {index}")


async def test_a_burst_of_acknowledgements_is_written_per_chunk_and_version_each_guarded_and_marked(
    mongo_url: str, database_name: str
) -> None:
    client = make_client(mongo_url)
    try:
        repo = TrackingRepository(client[database_name])
        await repo.ensure_indexes()
        clock = FakeClock(datetime(2027, 2, 1, 8, 0, tzinfo=UTC))
        wakes: list[None] = []
        outbox = OutboxWriter(client[database_name], clock)  # the test never relays the outbox; it reads the rows
        handler = AcknowledgementsInBulk(repo, outbox, lambda: wakes.append(None), clock, agency_user_prefix="agency-")

        # 60 cells: 52 records at version 0, 8 revised once (version 1); two chunks of 25 and one of 2, and one.
        events = [assignment_created().model_copy(update={"agency": cell(i)}) for i in range(60)]
        records = [domain.new_assignment(e.model_dump(mode="python")) for e in events]
        for record in records[52:]:
            record["version"] = 1
        await repo.assignments.insert_many(records)
        before = {a["_id"]: a for a in await repo.assignments.find({}).to_list()}
        commands = [
            AcknowledgeAssignment(
                command_id=f"ack-{i}", assignment_id=e.assignment_id, broker_user_id=f"agency-{e.agency.code}"
            )
            for i, e in enumerate(events)
        ]
        foreign = AcknowledgeAssignment(
            command_id="ack-foreign", assignment_id=events[0].assignment_id, broker_user_id="agency-chi-bo-99"
        )  # not its assignment
        changed = events[5].assignment_id
        repo.assignments = ChangedMeanwhile(repo.assignments, changed)  # type: ignore[assignment]  # a wrapper that changes rows between read and write

        outcomes = await handler([*commands, foreign])

        assert repo.assignments.update_many_calls == 4  # 52 at version 0 in chunks of 25; 8 at version 1
        assert wakes  # the relay was told there is something to publish
        assert isinstance(outcomes[-1], ProcessAlone)  # the foreign actor: the one-by-one path refuses it
        assert isinstance(outcomes[5], ProcessAlone)  # changed meanwhile: its guard did not match
        assert outcomes[:5] + outcomes[6:60] == [Outcome.PROCESSED] * 59
        stored = {a["_id"]: a for a in await repo.assignments.find({}).to_list()}
        for i, (command, record) in enumerate(zip(commands, records, strict=True)):
            assignment = stored[record["_id"]]
            if i == 5:
                assert assignment["state"] == "assigned" and "acknowledged_event_id" not in assignment
                continue
            assert assignment["state"] == "acknowledged"
            assert assignment["version"] == record["version"] + 1
            assert assignment["acknowledged_event_id"] == command.event_id(f"chi-bo-{i:02d}")
            assert assignment["acknowledged_at"].replace(tzinfo=UTC) == clock.now()
            moved = ("state", "version", "acknowledged_event_id", "acknowledged_at")
            assert {k: v for k, v in assignment.items() if k not in moved} == {
                k: v for k, v in before[record["_id"]].items() if k not in moved
            }  # nothing else changed
        facts = await client[database_name]["outbox"].find({"event_type": "assignment.acknowledged"}).to_list()
        audit = await repo.events.find({"event_type": "assignment.acknowledged"}).to_list()
        expected = sorted(c.event_id(f"chi-bo-{i:02d}") for i, c in enumerate(commands) if i != 5)
        assert sorted(f["_id"] for f in facts) == sorted(a["_id"] for a in audit) == expected

        # The same burst redelivered: every command already applied is a duplicate and writes nothing again; the
        # one whose guard failed is applied now.
        again = await handler(commands)
        assert again[5] == Outcome.PROCESSED
        assert [o for i, o in enumerate(again) if i != 5] == [Outcome.DUPLICATE] * 59
        versions = {a["_id"]: a["version"] for a in await repo.assignments.find({}).to_list()}
        assert versions.pop(changed) == 2  # the change meanwhile, then the acknowledgement
        assert versions == {a["_id"]: a["version"] for a in stored.values() if a["_id"] != changed}
    finally:
        await client.close()


async def test_each_acknowledgement_of_a_burst_is_written_in_its_own_message_s_trace(
    mongo_url: str, database_name: str
) -> None:
    """With tracing on (the SDK's in-memory exporter): the batch is written while the last message's delivery runs,
    yet each fact's outbox row carries the trace of the command that caused it (docs/tracing.md)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    client = make_client(mongo_url)
    try:
        repo = TrackingRepository(client[database_name])
        await repo.ensure_indexes()
        clock = FakeClock(datetime(2027, 2, 1, 8, 0, tzinfo=UTC))
        outbox = OutboxWriter(client[database_name], clock)
        handler = AcknowledgementsInBulk(repo, outbox, lambda: None, clock, agency_user_prefix="agency-")
        events = [assignment_created().model_copy(update={"agency": cell(i)}) for i in range(3)]
        await repo.assignments.insert_many([domain.new_assignment(e.model_dump(mode="python")) for e in events])
        commands, traces = [], {}
        for i, e in enumerate(events):
            command = AcknowledgeAssignment(
                command_id=f"traced-{i}", assignment_id=e.assignment_id, broker_user_id=f"agency-{e.agency.code}"
            )
            with tracing.span("command.acknowledge process", kind=tracing.CONSUMER) as delivery:
                tracing.carry(command)  # what the consumer does with each message it parses
            assert delivery is not None
            traces[command.event_id(e.agency.code)] = delivery.get_span_context().trace_id
            commands.append(command)
        with tracing.span("command.acknowledge process", kind=tracing.CONSUMER) as flushing:
            assert await handler(commands) == [Outcome.PROCESSED] * 3
        assert flushing is not None
        rows = await client[database_name]["outbox"].find({"_id": {"$in": list(traces)}}).to_list()
        stored = {row["_id"]: int(row[tracing.TRACE_FIELD]["traceparent"].split("-")[1], 16) for row in rows}
        assert stored == traces and flushing.get_span_context().trace_id not in stored.values()
    finally:
        tracing.use(None)
        await client.close()
