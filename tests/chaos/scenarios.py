"""The fault scenarios, parameterised by size: `tests/chaos/` runs them in full (`make chaos`),
`tests/integration/test_faults_short.py` runs small versions in `make test`. Each returns its Tally;
the caller checks it (which prints the summary line first, so a failing run still shows its figures)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from deploy.local.infra import free_port
from services.intake.config import Settings as IntakeSettings
from services.notifier.config import Settings as NotifierSettings
from services.notifier.mailer import Mailer
from services.notifier.repository import FAILED, PENDING, SENT, NotifierRepository
from services.tracking.config import Settings as TrackingSettings
from services.tracking.main import create_app as create_tracking
from shared.contracts.topology import TRACKING_QUEUE
from shared.domain.clock import SystemClock
from shared.platform import dead_letters
from shared.platform.broker import declare_topology, make_broker
from shared.platform.mongo import make_client
from shared.platform.outbox import stored_rows
from tests.chaos.harness import (
    ChaosError,
    MailServer,
    MailTally,
    MongoStandIn,
    Outgoing,
    Producer,
    RabbitNode,
    Tally,
    assignment_events,
    consumed,
    drained,
    lifespan,
    outgoing,
    queue_depth,
    quiet_logs,
    settle,
    smtp_server,
    spawn,
    stored_duplicates,
    tracking_records,
    with_host,
)
from tests.chaos.proxy import FaultProxy

_ = IntakeSettings  # intake runs as a subprocess; its settings come from the environment below


def tracking_app(amqp_url: str, mongo_url: str, database: str) -> Any:
    return create_tracking(
        TrackingSettings(
            AMQP_URL=amqp_url,
            MONGO_URL=mongo_url,
            mongo_database=database,
            outbox_poll_seconds=0.2,
            status_metrics_seconds=3600,
        )
    )


async def count_into(tally: Tally, mongo_url: str, database: str, expected: set[str]) -> None:
    by_event, by_assignment = await tracking_records(mongo_url, database)
    tally.stored = len(expected & by_event.keys())
    tally.lost = len(expected - by_event.keys())
    tally.duplicated = stored_duplicates(by_event, by_assignment)


async def all_stored(mongo_url: str, database: str, expected: set[str]) -> bool:
    try:
        by_event, _ = await tracking_records(mongo_url, database)
    except Exception:  # noqa: BLE001 - the database may be coming back
        return False
    return expected <= by_event.keys()


async def dead_letter_count(amqp_url: str) -> int:
    letters = await dead_letters.list_dead_letters(amqp_url, TRACKING_QUEUE.dead_letter_queue, lambda _: True)
    return len(letters)


# --------------------------------------------------------------------------------------------- 1


async def broker_restarts(
    base: Path,
    mongo_url: str,
    database: str,
    events: int,
    per_second: float,
    faults: list[str],
    name: str = "broker_restarts",
) -> Tally:
    """The test's own RabbitMQ node is stopped and started (`stop`) or SIGKILLed and started (`kill`) while
    a producer publishes `events` and tracking consumes them."""
    tally = Tally(name, extra={"faults": ",".join(faults)})
    node = RabbitNode(base)
    await node.start()
    duplicates_before = consumed("duplicate")
    items = outgoing(assignment_events(events))
    expected = {i.message_id for i in items}
    try:
        async with lifespan(tracking_app(node.url, mongo_url, database)), Producer(node.url) as producer:
            sending = asyncio.create_task(producer.send_all(items, per_second=per_second))
            done: list[str] = []
            for index, fault in enumerate(faults):
                threshold = events * (index + 1) // (len(faults) + 1)
                if not await settle(lambda t=threshold: asyncio.sleep(0, len(producer.confirmed) >= t), 300, 0.1):
                    raise ChaosError(f"the producer never reached {threshold} confirms")
                await (node.kill() if fault == "kill" else node.stop())
                done.append(fault)
                await node.start()
            await sending
            await settle(lambda: all_stored(mongo_url, database, expected), timeout=180)
            await drained(node.url, lambda: consumed("duplicate"))
            tally.published = len(producer.sent)
            tally.confirmed = len(producer.confirmed)
            tally.extra.update(attempts=producer.attempts)
            tally.dead_lettered = await dead_letter_count(node.url)
            await count_into(tally, mongo_url, database, expected)
            tally.extra["redelivered"] = int(consumed("duplicate") - duplicates_before)
            tally.extra["faults"] = ",".join(done)
    finally:
        await node.close()
    return tally


# --------------------------------------------------------------------------------------------- 2


def _start_worker(kind: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return spawn([sys.executable, "-m", "tests.chaos.worker", kind], log, env)


async def _exited(process: subprocess.Popen[bytes]) -> bool:
    return process.poll() is not None


async def consumer_kills(
    base: Path, amqp_url: str, mongo_url: str, database: str, events: int, kills: int, seed: int = 2
) -> Tally:
    """Tracking runs as a process that SIGKILLs itself after a write returned and before the ack, `kills`
    times at random points; each time it is started again. Every written-but-unacked message comes back."""
    rng = random.Random(seed)
    tally = Tally("consumer_killed_before_ack")
    records = base / "records.txt"
    broker = make_broker(amqp_url, "chaos")
    await broker.connect()
    try:
        await declare_topology(broker, TRACKING_QUEUE)
    finally:
        await broker.stop()
    items = outgoing(assignment_events(events))
    expected = {i.message_id for i in items}
    async with Producer(amqp_url) as producer:
        await producer.send_all(items)
    tally.published, tally.confirmed = len(producer.sent), len(producer.confirmed)
    # 50 crashes in two minutes is a crash storm. RabbitMQ before 4.3 (this machine has 3.10) counts each crash as
    # a delivery of every message the consumer held, and the queue dead-letters at its delivery limit (20): with
    # the default 1,000 in flight, messages prefetched but never reached ran out of deliveries. 100 in flight
    # keeps what each crash costs within that budget; README, "Settings" (TRACKING_PREFETCH) says so.
    env = {
        "AMQP_URL": amqp_url,
        "MONGO_URL": mongo_url,
        "TRACKING_MONGO_DATABASE": database,
        "TRACKING_PREFETCH": "100",
        "CHAOS_RECORDS": str(records),
        "LOG_LEVEL": "warning",
    }
    killed = 0
    while killed < kills:
        # Spread the kills over what is left: batches written concurrently make each incarnation overshoot.
        by_event, _ = await tracking_records(mongo_url, database)
        mean = max(1, len(expected - by_event.keys()) // (3 * (kills - killed)))
        threshold = rng.randint(1, 2 * mean)
        worker = _start_worker("tracking", {**env, "CHAOS_KILL_AFTER": str(threshold)}, base / "tracking.log")
        try:
            if not await settle(lambda w=worker: _exited(w), timeout=60, interval=0.1):
                raise ChaosError(f"the consumer was not killed after {threshold} new events (kill {killed + 1})")
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        if worker.returncode != -9:
            raise ChaosError(f"the consumer exited with {worker.returncode}; see {base / 'tracking.log'}")
        killed += 1
    tally.extra["kills"] = killed
    worker = _start_worker("tracking", env, base / "tracking.log")
    try:
        await settle(lambda: all_stored(mongo_url, database, expected), timeout=120)
        await settle(lambda: _queue_empty(amqp_url), timeout=30)
    finally:
        worker.terminate()
        await asyncio.to_thread(worker.wait, 30)
    duplicates = sum(int(line.split()[1]) for line in (await asyncio.to_thread(records.read_text)).splitlines())
    tally.extra["redelivered"] = duplicates
    tally.dead_lettered = await dead_letter_count(amqp_url)
    await count_into(tally, mongo_url, database, expected)
    if duplicates == 0:
        raise ChaosError("no delivery was ever seen twice: the kills did not land between write and ack")
    return tally


async def _queue_empty(amqp_url: str) -> bool:
    return await queue_depth(amqp_url) == 0


# --------------------------------------------------------------------------------------------- 3


async def duplicate_deliveries(amqp_url: str, mongo_url: str, database: str, events: int, seed: int = 3) -> Tally:
    """Every event is published two to five times with the same event_id, in shuffled order."""
    rng = random.Random(seed)
    tally = Tally("duplicate_deliveries")
    items = outgoing(assignment_events(events))
    expected = {i.message_id for i in items}
    copies = [item for item in items for _ in range(rng.randint(2, 5))]
    rng.shuffle(copies)
    duplicates_before = consumed("duplicate")
    async with lifespan(tracking_app(amqp_url, mongo_url, database)), Producer(amqp_url) as producer:
        await producer.send_all(copies)
        await settle(lambda: all_stored(mongo_url, database, expected), timeout=120)
        await drained(amqp_url, lambda: consumed("duplicate"))
        tally.published, tally.confirmed = len(producer.sent), len(producer.confirmed)
        tally.dead_lettered = await dead_letter_count(amqp_url)
    await count_into(tally, mongo_url, database, expected)
    tally.extra["copies"] = len(copies)
    tally.extra["redelivered"] = int(consumed("duplicate") - duplicates_before)
    return tally


# --------------------------------------------------------------------------------------------- 4


def poison_messages(count: int, rng: random.Random) -> list[Outgoing]:
    """Three kinds the consumer can never process: not JSON, a body that breaks its contract, an unknown type."""
    good = assignment_events(1)[0]
    kinds = [
        lambda: ("assignment.created.ubnd.ubnd", b"{not json"),
        lambda: ("assignment.created.ubnd.ubnd", json.dumps({"assignment_id": 7, "event_id": "x"}).encode()),
        lambda: ("assignment.exploded.ubnd.ubnd", good.model_dump_json().encode()),
    ]
    out = []
    for _ in range(count):
        key, body = rng.choice(kinds)()
        out.append(Outgoing(key, body, f"poison-{uuid.uuid4().hex[:12]}"))
    return out


async def poison(amqp_url: str, mongo_url: str, database: str, good: int, bad: int, seed: int = 4) -> Tally:
    """`bad` poison messages among `good` valid ones: every poison message in the dead-letter queue with its
    reason, exactly once; every good one stored."""
    rng = random.Random(seed)
    tally = Tally("poison_messages")
    items = outgoing(assignment_events(good))
    expected = {i.message_id for i in items}
    poisoned = poison_messages(bad, rng)
    mixed = items + poisoned
    rng.shuffle(mixed)
    async with lifespan(tracking_app(amqp_url, mongo_url, database)), Producer(amqp_url) as producer:
        await producer.send_all(mixed)
        await settle(lambda: all_stored(mongo_url, database, expected), timeout=120)
        await drained(amqp_url, lambda: consumed("dead_lettered") + consumed("processed"))
        tally.published, tally.confirmed = len(producer.sent), len(producer.confirmed)
    letters = await dead_letters.list_dead_letters(
        amqp_url, TRACKING_QUEUE.dead_letter_queue, lambda _: True, limit=bad * 2 + 10
    )
    tally.dead_lettered = len(letters)
    poison_ids = {p.message_id for p in poisoned}
    tally.extra["poison"] = bad
    tally.extra["dead_letters_with_reason"] = sum(1 for d in letters if d.id in poison_ids and d.reason != "unknown")
    await count_into(tally, mongo_url, database, expected)
    return tally


# --------------------------------------------------------------------------------------------- 5


async def database_kill(
    base: Path, amqp_url: str, database: str, events: int, per_second: float, down_seconds: float
) -> Tally:
    """The test's own SecantusDB is SIGKILLed while events arrive, kept down, and started on the same data."""
    tally = Tally("database_killed", extra={"down_seconds": down_seconds})
    mongo = MongoStandIn(base)
    await mongo.start()
    items = outgoing(assignment_events(events))
    expected = {i.message_id for i in items}
    duplicates_before = consumed("duplicate")
    try:
        async with lifespan(tracking_app(amqp_url, mongo.url, database)), Producer(amqp_url) as producer:
            sending = asyncio.create_task(producer.send_all(items, per_second=per_second))

            async def some_stored() -> bool:
                by_event, _ = await tracking_records(mongo.url, database)
                return len(by_event) >= events // 3

            if not await settle(some_stored, timeout=120):
                raise ChaosError("a third of the events were never stored before the fault")
            await mongo.kill()
            await asyncio.sleep(down_seconds)  # the outage itself, not a wait for an outcome
            await mongo.start()
            await sending
            await settle(lambda: all_stored(mongo.url, database, expected), timeout=180)
            await drained(amqp_url, lambda: consumed("duplicate"))
            tally.published, tally.confirmed = len(producer.sent), len(producer.confirmed)
            tally.dead_lettered = await dead_letter_count(amqp_url)
        await count_into(tally, mongo.url, database, expected)
        tally.extra["redelivered"] = int(consumed("duplicate") - duplicates_before)
    finally:
        await mongo.close()
    return tally


# --------------------------------------------------------------------------------------------- 6


async def proxy_faults(
    amqp_url: str,
    mongo_url: str,
    database: str,
    events: int,
    per_second: float,
    latency: tuple[float, float],
    reset_every: tuple[float, float],
    seed: int = 6,
) -> Tally:
    """Services and producer reach the broker only through a fault proxy that delays every chunk and resets
    every connection at random intervals."""
    tally = Tally("proxy_latency_resets", extra={"latency_ms": f"{latency[0] * 1000:.0f}-{latency[1] * 1000:.0f}"})
    upstream = amqp_url.split("@", 1)[1].split("/", 1)[0]
    host, port = upstream.rsplit(":", 1)
    proxy = FaultProxy(host, int(port), latency=latency)
    await proxy.start()
    via_proxy = with_host(amqp_url, proxy.url_host)
    items = outgoing(assignment_events(events))
    expected = {i.message_id for i in items}
    duplicates_before = consumed("duplicate")
    try:
        async with lifespan(tracking_app(via_proxy, mongo_url, database)), Producer(via_proxy) as producer:
            chaos = asyncio.create_task(proxy.reset_randomly(reset_every, random.Random(seed)))
            try:
                await producer.send_all(items, per_second=per_second)
                # keep resetting until everything has arrived: recovery must not depend on a quiet network
                await settle(lambda: all_stored(mongo_url, database, expected), timeout=180)
            finally:
                chaos.cancel()
            await drained(amqp_url, lambda: consumed("duplicate"))
            tally.published, tally.confirmed = len(producer.sent), len(producer.confirmed)
            tally.extra["resets"] = proxy.resets
            tally.extra["attempts"] = producer.attempts
            tally.dead_lettered = await dead_letter_count(amqp_url)
    finally:
        await proxy.stop()
    await count_into(tally, mongo_url, database, expected)
    tally.extra["redelivered"] = int(consumed("duplicate") - duplicates_before)
    if proxy.resets == 0:
        raise ChaosError("the proxy never reset a connection")
    return tally


# --------------------------------------------------------------------------------------------- 7 and 8


async def queue_emails(repository: NotifierRepository, recipients: list[str]) -> list[str]:
    """Rows in the notifier's `emails` collection, as its escalation scan queues them: due now, untried."""
    now = datetime.now(UTC)
    rows = [
        {
            "_id": f"m{uuid.uuid4().hex[:20]}",
            "to": to,
            "to_name": "Chi bộ khu dân cư",
            "subject": "[Đôn đốc] Báo cáo quá hạn",
            "text": "Kính gửi: Chi bộ khu dân cư,\nĐề nghị gửi báo cáo.\n",
            "status": PENDING,
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
        }
        for to in recipients
    ]
    await repository.emails.insert_many(rows)
    return [row["_id"] for row in rows]


def message_id(row_id: str, settings: NotifierSettings) -> str:
    return f"<{row_id}@{settings.mail_domain}>"


def _count_emails(tally: MailTally, rows: list[dict[str, Any]], deliverable: set[str], received: Counter[str]) -> None:
    """The e-mail scenarios' common counts: rows queued, deliverable ones received once, lost, copies, failed."""
    tally.queued = len(rows)
    tally.delivered = len(deliverable & received.keys())
    tally.lost = len(deliverable - received.keys())
    tally.duplicated = sum(n - 1 for n in received.values() if n > 1)
    tally.failed = sum(1 for r in rows if r["status"] == FAILED)


async def smtp_refusals(
    mongo_url: str,
    database: str,
    emails: int,
    refusals: int,
    rejected: int,
    retry_base_seconds: float = 0.05,
    seed: int = 7,
) -> MailTally:
    """The notifier's Mailer against an SMTP server that answers 421 to the first `refusals` attempts and
    250 after that, while `rejected` other recipients get 554 on every attempt. Every deliverable e-mail must
    arrive exactly once; exactly the rejected ones end failed, each after one try."""
    rng = random.Random(seed)
    tally = MailTally("smtp_421_then_554")
    good = [f"chi-bo-{i}@hoa-an.example" for i in range(emails)]
    refused = {f"tu-choi-{i}@rejected.example" for i in range(rejected)}
    recipients = good + sorted(refused)
    rng.shuffle(recipients)
    temporary = [refusals]

    def answer(to: list[str]) -> str | None:
        if refused & set(to):
            return "554 5.7.1 Message rejected"
        if temporary[0] > 0:
            temporary[0] -= 1
            return "421 4.3.2 Service not available, try later"
        return None

    server = MailServer(answer)
    client = make_client(mongo_url)
    try:
        repository = NotifierRepository(client[database])
        await repository.ensure_indexes()
        ids = await queue_emails(repository, recipients)
        with smtp_server(server) as port:
            settings = NotifierSettings(
                smtp_port=port,
                smtp_timeout_seconds=5,
                mail_retry_base_seconds=retry_base_seconds,
                mail_retry_max_seconds=max(1.0, retry_base_seconds),
                mail_batch_size=50,
            )
            mailer = Mailer(repository, settings, SystemClock())

            async def settled() -> bool:
                return await repository.emails.count_documents({"_id": {"$in": ids}, "status": PENDING}) == 0

            with quiet_logs(logging.ERROR):  # one warning per refusal; the tally counts them
                running = asyncio.create_task(mailer.run(poll_seconds=0.05))
                try:
                    await settle(settled, timeout=30 + 0.2 * (emails + refusals + rejected), interval=0.2)
                finally:
                    running.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await running
        rows = await repository.emails.find({"_id": {"$in": ids}}).to_list()
    finally:
        await client.close()
    received, replies = server.snapshot()
    deliverable = {message_id(r["_id"], settings) for r in rows if r["to"] not in refused}
    _count_emails(tally, rows, deliverable, received)
    tally.extra.update(
        refused_421=replies["421"],
        rejected_554=replies["554"],
        sent_rows=sum(1 for r in rows if r["status"] == SENT and r["to"] not in refused),
        failed_554_once=sum(
            1
            for r in rows
            if r["status"] == FAILED and r["to"] in refused and r.get("last_code") == 554 and r["attempts"] == 1
        ),
        attempts=sum(r["attempts"] for r in rows),
    )
    if replies["421"] < refusals:
        raise ChaosError(f"only {replies['421']} of {refusals} 421 replies were ever asked for")
    return tally


class KillOnAccept:
    """The SMTP server's `accepted` hook: once armed with a pid, it SIGKILLs that process on the server
    loop's next turn after the `after`-th message it accepts — the 250 is already written by then, and the
    worker can neither hear the reply to its QUIT nor mark the row sent."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.after = 0
        self.seen = 0
        self.in_flight: list[str] = []

    def arm(self, pid: int, after: int) -> None:
        self.seen, self.after, self.pid = 0, after, pid

    def disarm(self) -> None:
        self.pid = None

    def __call__(self, message: str) -> None:
        pid = self.pid
        if pid is None:
            return
        self.seen += 1
        if self.seen < self.after:
            return
        self.pid = None
        self.in_flight.append(message)
        asyncio.get_running_loop().call_soon(_sigkill, pid)


def _sigkill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


async def mailer_kills(
    base: Path, mongo_url: str, database: str, emails: int, kills: int, lease_seconds: float = 1.0, seed: int = 8
) -> MailTally:
    """The Mailer runs as its own process; the test's SMTP server SIGKILLs it right after answering 250 to a
    random message, before the row is marked sent, `kills` times; it is started again each time (lease
    shortened to `lease_seconds`), then once more without a kill. Nothing may be lost; the e-mail in flight
    at each kill may arrive twice (SMTP cannot do better), and nothing else may."""
    rng = random.Random(seed)
    tally = MailTally("mailer_killed_after_250", extra={"kills": 0, "duplicates_bound": kills})
    switch = KillOnAccept()
    server = MailServer(accepted=switch)
    log = base / "mailer.log"
    settings = NotifierSettings()
    client = make_client(mongo_url)
    try:
        repository = NotifierRepository(client[database])
        await repository.ensure_indexes()
        ids = await queue_emails(repository, [f"chi-bo-{i}@hoa-an.example" for i in range(emails)])
        expected = {message_id(i, settings) for i in ids}
        with smtp_server(server) as port:
            env = {
                "MONGO_URL": mongo_url,
                "NOTIFIER_MONGO_DATABASE": database,
                "NOTIFIER_SMTP_PORT": str(port),
                "NOTIFIER_SMTP_TIMEOUT_SECONDS": "5",
                "NOTIFIER_MAIL_LEASE_SECONDS": str(lease_seconds),
                "NOTIFIER_MAIL_RETRY_BASE_SECONDS": "0.05",
                "NOTIFIER_MAIL_BATCH_SIZE": "10",
                "CHAOS_POLL_SECONDS": "0.1",
                "LOG_LEVEL": "warning",
            }
            killed = 0
            while killed < kills:
                left = len(expected - server.snapshot()[0].keys())
                if left == 0:
                    raise ChaosError(f"every e-mail was delivered after only {killed} kills")
                threshold = rng.randint(1, max(1, min(left, 2 * left // (kills - killed + 1))))
                worker = _start_worker("mailer", env, log)
                switch.arm(worker.pid, threshold)
                try:
                    if not await settle(lambda w=worker: _exited(w), timeout=60, interval=0.05):
                        raise ChaosError(f"the mailer was not killed after {threshold} e-mails (kill {killed + 1})")
                finally:
                    switch.disarm()
                    if worker.poll() is None:
                        worker.kill()
                        worker.wait()
                if worker.returncode != -signal.SIGKILL:
                    raise ChaosError(f"the mailer exited with {worker.returncode}; see {log}")
                killed += 1
            tally.extra["kills"] = killed
            worker = _start_worker("mailer", env, log)

            async def all_sent() -> bool:
                return await repository.emails.count_documents({"_id": {"$in": ids}, "status": {"$ne": SENT}}) == 0

            try:
                await settle(all_sent, timeout=60 + 0.1 * emails, interval=0.2)
            finally:
                worker.terminate()
                await asyncio.to_thread(worker.wait, 30)
        rows = await repository.emails.find({"_id": {"$in": ids}}).to_list()
    finally:
        await client.close()
    received, _ = server.snapshot()
    in_flight = Counter(switch.in_flight)
    _count_emails(tally, rows, expected, received)
    tally.extra.update(
        # kills that landed between the 250 and the mark: the e-mail in flight came again
        landed=sum(min(in_flight[m], received[m] - 1) for m in in_flight),
        # copies no kill accounts for: each kill may explain one copy of the e-mail it interrupted
        unexplained=sum(max(0, n - 1 - in_flight[m]) for m, n in received.items()),
        sent_rows=sum(1 for r in rows if r["status"] == SENT),
    )
    return tally


# --------------------------------------------------------------------------------------------- 9


CHAOS_OPERATOR_TOKEN = "chaos-operator-token"


def plan_body(number: str) -> dict[str, Any]:
    return {
        "issuer": "Đảng ủy phường",
        "number": number,
        "title": "Kế hoạch kiểm tra năm 2027",
        "assignments": [
            {"agency": "Uỷ ban nhân dân phường", "task": "Rà soát các hộ kinh doanh."},
            {"agency": "Các chi bộ trực thuộc", "task": "Phổ biến tới đảng viên."},
        ],
        "deadlines": [{"period": "2027-H1", "due": "2027-06-30"}],
    }


async def relay_kills(
    base: Path, amqp_url: str, mongo_url: str, database: str, kills: int, max_publishes: int, seed: int = 9
) -> Tally:
    """Intake runs as a process whose outbox relay SIGKILLs it after a random number of confirmed publishes,
    mid-batch, `kills` times; it is started again each time. Tracking must hold every assignment.created
    of intake's outbox exactly once."""
    rng = random.Random(seed)
    tally = Tally("outbox_relay_killed")
    intake_db = f"{database}_intake"
    port = free_port()
    env = {
        "AMQP_URL": amqp_url,
        "MONGO_URL": mongo_url,
        "INTAKE_MONGO_DATABASE": intake_db,
        "INTAKE_HTTP_PORT": str(port),
        "INTAKE_OUTBOX_POLL_SECONDS": "0.2",
        "LOG_LEVEL": "warning",
        "INTAKE_OUTBOX_LEASE_SECONDS": "1",
        "INTAKE_OPERATOR_TOKEN": CHAOS_OPERATOR_TOKEN,
    }
    duplicates_before = consumed("duplicate")
    posted = 0
    async with lifespan(tracking_app(amqp_url, mongo_url, database)), httpx.AsyncClient(timeout=10) as http:

        async def intake_ready() -> bool:
            try:
                return (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
            except httpx.HTTPError:
                return False

        killed = 0
        while killed < kills:
            threshold = rng.randint(1, max_publishes)
            worker = _start_worker("intake", {**env, "CHAOS_KILL_AFTER": str(threshold)}, base / "intake.log")
            try:
                if not await settle(lambda w=worker: intake_ready() if w.poll() is None else _true(), 60, 0.2):
                    raise ChaosError("intake did not become ready")
                deadline = time.monotonic() + 60
                while worker.poll() is None and time.monotonic() < deadline:
                    try:
                        response = await http.post(
                            f"http://127.0.0.1:{port}/plans",
                            json=plan_body(f"{uuid.uuid4().hex[:8]}-KH/ĐU"),
                            headers={"Authorization": f"Bearer {CHAOS_OPERATOR_TOKEN}"},
                        )
                        posted += response.status_code == 201
                    except httpx.HTTPError:
                        break  # it died under us; the outbox decides what must arrive
                    await settle(lambda w=worker: _exited(w), timeout=0.3, interval=0.05)
                await settle(lambda w=worker: _exited(w), timeout=30, interval=0.1)
            finally:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait()
                    raise ChaosError(f"intake's relay was not killed after {threshold} publishes")
            if worker.returncode != -9:
                raise ChaosError(f"intake exited with {worker.returncode}; see {base / 'intake.log'}")
            killed += 1
        tally.extra["kills"] = killed
        tally.extra["plans_accepted"] = posted
        worker = _start_worker("intake", env, base / "intake.log")
        try:
            client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
            outbox = client[intake_db]["outbox"]

            async def relayed() -> bool:
                return await outbox.count_documents({"status": {"$ne": "published"}}) == 0

            await settle(relayed, timeout=120)
            rows = await stored_rows(client[intake_db], {"event_type": "assignment.created"}, {"_id": 1, "status": 1})
            expected = {str(r["_id"]) for r in rows}
            await settle(lambda: all_stored(mongo_url, database, expected), timeout=120)
            await drained(amqp_url, lambda: consumed("duplicate"))
            tally.published = len(rows)
            tally.confirmed = sum(1 for r in rows if r["status"] == "published")
            await client.close()
        finally:
            worker.terminate()
            await asyncio.to_thread(worker.wait, 30)
        tally.dead_lettered = await dead_letter_count(amqp_url)
    await count_into(tally, mongo_url, database, expected)
    tally.extra["redelivered"] = int(consumed("duplicate") - duplicates_before)
    if not expected:
        raise ChaosError("intake's outbox holds no assignment.created at all")
    return tally


async def _true() -> bool:
    return True
