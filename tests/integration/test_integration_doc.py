"""docs/integration.md's Python example, run as written against the real broker, with an agency user that has
exactly the permissions `dondoc agencies provision` grants: it acknowledges its own assignment and gets the
event back, and gets `command.rejected` for another agency's."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

from services.cli.broker_admin import agency_grant, rabbitmqctl
from services.tracking.config import Settings
from services.tracking.main import create_app
from tests.conftest import eventually, random_ref
from tests.integration.conftest import OPERATOR, running
from tests.integration.test_command_answers import answers_on
from tests.integration.test_tracking_amqp import UBND
from tests.integration.test_tracking_consumer import publish
from tests.integration.test_tracking_http import CELL, two_quarters

DOC = Path(__file__).resolve().parents[2] / "docs" / "integration.md"


def example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    [code] = [block for block in blocks if "async def acknowledge(" in block]
    return str(code)


def test_the_example_is_short_and_complete() -> None:
    assert 30 <= len(example().splitlines()) <= 45
    assert "ensure=False" in example() and "user_id=user" in example()


@pytest.fixture
def provisioned(amqp_url: str) -> Iterator[tuple[str, str, str]]:
    """The cell's broker user with the grant of `dondoc agencies provision` (prefix of this run)."""
    parsed = urlparse(amqp_url)
    if shutil.which("rabbitmqctl") is None or parsed.hostname not in ("127.0.0.1", "localhost"):
        pytest.skip("needs the local broker's rabbitmqctl to create an agency user")
    vhost = unquote(parsed.path[1:]) or "/"
    prefix = random_ref("doc") + "-"
    grant = agency_grant(CELL.code, prefix)
    password = uuid.uuid4().hex
    rabbitmqctl("add_user", grant.user, password, check=True)
    rabbitmqctl("set_permissions", "-p", vhost, grant.user, grant.configure, grant.write, grant.read, check=True)
    rabbitmqctl("set_topic_permissions", "-p", vhost, grant.user, "dondoc.events", grant.topic_write, grant.topic_read)
    url = parsed._replace(netloc=f"{grant.user}:{password}@{parsed.hostname}:{parsed.port or 5672}").geturl()
    yield prefix, grant.user, url
    rabbitmqctl("delete_user", grant.user, check=False)


async def test_the_documented_example_runs_against_the_real_broker(
    service_settings, amqp, amqp_url, provisioned
) -> None:
    prefix, user, url = provisioned
    await answers_on(amqp, CELL.code, amqp_url)  # provisioned: the cell's queue exists
    namespace: dict[str, Any] = {"__name__": "integration_doc"}
    exec(compile(example(), str(DOC), "exec"), namespace)  # noqa: S102 - the documentation's own example
    acknowledge = namespace["acknowledge"]
    mine = two_quarters(random_ref("plan"))
    theirs = two_quarters(random_ref("plan")).model_copy(update={"agency": UBND, "assignment_id": random_ref("a")})
    async with running(create_app(service_settings(Settings, agency_user_prefix=prefix))) as http:
        for event in (mine, theirs):
            await publish(amqp, event.routing_key(), event.model_dump_json().encode())

        async def recorded() -> bool:
            return (await http.get(f"/assignments/{theirs.assignment_id}", headers=OPERATOR)).status_code == 200

        await eventually(recorded, what="both assignments recorded")
        answer = await acknowledge(url, user, CELL.kind, CELL.code, mine.assignment_id)
        assert answer["event_type"] == "assignment.acknowledged" and answer["assignment_id"] == mine.assignment_id
        refused = await acknowledge(url, user, CELL.kind, CELL.code, theirs.assignment_id)
        assert (refused["event_type"], refused["reason"]) == ("command.rejected", "forbidden")
