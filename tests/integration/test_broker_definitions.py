"""The definitions file docker compose loads at boot, imported into the real broker: each service runs on
its own user, which reaches only the exchanges and its own queues; the administrator exists because a node
that imports definitions at boot creates no default user."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import aio_pika
import pytest
from aio_pika.exceptions import ChannelClosed

from services.cli.broker_admin import rabbitmqctl
from services.tracking.config import Settings
from services.tracking.main import create_app
from shared.contracts.topology import EVENTS_EXCHANGE, TRACKING_QUEUE
from tests.conftest import eventually, random_ref
from tests.integration.conftest import OPERATOR, running
from tests.integration.test_broker_identity import DIRECTORY
from tests.integration.test_tracking_consumer import assignment_created


@pytest.fixture
def imported(tmp_path: Path) -> Iterator[dict[str, str]]:
    """`dondoc agencies definitions` for a fresh vhost, imported with rabbitmqctl; AMQP URLs by user."""
    if shutil.which("rabbitmqctl") is None or os.environ.get("AMQP_URL"):
        pytest.skip("needs the local broker's rabbitmqctl")
    vhost, prefix = random_ref("dondoc-defs-"), random_ref("d") + "-"
    directory, output = tmp_path / "directory.yaml", tmp_path / "definitions.json"
    directory.write_text(DIRECTORY, encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.cli",
            "agencies",
            "definitions",
            "--directory",
            str(directory),
            "--vhost",
            vhost,
            "--user-prefix",
            prefix,
            "--agency-prefix",
            prefix,
            "-o",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    passwords = dict(line.split("\t")[:2] for line in result.stdout.splitlines() if "\t" in line)
    document = json.loads(output.read_text(encoding="utf-8"))
    assert {u["name"] for u in document["users"]} == set(passwords)
    assert "guest" not in passwords and all(password not in output.read_text() for password in passwords.values())
    # Debian's rabbitmqctl runs as the rabbitmq user, who cannot read pytest's private folders.
    readable = Path(tempfile.mkstemp(prefix="dondoc-definitions-", suffix=".json")[1])
    readable.write_bytes(output.read_bytes())
    readable.chmod(0o644)
    try:
        rabbitmqctl("import_definitions", str(readable), timeout=120)
    finally:
        readable.unlink()
    urls = {
        user.removeprefix(prefix): f"amqp://{user}:{pw}@127.0.0.1:5672/{quote(vhost, safe='')}"
        for user, pw in passwords.items()
    }
    yield urls
    for user in passwords:
        rabbitmqctl("delete_user", user, check=False)
    rabbitmqctl("delete_vhost", vhost, check=False)


async def refused(url: str, action) -> bool:  # type: ignore[no-untyped-def]  # a test helper; action is any coroutine on a channel
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        try:
            await action(channel)
        except ChannelClosed as exc:
            return "ACCESS_REFUSED" in str(exc)
        return False
    finally:
        await connection.close()


async def test_each_service_runs_on_its_own_user_and_reaches_only_its_own_queues(imported, service_settings) -> None:
    assert set(imported) >= {"dondoc-admin", "dondoc-intake", "dondoc-tracking", "dondoc-notifier"}
    app = create_app(service_settings(Settings, AMQP_URL=imported["dondoc-tracking"]))
    event = assignment_created()
    async with running(app, OPERATOR) as http:  # declares its topology and consumes as dondoc-tracking
        connection = await aio_pika.connect(imported["dondoc-intake"])
        try:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(EVENTS_EXCHANGE, ensure=False)
            await exchange.publish(aio_pika.Message(event.model_dump_json().encode()), routing_key=event.routing_key())
        finally:
            await connection.close()

        async def recorded() -> bool:
            return (await http.get(f"/assignments/{event.assignment_id}")).status_code == 200

        await eventually(recorded, what="tracking, on its own user, to record what intake's user published")

    async def read_tracking_queue(channel: aio_pika.abc.AbstractChannel) -> None:
        await (await channel.get_queue(TRACKING_QUEUE.name, ensure=False)).get(fail=False)

    async def purge_tracking_queue(channel: aio_pika.abc.AbstractChannel) -> None:
        await (await channel.get_queue(TRACKING_QUEUE.name, ensure=False)).purge()

    assert await refused(imported["dondoc-intake"], read_tracking_queue)
    assert await refused(imported["dondoc-notifier"], purge_tracking_queue)
    assert await refused(imported["ubnd"], read_tracking_queue)
    assert not await refused(imported["dondoc-admin"], read_tracking_queue)
