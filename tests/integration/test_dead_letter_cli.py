"""`dondoc dlq`: list shows the reason, replay goes through the normal path, purge removes."""

from __future__ import annotations

import os
import subprocess
import sys

import aio_pika

from services.tracking.config import Settings
from services.tracking.main import create_app
from shared.contracts.topology import (
    DEAD_LETTER_EXCHANGE,
    DEAD_LETTERED_AT_HEADER,
    ORIGINAL_ROUTING_KEY_HEADER,
    REASON_HEADER,
    TRACKING_QUEUE,
)
from tests.conftest import eventually
from tests.integration.conftest import OPERATOR_TOKEN, running
from tests.integration.test_tracking_consumer import assignment_created

OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


def dondoc(amqp_url: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "dlq", *args, "--queue", "tracking"],
        env={**os.environ, "AMQP_URL": amqp_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_list_replay_and_purge(service_settings, amqp, amqp_url) -> None:
    app = create_app(service_settings(Settings))
    async with running(app) as http:
        dlq = await amqp.get_queue(TRACKING_QUEUE.dead_letter_queue)
        await dlq.purge()
        dead_exchange = await amqp.get_exchange(DEAD_LETTER_EXCHANGE)
        kept, dropped = assignment_created(), assignment_created()
        for event, reason in ((kept, "database schema bug, fixed in 1.2"), (dropped, "sent by mistake")):
            await dead_exchange.publish(
                aio_pika.Message(
                    event.model_dump_json().encode(),
                    message_id=event.event_id,
                    headers={
                        REASON_HEADER: reason,
                        ORIGINAL_ROUTING_KEY_HEADER: event.routing_key(),
                        DEAD_LETTERED_AT_HEADER: "2026-01-01T00:00:00+00:00",
                    },
                ),
                routing_key=TRACKING_QUEUE.name,
            )

        listing = dondoc(amqp_url, "list")
        assert "2 dead letter(s)" in listing and "database schema bug" in listing and kept.event_id in listing
        assert "1 dead letter(s) would be replayed" in dondoc(amqp_url, "replay", "--reason", "schema bug")
        assert "1 dead letter(s) replayed" in dondoc(amqp_url, "replay", "--id", kept.event_id, "--yes")

        async def recorded() -> bool:
            return (await http.get(f"/assignments/{kept.assignment_id}", headers=OPERATOR)).status_code == 200

        await eventually(recorded, what="the replayed event to be recorded by tracking")
        assert "1 dead letter(s) purged" in dondoc(amqp_url, "purge", "--older-than", "1d", "--yes")
        assert "0 dead letter(s)" in dondoc(amqp_url, "list")
        assert (await http.get(f"/assignments/{dropped.assignment_id}", headers=OPERATOR)).status_code == 404
