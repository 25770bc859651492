"""`make bench`: the system against the raw limits of its own stack, measured in the same run, as one table
printed and written to docs/performance.md.

    .venv/bin/python benchmarks/run.py            # full: 50,000 / 10,000 cells / 100,000 acks / 1,000,000 periods
    .venv/bin/python benchmarks/run.py --quick    # about 3 minutes

Every throughput figure is a ratio to a ceiling measured minutes apart on the same broker and database:
the machine is shared, so absolute timings drift from run to run; the ratios drift less. No test asserts
on these numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pymongo import UpdateOne  # noqa: E402

from benchmarks import raw, stack  # noqa: E402
from deploy.local.infra import (  # noqa: E402
    DEFAULT_AMQP_URL,
    Processes,
    ensure_mongo,
    ensure_rabbitmq,
    free_port,
)
from services.notifier.domain import ACKNOWLEDGED, CANCELLED, acknowledgement_id  # noqa: E402
from services.notifier.repository import NotifierRepository  # noqa: E402
from services.tracking import domain  # noqa: E402
from services.tracking.repository import TrackingRepository  # noqa: E402
from shared.contracts.commands import AcknowledgeAssignment  # noqa: E402
from shared.contracts.events import AgencyRef, AssignmentCreated, ReportingDeadline  # noqa: E402
from shared.platform.mongo import make_client  # noqa: E402
from shared.platform.outbox import (  # noqa: E402
    ID_CHUNK,
    PENDING,
    PUBLISHED,
    PUBLISHED_ROWS,
    ensure_outbox_indexes,
    stored_rows,
)

ISSUER_REF = AgencyRef(code=stack.ISSUER, kind="office", name="Đảng ủy xã Thử Nghiệm")
DOC = ROOT / "docs" / "performance.md"


@dataclass
class Row:
    number: str
    measure: str
    system: str
    ceiling: str = ""
    ratio: str = ""
    target: str = ""
    met: str = ""


@dataclass
class Context:
    quick: bool
    mongo_url: str
    folder: Path
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    mongodb_version: str | None = None  # set when MONGO_URL named a real MongoDB; None: the run's own stand-in

    def say(self, text: str) -> None:
        sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {text}\n")
        sys.stderr.flush()


def verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


# ---------------------------------------------------------------------------------------------- documents


def assignment_event(plan: str, index: int, agency: AgencyRef) -> AssignmentCreated:
    return AssignmentCreated(
        correlation_id=plan,
        actor=ISSUER_REF,
        agency=agency,
        assignment_id=f"a{plan}{index:07d}",
        plan_id=plan,
        plan_number=f"{plan}-KH/ĐU",
        plan_title="Kế hoạch đo năng lực hệ thống",
        issuer=ISSUER_REF,
        task="Báo cáo kết quả triển khai kế hoạch ở đơn vị mình.",
        deadlines=[
            ReportingDeadline(
                period="2027-H1", due_at=datetime(2027, 6, 30, 16, 59, 59, tzinfo=UTC), wording="trước ngày 01 tháng 7"
            )
        ],
    )


def audit(doc: dict[str, Any]) -> dict[str, Any]:
    """The audit row tracking writes, from the decoded message (no contract models: the ceiling's way)."""
    return {
        "channel": "amqp",
        "actor_role": None,
        "_id": doc["event_id"],
        "event_type": doc["event_type"],
        "plan_id": doc["correlation_id"],
        "assignment_id": doc.get("assignment_id"),
        "occurred_at": doc["occurred_at"],
        "actor": doc.get("actor"),
        "data": doc,
    }


def tracking_writer(db: Any) -> raw.Writer:
    async def write(docs: list[dict[str, Any]]) -> None:
        upserts = [
            UpdateOne({"_id": r["_id"]}, {"$setOnInsert": r}, upsert=True)
            for r in (domain.new_assignment(d) for d in docs)
        ]
        await db.assignments.bulk_write(upserts, ordered=False)
        await db.events.insert_many([audit(d) for d in docs], ordered=False)

    return write


def notifier_writer(db: Any) -> raw.Writer:
    """What the notifier's projection writes for an assignment: the processed mark, the acknowledgement window
    and one row per reporting period (with its next check time)."""

    async def write(docs: list[dict[str, Any]]) -> None:
        await db.processed.insert_many(
            [{"_id": d["event_id"], "type": d["event_type"], "at": d["occurred_at"]} for d in docs], ordered=False
        )
        upserts = []
        for d in docs:
            base = {
                "assignment_id": d["assignment_id"],
                "plan_id": d["plan_id"],
                "agency": d["agency"],
                "state": "open",
                "rev": 0,
                "done": [],
            }
            upserts.append(
                UpdateOne(
                    {"_id": f"{d['assignment_id']}|ack"},
                    {"$setOnInsert": {**base, "track": "acknowledgement", "next_check_at": d["occurred_at"]}},
                    upsert=True,
                )
            )
            for deadline in d["deadlines"]:
                upserts.append(
                    UpdateOne(
                        {"_id": f"{d['assignment_id']}|{deadline['period']}"},
                        {
                            "$setOnInsert": {
                                **base,
                                "track": "report",
                                "due_at": deadline["due_at"],
                                "next_check_at": deadline["due_at"],
                            }
                        },
                        upsert=True,
                    )
                )
        await db.periods.bulk_write(upserts, ordered=False)

    return write


def acknowledgement_writer(db: Any) -> raw.Writer:
    """What an acknowledgement takes: read the assignments (owner, state), move them, append the audit rows
    and the outbox rows of the facts to publish."""

    async def write(docs: list[dict[str, Any]]) -> None:
        now = datetime.now(UTC)
        ids = [d["assignment_id"] for d in docs]
        found = {}
        for first in range(0, len(ids), 100):  # short `$in` lists: the stand-in's cost grows with their square
            found |= {
                a["_id"]: a
                for a in await db.assignments.find(
                    {"_id": {"$in": ids[first : first + 100]}}, {"agency": 1, "state": 1}
                ).to_list()
            }
        moving = [i for i in ids if i in found]
        for first in range(0, len(moving), 25):  # the cheapest way the stand-in moves many (see tracking's `_move`)
            await db.assignments.update_many(
                {"_id": {"$in": moving[first : first + 25]}, "state": "assigned"},
                {"$set": {"state": "acknowledged", "acknowledged_at": now}, "$inc": {"version": 1}},
            )
        rows = [
            {
                "_id": d["_message_id"],
                "event_type": "assignment.acknowledged",
                "assignment_id": d["assignment_id"],
                "occurred_at": now,
                "channel": "amqp",
                "data": d,
            }
            for d in docs
        ]
        await db.events.insert_many(rows, ordered=False)
        await db.outbox.insert_many([{**r, "status": "pending", "created_at": now} for r in rows], ordered=False)

    return write


def acknowledgement_relay(db: Any) -> raw.Relay:
    """What tracking's outbox relay does with the facts a batch of acknowledgements queued: read the rows, publish
    each (confirmed), copy them to `outbox_published` and delete them from the outbox, in
    shared/platform/outbox.py's chunks."""

    async def relay(publish: raw.Publish, docs: list[dict[str, Any]]) -> None:
        ids = [d["_message_id"] for d in docs]
        rows = []
        for first in range(0, len(ids), ID_CHUNK):
            rows += await db.outbox.find({"_id": {"$in": ids[first : first + ID_CHUNK]}, "status": PENDING}).to_list()
        await asyncio.gather(
            *(
                publish(
                    "assignment.acknowledged.party_cell.raw",
                    json.dumps(
                        {
                            "event_id": r["_id"],
                            "assignment_id": r["assignment_id"],
                            "occurred_at": r["occurred_at"].isoformat(),
                        }
                    ).encode(),
                    r["_id"],
                )
                for r in rows
            )
        )
        published_at = datetime.now(UTC)
        await db[PUBLISHED_ROWS].insert_many(
            [{**r, "status": PUBLISHED, "published_at": published_at} for r in rows], ordered=False
        )
        for first in range(0, len(ids), ID_CHUNK):
            await db.outbox.delete_many({"_id": {"$in": ids[first : first + ID_CHUNK]}})

    return relay


def acknowledgement_projection(db: Any) -> raw.Writer:
    """What the notifier writes for an acknowledgement's fact: its processed mark, and the acknowledgement window
    closed (an upsert: the window may not be known yet)."""

    notifier = NotifierRepository(db)  # its collections, written the raw way

    async def write(docs: list[dict[str, Any]]) -> None:
        at = {d["event_id"]: datetime.fromisoformat(d["occurred_at"]) for d in docs}
        await notifier.processed.insert_many(
            [{"_id": d["event_id"], "event_type": "assignment.acknowledged", "at": at[d["event_id"]]} for d in docs],
            ordered=False,
        )
        await notifier.periods.bulk_write(
            [
                UpdateOne(
                    {"_id": acknowledgement_id(d["assignment_id"]), "state": {"$ne": CANCELLED}},
                    {
                        "$set": {
                            "state": ACKNOWLEDGED,
                            "acknowledged_at": at[d["event_id"]],
                            "next_check_at": None,
                            "claimed_by": None,
                        }
                    },
                    upsert=True,
                )
                for d in docs
            ],
            ordered=False,
        )

    return write


# ---------------------------------------------------------------------------------------------- row 1


async def pipeline(ctx: Context, n: int) -> None:
    ctx.say(f"pipeline: {n:,} assignments, outbox relay -> tracking")
    vhost = stack.Vhost().create()
    services = stack.Services(ctx.folder / "pipeline", vhost.url, ctx.mongo_url, ctx.run_id + "p")
    client = raw.client(ctx.mongo_url)
    try:
        plan = f"p{ctx.run_id}"
        agencies = [AgencyRef(code=f"bench-cell-{i}", kind="party_cell", name=f"Chi bộ {i}") for i in range(500)]
        events = [assignment_event(plan, i, agencies[i % len(agencies)]) for i in range(n)]
        messages = [(e.routing_key(), e.model_dump_json().encode(), e.event_id) for e in events]

        ceiling_db = client[f"bench_raw_pipeline_{ctx.run_id}"]
        await TrackingRepository(ceiling_db).ensure_indexes()  # the same collections as the service's
        ctx.say("pipeline: raw ceiling")
        ceiling = await raw.raw_pipeline(vhost.url, messages, [raw.Sink(tracking_writer(ceiling_db))])
        await client.drop_database(ceiling_db.name)

        intake_db = client[services.database("intake")]
        tracking_db = client[services.database("tracking")]
        # The backlog waits behind a relay lease held by nobody running; letting it run out is one write, and the
        # relay takes the backlog over at its next pass (as after a leader's death). Releasing the rows themselves
        # (one update each) would charge the system the cost of a write the service never makes.
        await intake_db.outbox_relay.insert_one({"_id": "relay", "holder": "bench", "until": datetime(9999, 1, 1)})
        now = datetime.now(UTC)
        rows = [
            {
                "_id": e.event_id,
                "event_type": e.event_type,
                "routing_key": key,
                "correlation_id": plan,
                "body": body.decode(),
                "status": "pending",
                "created_at": now + timedelta(microseconds=i),
                "attempts": 0,
            }
            for i, ((key, body, _), e) in enumerate(zip(messages, events, strict=True))
        ]
        for first in range(0, n, 10_000):
            await intake_db.outbox.insert_many(rows[first : first + 10_000], ordered=False)
        del rows
        services.start("tracking")
        services.start("intake")
        ctx.say("pipeline: system")
        started = time.perf_counter()
        await intake_db.outbox_relay.update_one({"_id": "relay"}, {"$set": {"until": datetime(2000, 1, 1)}})
        finished = await raw.wait_for_count(
            lambda: services.recorded("tracking", "assignment.created"), n, 900, "tracking to record every assignment"
        )
        system = finished - started
        recorded = await tracking_db.events.count_documents({"event_type": "assignment.created"})
        if recorded != n:
            raise RuntimeError(f"tracking recorded {recorded} assignment.created events, expected {n}")
        ratio = ceiling.seconds / system
        ctx.rows.append(
            Row(
                "1",
                f"pipeline: {n:,} assignments, intake outbox relay → tracking records",
                f"{n / system:,.0f}/s ({system:.1f} s)",
                f"{n / ceiling.seconds:,.0f}/s ({ceiling.seconds:.1f} s)",
                f"{ratio:.2f}",
                "≥ 0.70",
                verdict(ratio >= 0.7),
            )
        )
    finally:
        services.stop()
        for name in ("intake", "tracking"):
            await client.drop_database(services.database(name))
        await client.close()
        vhost.delete()


# ---------------------------------------------------------------------------------------------- rows 2, 3, 4b, 5


async def fan_out_and_acknowledgements(ctx: Context, cells: int, acks: int) -> None:
    from deploy.local.smtp_sink import start_sink

    ctx.say(f"fan-out: a directory of {cells:,} party cells; three services")
    vhost = stack.Vhost().create()
    prefix = f"bench{ctx.run_id}-"
    agency_codes = [stack.cell_code(i) for i in range(1, 9)]
    users = vhost.add_agency_users([f"{prefix}{code}" for code in agency_codes])
    smtp_port = free_port()
    sink = start_sink(ctx.folder / "mail", port=smtp_port)
    directory = stack.write_directory(ctx.folder / "directory.yaml", cells)
    services = stack.Services(
        ctx.folder / "stack",
        vhost.url,
        ctx.mongo_url,
        ctx.run_id + "s",
        directory,
        {
            "NOTIFIER_SMTP_PORT": str(smtp_port),
            "NOTIFIER_SENDING_WINDOW": "always",
            "TRACKING_AGENCY_USER_PREFIX": prefix,
            "INTAKE_MAX_REQUEST_BYTES": str(64 * 1024 * 1024),
        },
    )
    client = raw.client(ctx.mongo_url)
    try:
        services.start("tracking")
        services.start("notifier")
        started = time.perf_counter()
        services.start("intake")
        intake_start = time.perf_counter() - started
        ctx.notes.append(
            f"intake start-up with {cells:,} agencies in the directory took {intake_start:.1f} s "
            f"(agency queues are declared by `dondoc agencies provision`, not at start-up)."
        )
        tracking_db = client[services.database("tracking")]
        notifier_db = client[services.database("notifier")]
        intake_db = client[services.database("intake")]

        plan = {
            "issuer": "Đảng ủy xã",
            "number": f"{ctx.run_id}-KH/ĐU",
            "title": "Kế hoạch toàn quốc (đo tải)",
            "assignments": [{"agency": stack.GROUP_NAME, "task": "Tổ chức quán triệt và báo cáo kết quả."}],
            "deadlines": [{"period": "2027-H1", "due": "2027-06-30", "wording": "trước ngày 01 tháng 7"}],
        }
        ctx.say("fan-out: system")
        started = time.perf_counter()
        async with httpx.AsyncClient(timeout=600) as http:
            response = await http.post(f"{services.url('intake')}/plans", json=plan, headers=stack.OPERATOR)
        if response.status_code != 201:
            raise RuntimeError(f"POST /plans answered {response.status_code}: {response.text[:500]}")
        accepted = time.perf_counter() - started
        plan_id = response.json()["plan_id"]
        await raw.wait_for_count(
            lambda: services.recorded("tracking", "assignment.created"),
            cells,
            1800,
            "tracking to record every assignment",
        )
        await raw.wait_for_count(
            lambda: services.recorded("notifier", "assignment.created"),
            cells,
            1800,
            "the notifier to know every period",
        )
        system = time.perf_counter() - started
        recorded = (
            await tracking_db.assignments.count_documents({"plan_id": plan_id}),
            await notifier_db.periods.count_documents({"plan_id": plan_id}),
        )
        if recorded != (cells, 2 * cells):
            raise RuntimeError(
                f"recorded {recorded[0]} assignments and {recorded[1]} periods; expected {cells} and {2 * cells}"
            )
        rss_after_fan_out = {name: services.peak_rss_mb(name) for name in ("intake", "tracking", "notifier")}

        ctx.say("fan-out: raw ceiling (the same messages, read back from intake's outbox)")
        outbox = await stored_rows(
            intake_db, {"correlation_id": plan_id, "event_type": "assignment.created"}, {"routing_key": 1, "body": 1}
        )
        messages = [(r["routing_key"], r["body"].encode(), r["_id"]) for r in outbox]
        raw_tracking, raw_notifier = client[f"bench_raw_ft_{ctx.run_id}"], client[f"bench_raw_fn_{ctx.run_id}"]
        await TrackingRepository(raw_tracking).ensure_indexes()
        await NotifierRepository(raw_notifier).ensure_indexes()
        try:
            # Bounded: twice a raw run with two queues stalled in a vhost holding the agency queues (not understood).
            ceiling = await asyncio.wait_for(
                raw.raw_pipeline(
                    vhost.url,
                    messages,
                    [raw.Sink(tracking_writer(raw_tracking)), raw.Sink(notifier_writer(raw_notifier))],
                ),
                180,
            )
            ceiling_text, ratio = f"{ceiling.seconds:.1f} s", ceiling.seconds / system
        except TimeoutError:
            ceiling_text, ratio = "stalled (> 180 s)", float("nan")
            ctx.notes.append("row 2's raw ceiling stalled and was abandoned after 180 s; see the report.")
        await client.drop_database(raw_tracking.name)
        await client.drop_database(raw_notifier.name)
        ctx.rows.append(
            Row(
                "2",
                f"national fan-out: one plan to a group of {cells:,} party cells, POST /plans → "
                f"every assignment in tracking and every period in the notifier "
                f"(POST answered in {accepted:.1f} s)",
                f"{system:.1f} s",
                ceiling_text,
                f"{ratio:.2f}",
                "report (≥ 0.70 as for 1)",
                verdict(ratio >= 0.7),
            )
        )

        await notice_latency(ctx, services, notifier_db)
        await acknowledgement_burst(ctx, services, vhost, users, prefix, agency_codes, acks, client)

        rss = {name: services.peak_rss_mb(name) for name in ("intake", "tracking", "notifier")}
        for name in ("intake", "tracking", "notifier"):
            ctx.rows.append(
                Row(
                    "5",
                    f"peak RSS (VmHWM) of {name}: after row 2 / after rows 2 and 3",
                    f"{rss_after_fan_out[name]:.0f} MB / {rss[name]:.0f} MB",
                    "",
                    "",
                    "≤ 200 MB",
                    verdict(rss[name] <= 200),
                )
            )
    finally:
        services.stop()
        sink.stop()
        for name in ("intake", "tracking", "notifier"):
            await client.drop_database(services.database(name))
        await client.close()
        ctx.say("deleting the vhost (its agency queues take a while)")
        vhost.delete()


async def notice_latency(ctx: Context, services: stack.Services, notifier_db: Any) -> None:
    """A deadline a few seconds away for three cells; the time from its passing to the overdue notices being
    queued, at the notifier's default scan interval."""
    ctx.say("deadline -> notice queued")
    due = datetime.now(UTC) + timedelta(seconds=6)
    plan = {
        "issuer": "Đảng ủy xã",
        "number": f"{ctx.run_id}-N/ĐU",
        "title": "Kế hoạch hạn gần",
        "assignments": [{"agency": stack.cell_code(i), "task": "Báo cáo ngay."} for i in (1, 2, 3)],
        "deadlines": [{"period": "2026-NOW", "due": due.isoformat()}],
    }
    async with httpx.AsyncClient(timeout=60) as http:
        response = await http.post(f"{services.url('intake')}/plans", json=plan, headers=stack.OPERATOR)
    if response.status_code != 201:
        raise RuntimeError(f"POST /plans answered {response.status_code}: {response.text[:500]}")
    ids = [a["assignment_id"] for a in response.json()["assignments"]]

    async def queued() -> int:
        return await notifier_db.notices.count_documents({"step": "overdue", "period_id": {"$regex": "2026-NOW"}})

    await raw.wait_for_count(queued, len(ids), 60, "the overdue notices", interval=0.2)
    rows = await notifier_db.notices.find(
        {"step": "overdue", "period_id": {"$regex": "2026-NOW"}}, {"queued_at": 1}
    ).to_list()
    latest = max(r["queued_at"] for r in rows)
    seconds = (latest - due).total_seconds()
    ctx.rows.append(
        Row(
            "4",
            "deadline passing → its overdue notices queued (default scan interval 1 s)",
            f"{seconds:.2f} s",
            "",
            "",
            "< 2 s",
            verdict(seconds < 2),
        )
    )


async def acknowledgement_burst(
    ctx: Context,
    services: stack.Services,
    vhost: stack.Vhost,
    users: dict[str, str],
    prefix: str,
    codes: list[str],
    n: int,
    client: Any,
) -> None:
    import aio_pika

    from shared.contracts.topology import EVENTS_EXCHANGE

    ctx.say(f"acknowledgements: {n:,} over AMQP from {len(codes)} agencies' broker users")
    tracking_db = client[services.database("tracking")]
    raw_db = client[f"bench_raw_ack_{ctx.run_id}"]
    plan = f"k{ctx.run_id}"
    agencies = [AgencyRef(code=c, kind="party_cell", name=f"Chi bộ {c}") for c in codes]
    records = [
        domain.new_assignment(assignment_event(plan, i, agencies[i % len(agencies)]).model_dump(mode="python"))
        for i in range(n)
    ]
    # The second ceiling does the same work as the whole system: the facts relayed and projected as well.
    whole_db = client[f"bench_raw_ack_whole_{ctx.run_id}"]
    for db in (raw_db, whole_db):
        await TrackingRepository(db).ensure_indexes()
        await ensure_outbox_indexes(db.outbox)
    await NotifierRepository(whole_db).ensure_indexes()
    for first in range(0, n, 10_000):
        for db in (tracking_db, raw_db, whole_db):
            await db.assignments.insert_many(records[first : first + 10_000], ordered=False)
    commands = []
    for i, record in enumerate(records):
        code = codes[i % len(codes)]
        command = AcknowledgeAssignment(command_id=f"{plan}-{i}", assignment_id=record["_id"])
        commands.append(
            (code, f"command.acknowledge.party_cell.{code}", command.model_dump_json().encode(), command.event_id(code))
        )
    del records

    ctx.say("acknowledgements: raw ceiling")
    sampler = raw.LatencySampler(raw_db.events)
    sampler.start()
    ceiling = await raw.raw_pipeline(
        vhost.url,
        [(k, b, e) for _, k, b, e in commands],
        [raw.Sink(acknowledgement_writer(raw_db))],
        on_published=sampler.published,
    )
    ceiling_p50, ceiling_p99, _ = await sampler.stop()
    await client.drop_database(raw_db.name)

    ctx.say("acknowledgements: raw ceiling of the whole work (facts relayed, notifier's projection)")
    whole = await raw.raw_pipeline(
        vhost.url,
        [(k, b, e) for _, k, b, e in commands],
        [
            raw.Sink(acknowledgement_writer(whole_db), ("command.#",), relay=acknowledgement_relay(whole_db)),
            raw.Sink(acknowledgement_projection(whole_db), ("assignment.acknowledged.#",)),
        ],
    )
    whole_seconds = whole.finished[0]  # tracking's records written: the end the system is measured to as well
    await client.drop_database(whole_db.name)

    ctx.say("acknowledgements: system")
    before = await services.recorded("tracking", "command.acknowledge")
    sampler = raw.LatencySampler(tracking_db.events)
    connections = {code: await aio_pika.connect(users[f"{prefix}{code}"]) for code in codes}
    try:
        exchanges = {}
        for code, connection in connections.items():
            channel = await connection.channel(publisher_confirms=True)
            exchanges[code] = await channel.get_exchange(EVENTS_EXCHANGE, ensure=False)
        limiter = asyncio.Semaphore(1_000)

        async def send(code: str, key: str, body: bytes, event_id: str) -> None:
            async with limiter:
                sampler.published(event_id)
                await exchanges[code].publish(
                    aio_pika.Message(
                        body,
                        user_id=f"{prefix}{code}",
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key=key,
                )

        sampler.start()
        started = time.perf_counter()
        await asyncio.gather(*(send(*c) for c in commands))
        published = time.perf_counter() - started
        finished = await raw.wait_for_count(
            lambda: services.recorded("tracking", "command.acknowledge"),
            before + n,
            1800,
            "tracking to record every acknowledgement",
        )
        system = finished - started
        p50, p99, samples = await sampler.stop()
    finally:
        for connection in connections.values():
            await connection.close()
    acknowledged = await tracking_db.assignments.count_documents(
        {"_id": {"$regex": f"^a{plan}"}, "state": "acknowledged"}
    )
    if acknowledged != n:
        raise RuntimeError(f"{acknowledged} of {n} assignments acknowledged")
    ratio = ceiling.seconds / system
    ctx.rows.append(
        Row(
            "3",
            f"acknowledgement burst: {n:,} commands over AMQP → recorded (published in {published:.1f} s)",
            f"{n / system:,.0f}/s ({system:.1f} s)",
            f"{n / ceiling.seconds:,.0f}/s ({ceiling.seconds:.1f} s)",
            f"{ratio:.2f}",
            "≥ 0.70",
            verdict(ratio >= 0.7),
        )
    )
    ctx.rows.append(
        Row(
            "3",
            "the same burst against a ceiling doing the system's whole work: also relaying each "
            "fact from the outbox and projecting it as the notifier does (end: tracking's records)",
            f"{n / system:,.0f}/s ({system:.1f} s)",
            f"{n / whole_seconds:,.0f}/s ({whole_seconds:.1f} s)",
            f"{whole_seconds / system:.2f}",
            "report",
            "",
        )
    )
    ctx.rows.append(
        Row(
            "3",
            f"acknowledgement latency, publish → durable record, p50 / p99 ({samples} samples)",
            f"{p50 * 1000:,.0f} / {p99 * 1000:,.0f} ms",
            f"{ceiling_p50 * 1000:,.0f} / {ceiling_p99 * 1000:,.0f} ms",
            "",
            "report",
            "",
        )
    )


# ---------------------------------------------------------------------------------------------- rows 4, 6


def notifier_scan(ctx: Context) -> None:
    sizes = ["10000", "100000"] if ctx.quick else ["10000", "1000000"]
    ctx.say(f"notifier due scan: benchmarks/notifier_scan.py --sizes {' '.join(sizes)}")
    script = ROOT / "benchmarks" / "notifier_scan.py"
    result = subprocess.run(
        [sys.executable, str(script), "--sizes", *sizes], capture_output=True, text=True, timeout=1200, cwd=ROOT
    )
    if result.returncode != 0:
        ctx.rows.append(Row("4", "notifier due scan", "failed", target="≤ 1.5", met="**no**"))
        ctx.notes.append(f"notifier_scan.py failed: {result.stderr.strip()[-500:]}")
        return
    scans = re.findall(r"^\s*([\d,]+) open periods, (\d+) due: scan\s+([\d.]+) ms", result.stdout, re.M)
    ratio_match = re.search(r"ratio [^:]+: ([\d.]+)", result.stdout)
    if len(scans) < 2 or ratio_match is None:
        ctx.notes.append(f"notifier_scan.py output not understood: {result.stdout[-500:]}")
        return
    ratio = float(ratio_match.group(1))
    (small, due, small_ms), (large, _, large_ms) = scans[0], scans[-1]
    ctx.rows.append(
        Row(
            "4",
            f"notifier due scan: {due} due among {large} vs {small} open periods (benchmarks/notifier_scan.py)",
            f"{large_ms} ms",
            f"{small_ms} ms",
            f"{ratio:.2f}",
            "≤ 1.5",
            verdict(ratio <= 1.5),
        )
    )


def parse_plan(ctx: Context) -> None:
    script = ROOT / "benchmarks" / "parse_plan.py"
    if not script.exists():
        return
    ctx.say("document parse: benchmarks/parse_plan.py")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    found = re.search(r"median ([\d.]+) ms", result.stdout)
    if result.returncode != 0 or found is None:
        ctx.notes.append(f"parse_plan.py failed: {(result.stderr or result.stdout).strip()[-500:]}")
        return
    median = float(found.group(1))
    ctx.rows.append(
        Row(
            "6",
            "document parse: a 30-page plan (benchmarks/parse_plan.py), median",
            f"{median:.1f} ms",
            "",
            "",
            "< 100 ms",
            verdict(median < 100),
        )
    )


def read_pdf(ctx: Context) -> None:
    """Rows 6b and 6c: a plan sent as a text-layer PDF, and a scan read by OCR (skipped without Debian's tools)."""
    if shutil.which("pdftotext") is None or shutil.which("tesseract") is None:
        ctx.notes.append("rows 6b, 6c not measured: poppler-utils or tesseract-ocr-vie not installed (make tools)")
        return
    ctx.say("PDF and scan reading: benchmarks/read_pdf.py")
    script = ROOT / "benchmarks" / "read_pdf.py"
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    pdf = re.search(r"(\d+) A4 pages.*?median ([\d.]+) ms.*CPU median ([\d.]+) ms", result.stdout)
    scan = re.search(r"([\d.]+) s a page; CPU ([\d.]+) s a page", result.stdout)
    if result.returncode != 0 or pdf is None or scan is None:
        ctx.notes.append(f"read_pdf.py failed: {(result.stderr or result.stdout).strip()[-500:]}")
        return
    median, per_page = float(pdf.group(2)), float(scan.group(1))
    ctx.rows.append(
        Row(
            "6b",
            f"PDF plan read+parse: the 30-page plan as a text-layer PDF ({pdf.group(1)} A4 pages), median",
            f"{median:.1f} ms (CPU {float(pdf.group(3)):.1f} ms)",
            target="< 300 ms",
            met=verdict(median < 300),
        )
    )
    ctx.rows.append(
        Row(
            "6c",
            "scanned PDF read by OCR at 300 dpi, a page",
            f"{per_page:.2f} s (CPU {float(scan.group(2)):.2f} s)",
            target="≤ 3 s",
            met=verdict(per_page <= 3),
        )
    )


def web_portal(ctx: Context) -> None:
    """Rows 7 and 7b: the agency page with 200 open assignments, and five 20 MB uploads at once (issue 18)."""
    sizes = ["--assignments", "50", "--requests", "100", "--upload-mb", "5"] if ctx.quick else []
    ctx.say(f"web portal: benchmarks/web_portal.py {' '.join(sizes)}")
    script = ROOT / "benchmarks" / "web_portal.py"
    env = {**os.environ, "MONGO_URL": ctx.mongo_url}
    result = subprocess.run(
        [sys.executable, str(script), *sizes], capture_output=True, text=True, timeout=1200, cwd=ROOT, env=env
    )
    page = re.search(r"agency page, (\d+) open assignments: p95 ([\d.]+) ms, median ([\d.]+) ms", result.stdout)
    alone = re.search(r"listing alone: p95 ([\d.]+) ms", result.stdout)
    load = re.search(
        r"uploads: (\d+) × (\d+) MB .*: ([\d.]+) MB/s; peak RSS web (\d+) MB, tracking (\d+) MB", result.stdout
    )
    if result.returncode != 0 or page is None or load is None:
        ctx.notes.append(f"web_portal.py failed: {(result.stderr or result.stdout).strip()[-500:]}")
        return
    p95 = float(page.group(2))
    ceiling = f"{alone.group(1)} ms (tracking's listing alone)" if alone else ""
    ctx.rows.append(
        Row(
            "7",
            f"web: agency page with {page.group(1)} open assignments, p95 (median {page.group(3)} ms)",
            f"{p95:.1f} ms",
            ceiling,
            target="< 150 ms",
            met=verdict(p95 < 150),
        )
    )
    web_mb, tracking_mb = int(load.group(4)), int(load.group(5))
    ctx.rows.append(
        Row(
            "7b",
            f"web: {load.group(1)} uploads of {load.group(2)} MB at once into GridFS, MB/s; peak RSS web / tracking",
            f"{load.group(3)} MB/s; {web_mb} / {tracking_mb} MB",
            target="≤ 250 MB each",
            met=verdict(max(web_mb, tracking_mb) <= 250),
        )
    )


def link_batch(ctx: Context) -> None:
    """Row 8: an e-mail's personal links from tracking, in one batch (what the notifier does) against one call
    each (what it did before): a supervisor's digest of 14 late bodies."""
    sizes = ["--repetitions", "10"] if ctx.quick else []
    ctx.say(f"personal links: benchmarks/link_batch.py {' '.join(sizes)}")
    script = ROOT / "benchmarks" / "link_batch.py"
    env = {**os.environ, "MONGO_URL": ctx.mongo_url}
    result = subprocess.run(
        [sys.executable, str(script), *sizes], capture_output=True, text=True, timeout=600, cwd=ROOT, env=env
    )
    times = {
        match.group(1): (float(match.group(3)), float(match.group(4)))
        for match in re.finditer(
            r"(one by one|batched): (\d+) links, median ([\d.]+) ms, p90 ([\d.]+) ms", result.stdout
        )
    }
    if result.returncode != 0 or len(times) != 2:
        ctx.notes.append(f"link_batch.py failed: {(result.stderr or result.stdout).strip()[-500:]}")
        return
    (batched, p90), (each, _) = times["batched"], times["one by one"]
    ctx.rows.append(
        Row(
            "8",
            f"notifier: a digest's 14 personal links from tracking in one call, median (p90 {p90:.1f} ms)",
            f"{batched:.1f} ms",
            f"{each:.1f} ms (one call a link, as before)",
            ratio=f"{batched / each:.2f}",
            target="< 50 ms",
            met=verdict(batched < 50),
        )
    )


# ---------------------------------------------------------------------------------------------- report


def table(rows: list[Row]) -> str:
    lines = ["| # | measure | system | raw ceiling | ratio | target | met |", "|---|---|---|---|---|---|---|"]
    lines += [
        f"| {r.number} | {r.measure} | {r.system} | {r.ceiling} | {r.ratio} | {r.target} | {r.met} |"
        for r in sorted(rows, key=lambda r: r.number)
    ]
    return "\n".join(lines)


def write_document(ctx: Context, seconds: float) -> None:
    from benchmarks.report import document

    info = stack.machine()
    info["database"] = (
        f"MongoDB {ctx.mongodb_version} at `MONGO_URL`"
        if ctx.mongodb_version
        else f"SecantusDB {info['secantusdb']} (the MongoDB-wire stand-in, `retryWrites=false`)"
    )
    text = document(
        table(ctx.rows),
        info,
        ctx.notes,
        quick=ctx.quick,
        seconds=seconds,
        when=datetime.now(UTC).astimezone().strftime("%Y-%m-%d %H:%M %Z"),
    )
    DOC.write_text(text, encoding="utf-8")


async def mongodb_version(url: str) -> str:
    client = make_client(url)
    try:
        return str((await client.admin.command("buildInfo")).get("version", "?"))
    finally:
        await client.close()


async def measure(ctx: Context, args: argparse.Namespace) -> None:
    if os.environ.get("MONGO_URL"):
        ctx.mongodb_version = await mongodb_version(ctx.mongo_url)
    quick = ctx.quick
    if "1" in args.rows:
        await pipeline(ctx, args.assignments or (5_000 if quick else 50_000))
    if "2" in args.rows:
        await fan_out_and_acknowledgements(
            ctx, args.cells or (1_000 if quick else 10_000), args.acks or (10_000 if quick else 100_000)
        )
    if "4" in args.rows:
        notifier_scan(ctx)
    if "6" in args.rows:
        parse_plan(ctx)
        read_pdf(ctx)
    if "7" in args.rows:
        web_portal(ctx)
    if "8" in args.rows:
        link_batch(ctx)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(args: argparse.Namespace) -> None:
    # SIGTERM (a timeout, `kill`) unwinds like Ctrl-C, so the services, the database and the vhosts are removed.
    signal.signal(signal.SIGTERM, _interrupt)
    processes = Processes()
    folder = Path(tempfile.mkdtemp(prefix="dondoc-bench-"))
    started = time.perf_counter()
    ensure_rabbitmq(DEFAULT_AMQP_URL)
    try:
        # MONGO_URL names a real MongoDB to measure against; without it, a stand-in of the run's own.
        mongo_url = ensure_mongo(processes, folder / "mongo-data", folder / "secantusdb.log")
        ctx = Context(quick=args.quick, mongo_url=mongo_url, folder=folder)
        ctx.say(f"logs and data in {folder}")
        asyncio.run(measure(ctx, args))
    finally:
        processes.stop()
    seconds = time.perf_counter() - started
    sys.stdout.write(table(ctx.rows) + "\n")
    for note in ctx.notes:
        sys.stdout.write(f"- {note}\n")
    sys.stdout.write(f"({'quick' if args.quick else 'full'} run, {seconds:.0f} s)\n")
    if not args.no_write:
        write_document(ctx, seconds)
        sys.stdout.write(f"written to {DOC.relative_to(ROOT)}\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes: about 3 minutes")
    parser.add_argument("--assignments", type=int, help="row 1 size (default 50,000; quick 5,000)")
    parser.add_argument("--cells", type=int, help="row 2 directory size (default 10,000; quick 1,000)")
    parser.add_argument("--acks", type=int, help="row 3 size (default 100,000; quick 10,000)")
    parser.add_argument(
        "--rows",
        default="124678",
        help="which parts to run: 1 pipeline, 2 fan-out+acks+memory, 4 notifier scan, 6 parse, 7 web portal, "
        "8 personal links (default all)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/performance.md alone")
    main(parser.parse_args())
