"""What the benchmark needs around the system: RabbitMQ vhosts and agency users (rabbitmqctl), a generated
agency directory, the services as separate processes, their peak memory, and the machine's description."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from urllib.parse import quote

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from deploy.local.infra import DEFAULT_AMQP_URL, REPO, Processes, free_port, http_ready, wait_until
from shared.contracts.topology import EVENTS_EXCHANGE

ISSUER = "dang-uy-xa"
GROUP = "cac-chi-bo"
GROUP_NAME = "Các chi bộ trực thuộc"

OPERATOR_TOKEN = "benchmark-operator-token"  # each service accepts it (the stack lives for one run)
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


def ctl() -> str:
    found = shutil.which("rabbitmqctl")
    if found is None:
        raise RuntimeError("rabbitmqctl is needed to create the benchmark's vhosts and agency users")
    return found


def _run(*args: str) -> None:
    subprocess.run([ctl(), *args], check=True, capture_output=True, timeout=300)


@dataclass
class Vhost:
    """A RabbitMQ vhost of its own for one part of the run; deleted (with its users) at the end."""

    name: str = field(default_factory=lambda: f"dondoc-bench-{uuid.uuid4().hex[:8]}")
    users: list[str] = field(default_factory=list)

    def create(self) -> Vhost:
        _run("add_vhost", self.name)
        _run("set_permissions", "-p", self.name, "guest", ".*", ".*", ".*")
        return self

    @property
    def url(self) -> str:
        return f"{DEFAULT_AMQP_URL}{quote(self.name, safe='')}"

    def add_agency_users(self, names: list[str]) -> dict[str, str]:
        """Broker users that may only publish to the events exchange (as agencies' systems do); name -> URL."""
        passwords = {name: uuid.uuid4().hex for name in names}

        def add(name: str) -> None:
            _run("add_user", name, passwords[name])
            _run("set_permissions", "-p", self.name, name, "^$", f"^{EVENTS_EXCHANGE}$", "^$")

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(add, names))
        self.users += names
        return {name: f"amqp://{name}:{passwords[name]}@127.0.0.1:5672/{quote(self.name, safe='')}" for name in names}

    def delete(self) -> None:
        for user in self.users:
            subprocess.run([ctl(), "delete_user", user], check=False, capture_output=True, timeout=120)
        subprocess.run([ctl(), "delete_vhost", self.name], check=False, capture_output=True, timeout=600)


def cell_code(index: int) -> str:
    return f"chi-bo-{index:05d}"


def write_directory(path: Path, cells: int) -> Path:
    """An issuer, and `cells` party cells gathered by one group that names its members by kind."""
    agencies = [
        {
            "code": ISSUER,
            "kind": "office",
            "name": "Đảng ủy xã Thử Nghiệm",
            "aliases": ["Đảng ủy xã"],
            "emails": ["dang-uy@bench.example"],
        }
    ]
    agencies += [
        {
            "code": cell_code(i),
            "kind": "party_cell",
            "name": f"Chi bộ số {i}",
            "emails": [f"{cell_code(i)}@bench.example"],
            "parent": ISSUER,
        }
        for i in range(1, cells + 1)
    ]
    groups = [{"code": GROUP, "name": GROUP_NAME, "member_kinds": ["party_cell"]}]
    path.write_text(yaml.safe_dump({"agencies": agencies, "groups": groups}, allow_unicode=True), encoding="utf-8")
    return path


@dataclass
class Services:
    """The services as separate processes (`python -m services.<name>`), as the end-to-end test runs them."""

    folder: Path
    amqp_url: str
    mongo_url: str
    run_id: str
    directory: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: Processes = field(default_factory=Processes)
    ports: dict[str, int] = field(default_factory=dict)

    def database(self, name: str) -> str:
        return f"bench_{name}_{self.run_id}"

    def start(self, name: str, timeout: float = 900) -> None:
        port = self.ports.setdefault(name, free_port())
        env = {
            "AMQP_URL": self.amqp_url,
            "MONGO_URL": self.mongo_url,
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "info",
            f"{name.upper()}_HTTP_PORT": str(port),
            f"{name.upper()}_MONGO_DATABASE": self.database(name),
            f"{name.upper()}_OPERATOR_TOKEN": OPERATOR_TOKEN,
            **self.extra_env,
        }
        if self.directory is not None:
            env["DIRECTORY_PATH"] = str(self.directory)
        log = self.folder / f"{name}.log"
        self.processes.start(name, [sys.executable, "-m", f"services.{name}"], log, env)
        wait_until(
            lambda: (self.processes.check_alive(), http_ready(f"{self.url(name)}/readyz"))[1],
            timeout,
            f"{name} ready (log {log})",
            interval=0.5,
        )

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    async def recorded(self, name: str, event_type: str) -> int:
        """Messages of this type the service has acked after writing them (processed, or recognised as a copy),
        from its /metrics. The clock polls this, not the database: on the stand-in a count walks the whole
        collection (0.35 s at 50,000 documents), and polling two collections twice a second took a large share
        of the database from the system being measured. The raw ceiling also stops on its own acks."""
        async with httpx.AsyncClient(timeout=30) as http:
            text = (await http.get(f"{self.url(name)}/metrics")).text
        return int(
            sum(
                sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples
                if sample.name == "dondoc_messages_consumed_total"
                and sample.labels.get("event_type") == event_type
                and sample.labels.get("outcome") in ("processed", "duplicate")
            )
        )

    def pid(self, name: str) -> int:
        return next(p.pid for n, p in self.processes.started if n == name)

    def peak_rss_mb(self, name: str) -> float:
        """VmHWM: the process's peak resident memory since it started."""
        for line in Path(f"/proc/{self.pid(name)}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.processes.stop()


def machine() -> dict[str, str]:
    memory = "?"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    try:
        rabbit = subprocess.run([ctl(), "version"], capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, RuntimeError, subprocess.SubprocessError):
        rabbit = "?"
    try:
        secantus = metadata.version("SecantusDB")
    except metadata.PackageNotFoundError:
        secantus = "?"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "cpus": str(os.cpu_count()),
        "memory": memory,
        "python": platform.python_version(),
        "rabbitmq": rabbit or "?",
        "secantusdb": secantus,
        "kernel": platform.release(),
        "load": load,
        "repo": str(REPO),
    }
