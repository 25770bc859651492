"""The database goes away while messages arrive: the consumer pauses instead of burning deliveries,
and everything is recorded once the database is back — nothing lost, nothing dead-lettered."""

from __future__ import annotations

import asyncio

import httpx
from prometheus_client import REGISTRY

from deploy.local.infra import Processes, free_port, start_mongo_stand_in
from services.tracking.config import Settings
from services.tracking.main import create_app
from shared.contracts.topology import TRACKING_QUEUE
from shared.platform import consumer
from tests.conftest import eventually
from tests.integration.conftest import OPERATOR_TOKEN, running
from tests.integration.test_tracking_consumer import assignment_created, publish

OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


def dead_lettered() -> float:
    return (
        REGISTRY.get_sample_value(
            "dondoc_messages_consumed_total",
            {"service": "tracking", "event_type": "assignment.created", "outcome": "dead_lettered"},
        )
        or 0.0
    )


async def test_the_consumer_waits_out_a_database_outage_and_loses_nothing(
    amqp_url, amqp, tmp_path, database_name, monkeypatch
) -> None:
    monkeypatch.setattr(consumer, "RETRY_PAUSE_SECONDS", 0.2)
    processes = Processes()
    port = free_port()
    data = tmp_path / "db"
    url = start_mongo_stand_in(processes, data, tmp_path / "db.log", port=port)
    settings = Settings(
        AMQP_URL=amqp_url,
        MONGO_URL=url,
        mongo_database=database_name,
        operator_token=OPERATOR_TOKEN,
        outbox_poll_seconds=0.2,
    )
    app = create_app(settings)
    try:
        async with running(app) as http:
            dlq = await amqp.get_queue(TRACKING_QUEUE.dead_letter_queue)
            await dlq.purge()
            dead_before = dead_lettered()
            processes.stop("secantusdb")
            events = [assignment_created() for _ in range(20)]
            for event in events:
                await publish(amqp, event.routing_key(), event.model_dump_json().encode())
            await asyncio.sleep(1)  # the consumer meets the outage
            # Meanwhile an operator's request is told the database is away and when to retry (not a 500).
            try:
                answer: object = await http.get(f"/assignments/{events[0].assignment_id}", headers=OPERATOR)
            except Exception as exc:  # noqa: BLE001 - asserted below, once the database is back (or shutdown hangs)
                answer = exc
            start_mongo_stand_in(processes, data, tmp_path / "db.log", port=port)
            assert isinstance(answer, httpx.Response), f"the request raised {answer!r}"
            assert answer.status_code == 503 and answer.headers["Retry-After"] == "5", answer.text
            assert "Cơ sở dữ liệu tạm thời không truy cập được" in answer.json()["detail"]

            async def all_recorded() -> bool:
                for event in events:
                    response = await http.get(f"/assignments/{event.assignment_id}", headers=OPERATOR)
                    if response.status_code != 200:
                        return False
                return True

            await eventually(all_recorded, timeout=60, interval=0.5, what="every event recorded after the outage")
            for event in events:
                history = (await http.get(f"/assignments/{event.assignment_id}/history", headers=OPERATOR)).json()
                assert [e["event_id"] for e in history["events"]] == [event.event_id]
            assert dead_lettered() == dead_before
            assert await dlq.get(no_ack=True, fail=False) is None
    finally:
        processes.stop()
