"""Broker identities, provisioned from the directory: the broker itself refuses an agency that
publishes under another agency's routing key, forges a user_id, or reads another agency's queue."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import aio_pika
import pytest
from aio_pika.exceptions import ChannelClosed

from deploy.local.infra import DEFAULT_AMQP_URL
from services.cli.broker_admin import rabbitmqctl
from shared.contracts.topology import EVENTS_EXCHANGE
from tests.conftest import random_ref

DIRECTORY = """
agencies:
  - {code: ubnd, kind: ubnd, name: Ủy ban nhân dân phường}
  - {code: chi-bo-khu-1, kind: party_cell, name: Chi bộ khu dân cư số 1}
"""


@pytest.fixture
def provisioned(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    ctl = shutil.which("rabbitmqctl")
    if ctl is None or os.environ.get("AMQP_URL"):
        pytest.skip("needs the local broker's rabbitmqctl")
    vhost, prefix = random_ref("dondoc-identity-"), random_ref("p") + "-"
    rabbitmqctl("add_vhost", vhost, check=True)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*", check=True)
    directory = tmp_path / "directory.yaml"
    directory.write_text(DIRECTORY, encoding="utf-8")
    admin_url = f"{DEFAULT_AMQP_URL}{quote(vhost, safe='')}"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.cli",
            "agencies",
            "provision",
            "--directory",
            str(directory),
            "--vhost",
            vhost,
            "--user-prefix",
            prefix,
            "--agency-prefix",
            prefix,
            "--amqp-url",
            admin_url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    urls = {}
    for line in result.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[1].startswith(prefix):
            urls[parts[0]] = f"amqp://{parts[1]}:{parts[2]}@127.0.0.1:5672/{quote(vhost, safe='')}"
    assert set(urls) == {"ubnd", "chi-bo-khu-1"}, result.stdout
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.cli",
            "agencies",
            "provision",
            "--directory",
            str(directory),
            "--vhost",
            vhost,
            "--user-prefix",
            prefix,
            "--agency-prefix",
            prefix,
            "--amqp-url",
            admin_url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0 and "new" not in again.stdout  # idempotent: no new users, no passwords shown
    yield prefix, urls
    for code in urls:
        rabbitmqctl("delete_user", f"{prefix}{code}", check=False)
    rabbitmqctl("delete_vhost", vhost, check=False)


async def publish_as(url: str, user_id: str | None, routing_key: str) -> None:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EVENTS_EXCHANGE, ensure=False)
        await exchange.publish(aio_pika.Message(b"{}", user_id=user_id), routing_key=routing_key)
    finally:
        await connection.close()


async def test_the_broker_refuses_what_an_agency_may_not_do(provisioned) -> None:
    prefix, urls = provisioned
    cell_user = f"{prefix}chi-bo-khu-1"
    accepted_cross_agency = 0

    await publish_as(urls["chi-bo-khu-1"], cell_user, "command.acknowledge.party_cell.chi-bo-khu-1")  # its own: fine

    with pytest.raises(ChannelClosed, match="ACCESS_REFUSED"):
        await publish_as(urls["chi-bo-khu-1"], cell_user, "command.acknowledge.ubnd.ubnd")
        accepted_cross_agency += 1
    # Its own code under another kind (the broker once let `command.progress.ubnd.<own code>` through), and the
    # answer only tracking gives: refused too.
    for key in ("command.progress.ubnd.chi-bo-khu-1", "command.rejected.party_cell.chi-bo-khu-1"):
        with pytest.raises(ChannelClosed, match="ACCESS_REFUSED"):
            await publish_as(urls["chi-bo-khu-1"], cell_user, key)
            accepted_cross_agency += 1
    with pytest.raises(ChannelClosed, match="PRECONDITION_FAILED"):
        await publish_as(urls["chi-bo-khu-1"], f"{prefix}ubnd", "command.acknowledge.party_cell.chi-bo-khu-1")
        accepted_cross_agency += 1

    connection = await aio_pika.connect(urls["chi-bo-khu-1"])
    try:
        channel = await connection.channel()
        own = await channel.get_queue("agency.chi-bo-khu-1", ensure=True)
        assert own.name == "agency.chi-bo-khu-1"
        with pytest.raises(ChannelClosed, match="ACCESS_REFUSED"):
            other_channel = await connection.channel()
            await (await other_channel.get_queue("agency.ubnd", ensure=True)).get(fail=False)
            accepted_cross_agency += 1
    finally:
        await connection.close()
    assert accepted_cross_agency == 0
