"""The fault scenarios at full size (`make chaos`): each prints its summary line and asserts lost = 0,
stored duplicates = 0 and dead-lettered = exactly the poison sent; for the e-mail scenarios (7, 8) lost = 0,
failed = exactly the 554s, and no duplicate but the one e-mail in flight at each kill."""

from __future__ import annotations

import pytest

from shared.platform import consumer
from tests.chaos import scenarios
from tests.chaos.harness import fresh_vhost, quiet_logs, rabbitmq_server

pytestmark = pytest.mark.chaos


@pytest.fixture(autouse=True)
def _quiet():
    with quiet_logs():
        yield


@pytest.mark.skipif(rabbitmq_server() is None, reason="needs rabbitmq-server to start a node of its own")
async def test_1_broker_stopped_three_times_and_killed_once(tmp_path, mongo_url, database_name) -> None:
    tally = await scenarios.broker_restarts(
        tmp_path / "rabbit",
        mongo_url,
        database_name,
        events=20_000,
        per_second=600,
        faults=["stop", "stop", "stop", "kill"],
    )
    tally.check()
    assert tally.extra["faults"] == "stop,stop,stop,kill"


async def test_2_consumer_killed_after_write_before_ack_50_times(tmp_path, mongo_url, database_name) -> None:
    with fresh_vhost() as amqp_url:
        tally = await scenarios.consumer_kills(tmp_path, amqp_url, mongo_url, database_name, events=6000, kills=50)
    tally.check()
    assert tally.extra["kills"] == 50


async def test_3_every_message_delivered_two_to_five_times(mongo_url, database_name) -> None:
    with fresh_vhost() as amqp_url:
        tally = await scenarios.duplicate_deliveries(amqp_url, mongo_url, database_name, events=3000)
    tally.check()
    assert tally.extra["redelivered"] == tally.extra["copies"] - 3000


async def test_4_hundred_poison_among_a_thousand(mongo_url, database_name) -> None:
    with fresh_vhost() as amqp_url:
        tally = await scenarios.poison(amqp_url, mongo_url, database_name, good=1000, bad=100)
    tally.check(poison=100)
    assert tally.extra["dead_letters_with_reason"] == 100


async def test_5_database_killed_and_restarted(tmp_path, database_name, monkeypatch) -> None:
    monkeypatch.setattr(consumer, "RETRY_PAUSE_SECONDS", 0.2)
    with fresh_vhost() as amqp_url:
        tally = await scenarios.database_kill(
            tmp_path, amqp_url, database_name, events=5000, per_second=500, down_seconds=8
        )
    tally.check()


async def test_6_fault_proxy_latency_and_resets(mongo_url, database_name) -> None:
    with fresh_vhost() as amqp_url:
        tally = await scenarios.proxy_faults(
            amqp_url,
            mongo_url,
            database_name,
            events=5000,
            per_second=300,
            latency=(0.0, 0.02),
            reset_every=(2.0, 5.0),
        )
    tally.check()


async def test_7_smtp_421_for_a_while_then_250_and_a_permanent_554(mongo_url, database_name) -> None:
    tally = await scenarios.smtp_refusals(mongo_url, database_name, emails=300, refusals=600, rejected=30)
    tally.check(failed=30)
    assert tally.extra["refused_421"] == 600 and tally.extra["rejected_554"] == 30  # each 554 tried once
    assert tally.extra["sent_rows"] == 300 and tally.extra["failed_554_once"] == 30


async def test_8_mailer_killed_between_250_and_marking_sent_20_times(tmp_path, mongo_url, database_name) -> None:
    tally = await scenarios.mailer_kills(tmp_path, mongo_url, database_name, emails=400, kills=20)
    tally.check(duplicates_allowed=20)  # at most one per kill: the e-mail in flight
    assert tally.extra["kills"] == 20 and tally.extra["unexplained"] == 0
    assert tally.extra["sent_rows"] == 400


async def test_9_outbox_relay_killed_mid_batch_10_times(tmp_path, mongo_url, database_name) -> None:
    with fresh_vhost() as amqp_url:
        tally = await scenarios.relay_kills(tmp_path, amqp_url, mongo_url, database_name, kills=10, max_publishes=40)
    tally.check()
    assert tally.extra["kills"] == 10
