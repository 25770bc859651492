"""An issuer's system submits a plan over AMQP as its own broker user (with the grant `dondoc agencies provision`
gives it): registered as over HTTP and answered on the issuer's queue with `plan.registered` carrying its
`command_id`, or `plan.rejected` with the reasons; a plan for another issuer is refused; the broker refuses a
`plan.submit` under another agency's code or kind."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlparse

import aio_pika
import pytest
from aio_pika.exceptions import ChannelClosed

from services.cli.broker_admin import agency_grant, rabbitmqctl
from services.intake.config import Settings
from services.intake.main import create_app
from shared.contracts.topology import EVENTS_EXCHANGE
from tests.conftest import random_ref
from tests.integration.conftest import running
from tests.integration.test_command_answers import answers_on, next_with_key
from tests.integration.test_intake_publishing import plan

ISSUER, KIND = "dang-uy", "office"


@pytest.fixture
def issuer_user(amqp_url: str) -> Iterator[tuple[str, str, str]]:
    parsed = urlparse(amqp_url)
    if shutil.which("rabbitmqctl") is None or parsed.hostname not in ("127.0.0.1", "localhost"):
        pytest.skip("needs the local broker's rabbitmqctl to create an issuer user")
    vhost = unquote(parsed.path[1:]) or "/"
    prefix = random_ref("iss") + "-"
    grant = agency_grant(ISSUER, prefix, KIND)
    password = uuid.uuid4().hex
    rabbitmqctl("add_user", grant.user, password, check=True)
    rabbitmqctl("set_permissions", "-p", vhost, grant.user, grant.configure, grant.write, grant.read, check=True)
    rabbitmqctl("set_topic_permissions", "-p", vhost, grant.user, EVENTS_EXCHANGE, grant.topic_write, grant.topic_read)
    url = parsed._replace(netloc=f"{grant.user}:{password}@{parsed.hostname}:{parsed.port or 5672}").geturl()
    yield prefix, grant.user, url
    rabbitmqctl("delete_user", grant.user, check=False)


async def submit(url: str, user: str, body: dict[str, Any], routing_key: str) -> None:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EVENTS_EXCHANGE, ensure=False)
        message = aio_pika.Message(json.dumps(body).encode(), user_id=user, message_id=body["command_id"])
        await exchange.publish(message, routing_key=routing_key)


async def test_a_plan_over_amqp_is_answered_on_the_issuers_queue(service_settings, amqp, amqp_url, issuer_user) -> None:
    prefix, user, url = issuer_user
    answers = await answers_on(amqp, ISSUER, amqp_url)
    key = f"plan.submit.{KIND}.{ISSUER}"
    async with running(create_app(service_settings(Settings, agency_user_prefix=prefix))):
        number = f"{random_ref('n')}-KH/ĐU"
        await submit(url, user, {"command_id": "plan-1", "plan": plan(number)}, key)
        registered = await next_with_key(answers, f"plan.registered.{KIND}.{ISSUER}")
        assert (registered["command_id"], registered["number"]) == ("plan-1", number)
        assert registered["assignment_count"] == 13

        unknown_body = plan(f"{random_ref('n')}-KH/ĐU")
        unknown_body["assignments"] = [{"agency": "Hội Người cao tuổi phường", "task": "Rà soát."}]
        await submit(url, user, {"command_id": "plan-2", "plan": unknown_body}, key)
        rejected = await next_with_key(answers, f"plan.rejected.{KIND}.{ISSUER}")
        assert (rejected["command_id"], rejected["reason"]) == ("plan-2", "unresolved")
        # plain text, in Vietnamese as POST /plans answers by default (HTTP answers English on request)
        assert (
            rejected["problems"][0]["problem"]
            == "danh bạ không có cơ quan hay nhóm nào tên hoặc mã 'Hội Người cao tuổi phường'"
        )

        invalid = {"command_id": "plan-3", "plan": {**plan("x"), "assignments": "none"}}
        await submit(url, user, invalid, key)
        rejected = await next_with_key(answers, f"plan.rejected.{KIND}.{ISSUER}")
        assert (rejected["command_id"], rejected["reason"]) == ("plan-3", "invalid")
        assert any(p["where"] == "assignments" for p in rejected["problems"]), rejected

        foreign = {**plan(f"{random_ref('n')}-KH/UB"), "issuer": "Uỷ ban nhân dân phường"}
        await submit(url, user, {"command_id": "plan-4", "plan": foreign}, key)
        rejected = await next_with_key(answers, f"plan.rejected.{KIND}.{ISSUER}")
        assert (rejected["command_id"], rejected["reason"]) == ("plan-4", "forbidden")
        assert rejected["problems"] == [
            {"where": "issuer", "problem": "kế hoạch này do ubnd ban hành, không phải dang-uy"}
        ]


@pytest.mark.parametrize("routing_key", [f"plan.submit.ubnd.{ISSUER}", "plan.submit.office.ubnd"])
async def test_the_broker_refuses_another_kind_or_code_in_the_routing_key(amqp, issuer_user, routing_key: str) -> None:
    _, user, url = issuer_user
    await amqp.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    # (its own key is accepted: the test above)
    with pytest.raises(ChannelClosed, match="ACCESS_REFUSED"):
        await submit(url, user, {"command_id": "x", "plan": {}}, routing_key)
