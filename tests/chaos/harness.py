"""What the fault scenarios share: a RabbitMQ node and a MongoDB-wire server owned by the test, a
confirming producer that retries until the broker confirms, the tally of every message, and the
summary line each scenario prints (and appends to $CHAOS_SUMMARY_FILE for docs/reliability.md); for the
e-mail scenarios, a real SMTP server that counts what it accepts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import aio_pika
import structlog
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient

from deploy.local.infra import DEFAULT_AMQP_URL, REPO, free_port, mongo_answers
from services.cli.broker_admin import rabbitmqctl
from shared.contracts.events import AgencyRef, AssignmentCreated, ReportingDeadline
from shared.contracts.topology import EVENTS_EXCHANGE, TRACKING_QUEUE

SUMMARY_FILE_ENV = "CHAOS_SUMMARY_FILE"
UBND = AgencyRef(code="ubnd", kind="ubnd", name="Ủy ban nhân dân phường Hòa An")
ISSUER = AgencyRef(code="dang-uy", kind="office", name="Đảng ủy phường Hòa An")


class ChaosError(RuntimeError):
    """The scenario's machinery (not the system under test) could not do what it needed."""


# --------------------------------------------------------------------------------------------- tally


@dataclass
class Tally:
    """The counts of one scenario. `duplicated` is stored duplicates; `redelivered` counts the deliveries
    the consumer recognised as already applied (its `duplicate` outcome)."""

    scenario: str
    published: int = 0
    confirmed: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    dead_lettered: int = 0
    extra: dict[str, object] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        seconds = f"{time.monotonic() - self.started:.1f}"
        fields = {
            "scenario": self.scenario,
            "published": self.published,
            "confirmed": self.confirmed,
            "stored": self.stored,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "dead_lettered": self.dead_lettered,
            **self.extra,
            "seconds": seconds,
        }
        return " ".join(f"{key}={value}" for key, value in fields.items())

    def report(self) -> str:
        """Print the summary line (and keep it for the reliability record)."""
        return record_summary(self.line())

    def check(self, poison: int = 0) -> None:
        self.report()
        assert self.lost == 0, f"{self.lost} confirmed messages were never stored: {self.line()}"
        assert self.duplicated == 0, f"{self.duplicated} stored duplicates: {self.line()}"
        assert self.dead_lettered == poison, f"dead-lettered {self.dead_lettered}, expected {poison}: {self.line()}"


def record_summary(text: str) -> str:
    print(f"\n{text}", flush=True)  # noqa: T201 - the summary line is this test's output
    target = os.environ.get(SUMMARY_FILE_ENV)
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(text + "\n")
    return text


@dataclass
class MailTally:
    """The counts of an e-mail scenario (7, 8), from the notifier's `emails` collection and what the SMTP
    server accepted: `queued` rows, `delivered` distinct Message-IDs accepted (250), `lost` rows that should
    have been delivered and were not, `duplicated` copies accepted beyond the first per Message-ID, `failed`
    rows that ended with status failed."""

    scenario: str
    queued: int = 0
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0
    failed: int = 0
    extra: dict[str, object] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        fields = {
            "scenario": self.scenario,
            "queued": self.queued,
            "delivered": self.delivered,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "failed": self.failed,
            **self.extra,
            "seconds": f"{time.monotonic() - self.started:.1f}",
        }
        return " ".join(f"{key}={value}" for key, value in fields.items())

    def report(self) -> str:
        return record_summary(self.line())

    def check(self, failed: int = 0, duplicates_allowed: int = 0) -> None:
        """lost = 0, at most `duplicates_allowed` copies, and exactly `failed` rows failed."""
        self.report()
        assert self.lost == 0, f"{self.lost} e-mails were never delivered: {self.line()}"
        assert self.duplicated <= duplicates_allowed, (
            f"{self.duplicated} duplicate e-mails, at most {duplicates_allowed} allowed: {self.line()}"
        )
        assert self.failed == failed, f"{self.failed} e-mails failed, expected {failed}: {self.line()}"


def consumed(outcome: str, event_type: str = "assignment.created") -> float:
    value = REGISTRY.get_sample_value(
        "dondoc_messages_consumed_total", {"service": "tracking", "event_type": event_type, "outcome": outcome}
    )
    return value or 0.0


# --------------------------------------------------------------------------------------------- events


def assignment_events(count: int, plan_id: str | None = None) -> list[AssignmentCreated]:
    plan_id = plan_id or f"plan{uuid.uuid4().hex[:10]}"
    due = datetime.now(UTC) + timedelta(days=30)
    return [
        AssignmentCreated(
            correlation_id=plan_id,
            agency=UBND,
            actor=ISSUER,
            assignment_id=f"a{uuid.uuid4().hex[:16]}",
            plan_id=plan_id,
            plan_number="3-KH/ĐU",
            plan_title="Kế hoạch thử",
            issuer=ISSUER,
            task="Báo cáo kết quả",
            deadlines=[ReportingDeadline(period="2027-H1", due_at=due)],
        )
        for _ in range(count)
    ]


@dataclass(frozen=True)
class Outgoing:
    routing_key: str
    body: bytes
    message_id: str


def outgoing(events: Iterable[AssignmentCreated]) -> list[Outgoing]:
    return [Outgoing(e.routing_key(), e.model_dump_json().encode(), e.event_id) for e in events]


# --------------------------------------------------------------------------------------------- counting


async def tracking_records(mongo_url: str, database: str) -> tuple[Counter[str], Counter[str]]:
    """assignment.created rows in tracking's audit trail: how many per event_id and per assignment_id."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, serverSelectionTimeoutMS=5000)
    try:
        rows = (
            await client[database]["events"]
            .find({"event_type": "assignment.created"}, {"_id": 1, "assignment_id": 1})
            .to_list()
        )
    finally:
        await client.close()
    return Counter(str(r["_id"]) for r in rows), Counter(str(r["assignment_id"]) for r in rows)


def stored_duplicates(by_event: Counter[str], by_assignment: Counter[str]) -> int:
    return sum(n - 1 for n in by_event.values() if n > 1) + sum(n - 1 for n in by_assignment.values() if n > 1)


async def settle(probe: Callable[[], Awaitable[bool]], timeout: float, interval: float = 0.5) -> bool:
    """Poll until `probe` holds or `timeout` passes; the caller reports the figures either way."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await probe():
            return True
        await asyncio.sleep(interval)
    return False


async def queue_depth(amqp_url: str, queue: str = TRACKING_QUEUE.name) -> int | None:
    """Messages ready in `queue` (None if the broker does not answer)."""
    try:
        connection = await aio_pika.connect(amqp_url, timeout=5)
    except Exception:  # noqa: BLE001 - unreachable is an answer too
        return None
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)
    finally:
        await connection.close()


async def drained(amqp_url: str, metric: Callable[[], float], quiet_seconds: float = 1.5, timeout: float = 60) -> None:
    """Wait until the queue is empty and `metric` has stopped moving, so late redeliveries are counted."""
    deadline = time.monotonic() + timeout
    last, since = metric(), time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        now = metric()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_seconds and await queue_depth(amqp_url) == 0:
            return


# --------------------------------------------------------------------------------------------- producer


class Producer:
    """Publishes persistent, mandatory messages with confirms over a robust connection; a message whose
    confirm did not come is sent again (same message_id) until it is confirmed, so nothing is given up."""

    def __init__(self, amqp_url: str, concurrency: int = 32, give_up_after: float = 240.0) -> None:
        self._url = amqp_url
        self._concurrency = concurrency
        self._give_up_after = give_up_after
        self.attempts = 0
        self.failures = 0
        self.confirmed: set[str] = set()
        self.sent: set[str] = set()
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None
        self._exchange: aio_pika.abc.AbstractExchange | None = None

    async def __aenter__(self) -> Producer:
        self._connection = await aio_pika.connect_robust(self._url, reconnect_interval=0.5, fail_fast="false")
        channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        self._exchange = await channel.get_exchange(EVENTS_EXCHANGE, ensure=False)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def send(self, item: Outgoing, headers: dict[str, Any] | None = None) -> None:
        if self._exchange is None:
            raise ChaosError("use the producer as an async context manager")
        deadline = time.monotonic() + self._give_up_after
        self.sent.add(item.message_id)
        while True:
            self.attempts += 1
            try:
                message = aio_pika.Message(
                    item.body,
                    message_id=item.message_id,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    content_type="application/json",
                    headers=headers or {},
                )
                await self._exchange.publish(message, routing_key=item.routing_key, mandatory=True, timeout=10)
            except Exception as exc:  # noqa: BLE001 - broker gone, channel closed, confirm lost: send again
                self.failures += 1
                if time.monotonic() > deadline:
                    raise ChaosError(f"message {item.message_id} not confirmed in {self._give_up_after}s") from exc
                await asyncio.sleep(0.25)
                continue
            self.confirmed.add(item.message_id)
            return

    async def send_all(self, items: list[Outgoing], per_second: float | None = None) -> None:
        """Send everything, `concurrency` at a time, paced to `per_second` if given."""
        limiter = asyncio.Semaphore(self._concurrency)
        started = time.monotonic()

        async def one(index: int, item: Outgoing) -> None:
            async with limiter:
                if per_second:
                    due = started + index / per_second
                    if due > time.monotonic():
                        await asyncio.sleep(due - time.monotonic())
                await self.send(item)

        await asyncio.gather(*(one(i, item) for i, item in enumerate(items)))


# --------------------------------------------------------------------------------------------- infrastructure


def spawn(
    argv: list[str], log_path: Path, env: dict[str, str] | None = None, cwd: Path = REPO
) -> subprocess.Popen[bytes]:
    """Start a process in a session of its own (so the whole group can be killed), output to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


async def amqp_ready(url: str) -> bool:
    try:
        connection = await aio_pika.connect(url, timeout=3)
    except Exception:  # noqa: BLE001 - any failure means "not yet"
        return False
    await connection.close()
    return True


def with_host(url: str, host_port: str) -> str:
    parts = urlsplit(url)
    credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit((parts.scheme, credentials + host_port, parts.path, parts.query, parts.fragment))


@contextlib.contextmanager
def fresh_vhost() -> Iterator[str]:
    """A vhost of its own on the machine's broker (created and deleted with rabbitmqctl), or AMQP_URL."""
    given = os.environ.get("AMQP_URL")
    ctl = shutil.which("rabbitmqctl")
    if given or ctl is None:
        yield given or DEFAULT_AMQP_URL
        return
    vhost = f"dondoc-chaos-{uuid.uuid4().hex[:10]}"
    rabbitmqctl("add_vhost", vhost, check=True)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*", check=True)
    try:
        yield f"{DEFAULT_AMQP_URL}{quote(vhost, safe='')}"
    finally:
        rabbitmqctl("delete_vhost", vhost, check=False)


def rabbitmq_server() -> str | None:
    """The server script that honours RABBITMQ_* variables (Debian's /usr/sbin wrapper switches user)."""
    direct = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
    if direct.exists():
        return str(direct)
    return shutil.which("rabbitmq-server")


class RabbitNode:
    """A RabbitMQ node of the test's own: its own node name, ports, data, logs and Erlang cookie, so
    stopping or killing it disturbs nothing else (the machine's node on 5672 is never touched)."""

    def __init__(self, base: Path) -> None:
        server = rabbitmq_server()
        if server is None:
            raise ChaosError("rabbitmq-server is not installed")
        self.server = server
        self.base = base
        self.name = f"chaos-{uuid.uuid4().hex[:8]}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        base.mkdir(parents=True, exist_ok=True)
        (base / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n"
            "log.console = false\nlog.file.level = warning\n"
        )
        (base / "enabled_plugins").write_text("[].\n")
        (base / "rabbitmq-env.conf").write_text("")

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _env(self) -> dict[str, str]:
        base = str(self.base)
        return {
            **os.environ,
            "HOME": base,  # its own Erlang cookie; never the main node's
            "RABBITMQ_CONF_ENV_FILE": f"{base}/rabbitmq-env.conf",
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": f"{base}/mnesia",
            "RABBITMQ_LOG_BASE": f"{base}/log",
            "RABBITMQ_CONFIG_FILE": f"{base}/rabbitmq",
            "RABBITMQ_ADVANCED_CONFIG_FILE": f"{base}/advanced.config",
            "RABBITMQ_ENABLED_PLUGINS_FILE": f"{base}/enabled_plugins",
            "RABBITMQ_PLUGINS_EXPAND_DIR": f"{base}/plugins-expand",
            "RABBITMQ_FEATURE_FLAGS_FILE": f"{base}/feature_flags",
            "RABBITMQ_PID_FILE": f"{base}/pid",
            "RABBITMQ_QUORUM_DIR": f"{base}/mnesia/quorum",
        }

    async def start(self, timeout: float = 90) -> None:
        self.process = spawn([self.server], self.base / "server.out", self._env(), cwd=self.base)
        if not await settle(lambda: amqp_ready(self.url), timeout, interval=0.5):
            raise ChaosError(f"RabbitMQ node {self.name} did not answer on {self.port} in {timeout}s")

    async def stop(self, timeout: float = 60) -> None:
        """Graceful stop (SIGTERM: the server script stops the node properly)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        await self._wait_gone(timeout)

    async def kill(self) -> None:
        """SIGKILL the whole node (script, Erlang VM and its helpers) with no chance to clean up."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        await self._wait_gone(30)

    async def _wait_gone(self, timeout: float) -> None:
        process = self.process
        if process is None:
            return
        try:
            await asyncio.to_thread(process.wait, timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            await asyncio.to_thread(process.wait, 30)

        # the VM may outlive the script for a moment; the node is gone when nothing in its group is left
        async def group_gone() -> bool:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return True
            return False

        if not await settle(group_gone, timeout, interval=0.2):
            os.killpg(process.pid, signal.SIGKILL)

    async def close(self) -> None:
        await self.stop()
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)


class MongoStandIn:
    """SecantusDB owned by the test, so the test may SIGKILL it and start it again on the same data."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        base.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?retryWrites=false"

    async def start(self, timeout: float = 60) -> None:
        executable = Path(sys.executable).with_name("secantusd-py")
        self.process = spawn(
            [
                str(executable),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--storage-path",
                str(self.base / "data"),
                "--log-level",
                "WARNING",
            ],
            self.base / "secantusdb.log",
        )

        async def answers() -> bool:
            return await asyncio.to_thread(mongo_answers, self.url)

        if not await settle(answers, timeout, interval=0.3):
            raise ChaosError(f"SecantusDB did not answer on {self.port} in {timeout}s")

    async def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            await asyncio.to_thread(self.process.wait, 30)

    async def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                await asyncio.to_thread(self.process.wait, 15)
            except subprocess.TimeoutExpired:
                await self.kill()


class MailServer:
    """An aiosmtpd handler that counts every message it accepts by Message-ID. `answer(recipients)` may
    refuse a message (return an SMTP reply such as "421 …" or "554 …"; None accepts it) and `accepted(id)`
    is called on the server's event loop right after a message is taken, just before its 250 is written."""

    def __init__(
        self,
        answer: Callable[[list[str]], str | None] | None = None,
        accepted: Callable[[str], None] | None = None,
    ) -> None:
        self.answer = answer
        self.accepted = accepted
        self.received: Counter[str] = Counter()
        self.replies: Counter[str] = Counter()
        self._lock = threading.Lock()  # the server runs in a thread of its own; the test reads from its loop

    def snapshot(self) -> tuple[Counter[str], Counter[str]]:
        """Copies of (accepted per Message-ID, replies per code)."""
        with self._lock:
            return Counter(self.received), Counter(self.replies)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        refusal = self.answer(list(envelope.rcpt_tos)) if self.answer else None
        if refusal:
            with self._lock:
                self.replies[refusal[:3]] += 1
            return refusal
        headers = BytesHeaderParser().parsebytes(envelope.original_content or envelope.content or b"")
        message_id = str(headers.get("Message-ID", "")).strip()
        with self._lock:
            self.received[message_id] += 1
            self.replies["250"] += 1
        if self.accepted is not None:
            self.accepted(message_id)
        return "250 2.0.0 OK: queued"


@contextlib.contextmanager
def smtp_server(handler: MailServer) -> Iterator[int]:
    """A real SMTP server (aiosmtpd, in a thread of its own) on a free port; yields the port."""
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[FastAPI]:
    """Run a service in-process: broker, database, consumers and background loops, no HTTP server."""
    async with app.router.lifespan_context(app):
        yield app


@contextlib.contextmanager
def quiet_logs(level: int = logging.WARNING) -> Iterator[None]:
    """Keep only warnings (or `level`) from the services' per-message log lines for the length of a scenario."""
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(level))
    try:
        yield
    finally:
        structlog.configure(**saved)
