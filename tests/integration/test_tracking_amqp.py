"""Agencies act over AMQP as their own broker users: the broker-validated user_id is the actor, and the
records are the same as over HTTP. Anything else ends in the dead-letter queue with the reason."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from urllib.parse import unquote, urlparse

import aio_pika
import pytest

from services.cli.broker_admin import rabbitmqctl
from services.tracking.config import Settings
from services.tracking.main import create_app
from shared.contracts.commands import AcknowledgeAssignment, Command
from shared.contracts.events import AgencyRef
from shared.contracts.topology import EVENTS_EXCHANGE, REASON_HEADER, TRACKING_QUEUE
from tests.conftest import eventually, random_ref
from tests.integration.conftest import OPERATOR_TOKEN, issue_token, running
from tests.integration.test_tracking_consumer import publish
from tests.integration.test_tracking_http import CELL, two_quarters

UBND = AgencyRef(code="ubnd", kind="ubnd", name="Ủy ban nhân dân phường Hòa An")
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


@pytest.fixture
def broker_users(amqp_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """A broker user per agency in this run's vhost: may write only to the events exchange."""
    ctl = shutil.which("rabbitmqctl")
    parsed = urlparse(amqp_url)
    if ctl is None or parsed.hostname not in ("127.0.0.1", "localhost"):
        pytest.skip("needs the local broker's rabbitmqctl to create agency users")
    vhost = unquote(parsed.path[1:]) or "/"
    prefix = random_ref("u") + "-"
    urls = {}
    for code in (CELL.code, UBND.code):
        user, password = f"{prefix}{code}", uuid.uuid4().hex
        rabbitmqctl("add_user", user, password, check=True)
        rabbitmqctl("set_permissions", "-p", vhost, user, "^$", f"^{EVENTS_EXCHANGE}$", "^$", check=True)
        urls[code] = parsed._replace(netloc=f"{user}:{password}@{parsed.hostname}:{parsed.port or 5672}").geturl()
    yield prefix, urls
    for code in urls:
        rabbitmqctl("delete_user", f"{prefix}{code}", check=False)


async def send_command(url: str, user: str | None, agency: AgencyRef, command: Command) -> None:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EVENTS_EXCHANGE, ensure=False)
        message = aio_pika.Message(
            command.model_dump_json().encode(), user_id=user, delivery_mode=aio_pika.DeliveryMode.PERSISTENT
        )
        await exchange.publish(message, routing_key=f"command.{command.verb}.{agency.kind}.{agency.code}")
    finally:
        await connection.close()


async def test_an_acknowledgement_over_amqp_is_recorded_like_one_over_http_and_impostors_are_dead_lettered(
    service_settings, amqp, amqp_url, broker_users
) -> None:
    prefix, urls = broker_users
    app = create_app(service_settings(Settings, agency_user_prefix=prefix))
    cell_assignment = two_quarters(random_ref("plan"))
    ubnd_assignment = two_quarters(random_ref("plan")).model_copy(update={"agency": UBND})
    async with running(app) as http:
        dlq = await amqp.get_queue(TRACKING_QUEUE.dead_letter_queue)
        await dlq.purge()
        for event in (cell_assignment, ubnd_assignment):
            await publish(amqp, event.routing_key(), event.model_dump_json().encode())

        async def state_of(assignment_id: str) -> str | None:
            response = await http.get(f"/assignments/{assignment_id}", headers=OPERATOR)
            return response.json()["state"] if response.status_code == 200 else None

        await eventually(lambda: state_of(ubnd_assignment.assignment_id), what="both assignments recorded")

        ack = AcknowledgeAssignment(command_id=random_ref(), assignment_id=cell_assignment.assignment_id)
        await send_command(urls[CELL.code], f"{prefix}{CELL.code}", CELL, ack)
        await send_command(urls[CELL.code], f"{prefix}{CELL.code}", CELL, ack)  # the same command again
        ubnd_token = await issue_token(http, UBND.code)
        over_http = await http.post(f"/assignments/{ubnd_assignment.assignment_id}/acknowledge", headers=ubnd_token)
        assert over_http.status_code == 200

        async def acknowledged() -> bool:
            return await state_of(cell_assignment.assignment_id) == "acknowledged"

        await eventually(acknowledged, what="the AMQP acknowledgement to be applied")

        # The cell's system tries to acknowledge the People's Committee's assignment, then sends one without user_id.
        impostor = AcknowledgeAssignment(command_id=random_ref(), assignment_id=ubnd_assignment.assignment_id)
        await send_command(urls[CELL.code], f"{prefix}{CELL.code}", CELL, impostor)
        anonymous = AcknowledgeAssignment(command_id=random_ref(), assignment_id=cell_assignment.assignment_id)
        await send_command(amqp_url, None, CELL, anonymous)

        reasons = []
        for _ in range(2):
            dead = await eventually(lambda: dlq.get(no_ack=True, fail=False), what="a dead-lettered command")
            reasons.append(dead.headers[REASON_HEADER])
        assert any(r.startswith("forbidden") and "not assigned to chi-bo-khu-1" in r for r in reasons), reasons
        assert any("no user_id" in r for r in reasons), reasons

        histories = {}
        for assignment in (cell_assignment, ubnd_assignment):
            rows = (await http.get(f"/assignments/{assignment.assignment_id}/history", headers=OPERATOR)).json()
            histories[assignment.agency.code] = [
                (e["event_type"], e["actor"]["code"], e["actor_role"], e["channel"]) for e in rows["events"]
            ]
        assert histories[CELL.code] == [
            ("assignment.created", "dang-uy", None, "amqp"),
            ("assignment.acknowledged", CELL.code, "agency", "amqp"),
        ]
        assert histories[UBND.code] == [
            ("assignment.created", "dang-uy", None, "amqp"),
            ("assignment.acknowledged", UBND.code, "agency", "http"),
        ]


@pytest.fixture
def unprefixed_user(amqp_url: str) -> Iterator[tuple[AgencyRef, str]]:
    """A broker user named exactly like an agency's code, without any prefix (as `guest` or a service's user
    would be, were an agency so named)."""
    ctl = shutil.which("rabbitmqctl")
    parsed = urlparse(amqp_url)
    if ctl is None or parsed.hostname not in ("127.0.0.1", "localhost"):
        pytest.skip("needs the local broker's rabbitmqctl to create a user")
    vhost = unquote(parsed.path[1:]) or "/"
    agency = AgencyRef(code=random_ref("chi-bo-"), kind="party_cell", name="Chi bộ thử")
    password = uuid.uuid4().hex
    rabbitmqctl("add_user", agency.code, password, check=True)
    rabbitmqctl("set_permissions", "-p", vhost, agency.code, "^$", f"^{EVENTS_EXCHANGE}$", "^$", check=True)
    yield agency, parsed._replace(netloc=f"{agency.code}:{password}@{parsed.hostname}:{parsed.port or 5672}").geturl()
    rabbitmqctl("delete_user", agency.code, check=False)


@pytest.mark.parametrize(
    ("prefix", "reason"),
    [("", "TRACKING_AGENCY_USER_PREFIX is empty"), ("agency-", "is not an agency user")],
    ids=["empty-prefix", "prefix-set"],
)
async def test_a_broker_user_named_like_an_agency_without_the_prefix_is_refused(
    service_settings, amqp, unprefixed_user, prefix, reason
) -> None:
    """With the default empty prefix every broker user counted as the agency of its own name (#20); now the
    command path is off until a prefix is set, and a user without it is never an agency."""
    agency, url = unprefixed_user
    app = create_app(service_settings(Settings, agency_user_prefix=prefix))
    assignment = two_quarters(random_ref("plan")).model_copy(update={"agency": agency})
    async with running(app) as http:
        dlq = await amqp.get_queue(TRACKING_QUEUE.dead_letter_queue)
        await dlq.purge()
        await publish(amqp, assignment.routing_key(), assignment.model_dump_json().encode())
        path = f"/assignments/{assignment.assignment_id}"

        async def recorded() -> bool:
            return (await http.get(path, headers=OPERATOR)).status_code == 200

        await eventually(recorded, what="the assignment to be recorded")
        ack = AcknowledgeAssignment(command_id=random_ref(), assignment_id=assignment.assignment_id)
        await send_command(url, agency.code, agency, ack)

        dead = await eventually(lambda: dlq.get(no_ack=True, fail=False), what="the command dead-lettered")
        assert dead.headers[REASON_HEADER].startswith("forbidden") and reason in dead.headers[REASON_HEADER]
        assert (await http.get(path, headers=OPERATOR)).json()["state"] == "assigned"
