"""Test infrastructure: the real RabbitMQ (in a vhost of its own per run), a MongoDB-wire server
(SecantusDB started on a free port unless MONGO_URL is given), and helpers for bounded waiting."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from deploy.local.infra import DEFAULT_AMQP_URL, Processes, ensure_rabbitmq, start_mongo_stand_in
from services.cli.broker_admin import BrokerAdminError, rabbitmqctl

TIERS = ("unit", "integration", "e2e", "deploy")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test's tier is the folder it lives in."""
    for item in items:
        for tier in TIERS:
            if f"/tests/{tier}/" in str(item.path):
                item.add_marker(getattr(pytest.mark, tier))


def random_ref(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """A fresh vhost on the local broker, so runs never see each other's queues; or AMQP_URL as given."""
    given = os.environ.get("AMQP_URL")
    if given:
        ensure_rabbitmq(given)
        yield given
        return
    ensure_rabbitmq(DEFAULT_AMQP_URL)
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        yield DEFAULT_AMQP_URL
        return
    vhost = random_ref("dondoc-test-")
    try:
        rabbitmqctl("add_vhost", vhost)
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    except BrokerAdminError as exc:
        # rabbitmqctl can hang when the node is overloaded; the default vhost still isolates well enough
        # because every test uses random identifiers.
        sys.stderr.write(f"rabbitmqctl failed ({exc!r}); testing in the default vhost\n")
        yield DEFAULT_AMQP_URL
        return
    yield f"{DEFAULT_AMQP_URL}{quote(vhost, safe='')}"
    try:
        rabbitmqctl("delete_vhost", vhost, check=False)
    except BrokerAdminError:
        pass  # a vhost left behind is harmless


@contextmanager
def mongo_server(folder: Path) -> Iterator[str]:
    """MONGO_URL when it is set; otherwise a SecantusDB of its own with its data in `folder`, stopped on exit."""
    given = os.environ.get("MONGO_URL")
    if given:
        yield given
        return
    processes = Processes()
    try:
        yield start_mongo_stand_in(processes, folder / "data", folder / "secantusdb.log")
    finally:
        processes.stop()


@pytest.fixture(scope="session")
def mongo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mongo_server(tmp_path_factory.mktemp("secantus")) as url:
        yield url


@pytest.fixture
def database_name() -> str:
    return random_ref("dondoc_test_")


async def eventually(
    probe: Callable[[], Awaitable[Any]], timeout: float = 30.0, interval: float = 0.1, what: str = "condition"
) -> Any:
    """Poll `probe` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


@pytest.fixture
async def mail_folder(tmp_path: Path) -> AsyncIterator[tuple[Path, int]]:
    """A real SMTP server (aiosmtpd) on a free port, writing each message to a folder."""
    from deploy.local.infra import free_port
    from deploy.local.smtp_sink import start_sink

    port = free_port()
    controller = start_sink(tmp_path / "mail", port=port)
    yield tmp_path / "mail", port
    controller.stop()
