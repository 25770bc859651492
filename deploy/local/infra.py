"""Infrastructure on one machine: RabbitMQ, a MongoDB-wire server, and the processes we start.

Shared by `make run` (deploy/local/stack.py) and the test fixtures, so both start things the same way.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
import httpx
from pymongo import MongoClient

REPO = Path(__file__).resolve().parents[2]
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


class InfrastructureError(RuntimeError):
    """Something the system needs is not there; the message says what to do."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: object, timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(interval)
    raise InfrastructureError(f"timed out after {timeout:.0f}s waiting for {what}")


def amqp_answers(url: str) -> bool:
    async def probe() -> bool:
        try:
            connection = await aio_pika.connect(url, timeout=3)
        except Exception:  # noqa: BLE001 - any failure means "not reachable"
            return False
        await connection.close()
        return True

    return asyncio.run(probe())


def ensure_rabbitmq(url: str) -> None:
    """Use the broker at `url`; if it is the local default and down, start the local server."""
    if amqp_answers(url):
        return
    local = "127.0.0.1" in url or "localhost" in url
    server = shutil.which("rabbitmq-server")
    if not (local and server):
        raise InfrastructureError(
            f"RabbitMQ does not answer at {url}. Start one with `docker compose up rabbitmq` "
            "or set AMQP_URL to a broker that runs."
        )
    subprocess.run([server, "-detached"], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: amqp_answers(url), 90, f"the local RabbitMQ started by `{server} -detached`", 1.0)


def mongo_answers(url: str) -> bool:
    client: MongoClient[dict[str, object]] = MongoClient(url, serverSelectionTimeoutMS=1500)
    try:
        client.admin.command("ping")
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False
    finally:
        client.close()


@dataclass
class Processes:
    """Processes started by us, stopped by us in reverse order; their pids are kept in a file."""

    pid_file: Path | None = None
    started: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(self, name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = log_path.open("ab")
        process = subprocess.Popen(
            argv,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # Ctrl-C in the terminal reaches the runner, which stops these in order
        )
        self.started.append((name, process))
        if self.pid_file:
            with self.pid_file.open("a") as pids:
                pids.write(f"{process.pid} {name}\n")

    def check_alive(self) -> None:
        for name, process in self.started:
            if process.poll() is not None:
                raise InfrastructureError(f"{name} exited with code {process.returncode}; see its log")

    def kill(self, name: str) -> None:
        """SIGKILL the named process (a crash, for fault tests): no chance to finish anything."""
        for entry in list(self.started):
            if entry[0] == name:
                entry[1].kill()
                entry[1].wait()
                self.started.remove(entry)

    def stop(self, name: str | None = None, timeout: float = 15) -> None:
        for entry in reversed(list(self.started)):
            proc_name, process = entry
            if name is not None and proc_name != name:
                continue
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            self.started.remove(entry)


def start_mongo_stand_in(processes: Processes, data_dir: Path, log_path: Path, port: int | None = None) -> str:
    """Start SecantusDB (MongoDB wire protocol) as its own process; return its URL."""
    port = port or free_port()
    executable = Path(sys.executable).with_name("secantusd-py")
    if not executable.exists():
        raise InfrastructureError(f"{executable} is missing: run `make install` first")
    data_dir.mkdir(parents=True, exist_ok=True)
    processes.start(
        "secantusdb",
        [
            str(executable),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--storage-path",
            str(data_dir),
            "--log-level",
            "WARNING",
        ],
        log_path,
    )
    # Retryable writes make the stand-in slow down as writes accumulate; a real mongod keeps the default.
    url = f"mongodb://127.0.0.1:{port}/?retryWrites=false"
    wait_until(lambda: mongo_answers(url), 60, f"SecantusDB on port {port}")
    return url


def ensure_mongo(processes: Processes, data_dir: Path, log_path: Path) -> str:
    url = os.environ.get("MONGO_URL")
    if url:
        if not mongo_answers(url):
            raise InfrastructureError(f"MONGO_URL is set to {url} but no MongoDB answers there")
        return url
    return start_mongo_stand_in(processes, data_dir, log_path)


def http_ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
