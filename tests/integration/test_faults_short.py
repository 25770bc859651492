"""The fault scenarios of `tests/chaos/` at small sizes, so `make test` proves the same properties on every
run: nothing lost, nothing stored twice, exactly the poison dead-lettered; no e-mail lost, exactly the 554s
failed, no e-mail twice but the one in flight at each kill. `make chaos` runs them in full."""

from __future__ import annotations

import pytest

from shared.platform import consumer
from tests.chaos import scenarios
from tests.chaos.harness import fresh_vhost, quiet_logs, rabbitmq_server


@pytest.fixture(autouse=True)
def _quiet():
    with quiet_logs():
        yield


@pytest.mark.skipif(rabbitmq_server() is None, reason="needs rabbitmq-server to start a node of its own")
async def test_broker_killed_and_restarted(tmp_path, mongo_url, database_name) -> None:
    tally = await scenarios.broker_restarts(
        tmp_path / "rabbit",
        mongo_url,
        database_name,
        events=1000,
        per_second=400,
        faults=["kill"],
        name="short_broker_restarts",
    )
    tally.check()


async def test_consumer_killed_between_write_and_ack(tmp_path, mongo_url, database_name) -> None:
    with fresh_vhost() as amqp_url:
        tally = await scenarios.consumer_kills(tmp_path, amqp_url, mongo_url, database_name, events=300, kills=3)
    tally.check()


async def test_every_message_delivered_two_to_five_times(mongo_url, database_name) -> None:
    with fresh_vhost() as amqp_url:
        tally = await scenarios.duplicate_deliveries(amqp_url, mongo_url, database_name, events=200)
    tally.check()
    assert tally.extra["redelivered"] == tally.extra["copies"] - 200


async def test_poison_among_good_messages(mongo_url, database_name) -> None:
    with fresh_vhost() as amqp_url:
        tally = await scenarios.poison(amqp_url, mongo_url, database_name, good=100, bad=10)
    tally.check(poison=10)
    assert tally.extra["dead_letters_with_reason"] == 10


async def test_database_killed_and_restarted(tmp_path, database_name, monkeypatch) -> None:
    monkeypatch.setattr(consumer, "RETRY_PAUSE_SECONDS", 0.2)
    with fresh_vhost() as amqp_url:
        tally = await scenarios.database_kill(
            tmp_path, amqp_url, database_name, events=400, per_second=300, down_seconds=2
        )
    tally.check()


async def test_proxy_latency_and_connection_resets(mongo_url, database_name) -> None:
    with fresh_vhost() as amqp_url:
        tally = await scenarios.proxy_faults(
            amqp_url,
            mongo_url,
            database_name,
            events=300,
            per_second=100,
            latency=(0.0, 0.005),
            reset_every=(0.7, 1.5),
        )
    tally.check()


async def test_smtp_421_for_a_while_then_250_and_a_permanent_554(mongo_url, database_name) -> None:
    tally = await scenarios.smtp_refusals(mongo_url, database_name, emails=20, refusals=40, rejected=4)
    tally.check(failed=4)
    assert tally.extra["refused_421"] == 40 and tally.extra["rejected_554"] == 4
    assert tally.extra["sent_rows"] == 20 and tally.extra["failed_554_once"] == 4


async def test_mailer_killed_between_250_and_marking_sent(tmp_path, mongo_url, database_name) -> None:
    tally = await scenarios.mailer_kills(tmp_path, mongo_url, database_name, emails=20, kills=3)
    tally.check(duplicates_allowed=3)
    assert tally.extra["kills"] == 3 and tally.extra["unexplained"] == 0
    assert tally.extra["sent_rows"] == 20


async def test_outbox_relay_killed_mid_batch(tmp_path, mongo_url, database_name) -> None:
    with fresh_vhost() as amqp_url:
        tally = await scenarios.relay_kills(tmp_path, amqp_url, mongo_url, database_name, kills=2, max_publishes=20)
    tally.check()
