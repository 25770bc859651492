"""An agency added to the directory at runtime gets its queue without a restart or a provisioning run: intake
takes the `directory.updated` it published, declares `agency.<code>` (with the delivery limit), counts the
operator's task (its broker user), and the agency's next assignment lands on its own queue."""

from __future__ import annotations

import json

import aio_pika
from prometheus_client import REGISTRY

from services.intake.config import Settings
from services.intake.main import create_app
from shared.contracts.topology import DELIVERY_LIMIT, agency_queue
from tests.conftest import eventually, random_ref
from tests.integration.conftest import OPERATOR, running


def tasks() -> float:
    return REGISTRY.get_sample_value("dondoc_operator_tasks_total", {"task": "agency_broker_user"}) or 0.0


async def test_an_agency_added_at_runtime_receives_its_next_assignment_on_its_own_queue(
    service_settings, amqp_url
) -> None:
    code = random_ref("to-dan-pho-")
    name = f"Tổ dân phố {code[-6:]}"
    before = tasks()
    connection = await aio_pika.connect(amqp_url)
    async with connection, running(create_app(service_settings(Settings)), OPERATOR) as http:
        added = await http.put(f"/directory/agencies/{code}", json={"code": code, "kind": "party_cell", "name": name})
        assert added.status_code == 200, added.text

        async def declared() -> aio_pika.abc.AbstractQueue | None:
            channel = await connection.channel()  # a passive look that fails closes its channel: one per look
            try:
                return await channel.get_queue(agency_queue(code).name, ensure=True)
            except aio_pika.exceptions.ChannelClosed:
                return None

        queue = await eventually(declared, what="the new agency's queue")
        assert tasks() == before + 1

        plan = {
            "issuer": "Đảng ủy phường",
            "number": f"{random_ref('n')}-KH/ĐU",
            "title": "Kế hoạch thử",
            "assignments": [{"agency": name, "task": "Rà soát."}],
            "deadlines": [{"period": "2027-H1", "due": "2027-06-30", "wording": "trước ngày 01 tháng 7"}],
        }
        registered = await http.post("/plans", json=plan)
        assert registered.status_code == 201, registered.text
        message = await eventually(lambda: queue.get(no_ack=True, fail=False), what="the assignment on its queue")
        body = json.loads(message.body)
        assert (body["event_type"], body["agency"]["code"]) == ("assignment.created", code)
        # Declared with the delivery limit: the same declaration again is accepted (other arguments would be
        # refused with PRECONDITION_FAILED).
        declaration = agency_queue(code).declaration()
        assert declaration.arguments["x-delivery-limit"] == DELIVERY_LIMIT
        channel = await connection.channel()
        await channel.declare_queue(declaration.name, durable=True, arguments=dict(declaration.arguments))
