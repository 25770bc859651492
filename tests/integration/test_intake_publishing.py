"""Intake on the real broker: one persistent, confirmed assignment.created per body; unroutable is an error."""

from __future__ import annotations

import json

import aio_pika
import pytest

from services.intake.config import Settings
from services.intake.main import create_app
from shared.contracts.topology import EVENTS_EXCHANGE
from shared.platform.broker import EventPublisher, PublishError, declare_topology, make_broker
from shared.platform.mongo import make_client
from tests.conftest import eventually, random_ref
from tests.integration.conftest import OPERATOR, running


async def amqp_listener_bind(listener, exchange) -> None:  # type: ignore[no-untyped-def]
    for key in ("assignment.cancelled.#", "deadline.extended.#"):
        await listener.bind(exchange, key)


def plan(number: str) -> dict[str, object]:
    return {
        "issuer": "Đảng ủy phường",
        "number": number,
        "title": "Kế hoạch kiểm tra công tác phòng cháy năm 2027",
        "issued_on": "2026-12-01",
        "assignments": [
            {"agency": "Uỷ ban nhân dân phường", "task": "Rà soát các hộ kinh doanh."},
            {"agency": "Các chi bộ trực thuộc", "task": "Phổ biến tới đảng viên."},
        ],
        "deadlines": [{"period": "2027-H1", "due": "2027-06-30", "wording": "trước ngày 01 tháng 7"}],
    }


async def test_a_plan_becomes_one_persistent_message_per_agency(service_settings, amqp) -> None:
    exchange = await amqp.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    listener = await amqp.declare_queue(random_ref("listen-"), exclusive=True)
    await listener.bind(exchange, "assignment.created.#")
    app = create_app(service_settings(Settings))
    async with running(app, OPERATOR) as http:
        number = f"{random_ref('n')}-KH/ĐU"
        response = await http.post("/plans", json=plan(number))
        assert response.status_code == 201, response.text
        created = response.json()["assignments"]
        # UBND plus the twelve party cells of the sample directory
        assert sorted(a["agency"] for a in created) == [
            "chi-bo-cong-an",
            "chi-bo-khu-1",
            "chi-bo-khu-2",
            "chi-bo-khu-3",
            "chi-bo-khu-4",
            "chi-bo-khu-5",
            "chi-bo-khu-6",
            "chi-bo-khu-7",
            "chi-bo-khu-8",
            "chi-bo-quan-su",
            "chi-bo-truong-thcs",
            "chi-bo-truong-tieu-hoc",
            "ubnd",
        ]
        received = []
        for _ in created:
            received.append(await eventually(lambda: listener.get(no_ack=True, fail=False), what="a message"))
        assert await listener.get(no_ack=True, fail=False) is None
        assert all(m.delivery_mode == aio_pika.DeliveryMode.PERSISTENT for m in received)
        bodies = [json.loads(m.body) for m in received]
        assert {m.routing_key for m in received} == {
            f"assignment.created.{b['agency']['kind']}.{b['agency']['code']}" for b in bodies
        }
        assert {m.message_id for m in received} == {b["event_id"] for b in bodies}
        assert all(b["deadlines"][0]["due_at"].startswith("2027-06-30T16:59:59.999Z") for b in bodies)

        again = await http.post("/plans", json=plan(number))
        assert again.status_code == 200 and again.json()["status"] == "unchanged"

        corrected = plan(number)
        corrected["assignments"] = [  # the party cells are dropped, the Propaganda Board added
            {"agency": "Uỷ ban nhân dân phường", "task": "Rà soát các hộ kinh doanh."},
            {"agency": "Ban Tuyên giáo", "task": "Tuyên truyền trên loa phường."},
        ]
        corrected["deadlines"] = [{"period": "2027-H1", "due": "2027-06-15", "wording": "trước ngày 16 tháng 6"}]
        await amqp_listener_bind(listener, exchange)
        amended = await http.post("/plans", json=corrected)
        assert amended.status_code == 200, amended.text
        body = amended.json()
        assert body["status"] == "amended" and body["created"] == ["tuyen-giao"]
        assert len(body["cancelled"]) == 12 and body["deadlines_changed"] == ["ubnd:2027-H1"]
        changes = []
        for _ in range(14):
            changes.append(await eventually(lambda: listener.get(no_ack=True, fail=False), what="an amendment"))
        kinds = sorted(m.routing_key.split(".")[0] + "." + m.routing_key.split(".")[1] for m in changes)
        assert kinds == ["assignment.cancelled"] * 12 + ["assignment.created", "deadline.extended"]
        moved = next(json.loads(m.body) for m in changes if m.routing_key.startswith("deadline.extended"))
        assert moved["due_at"].startswith("2027-06-15T16:59:59") and moved["previous_due_at"].startswith("2027-06-30")
        assert (await http.post("/plans", json=corrected)).json()["status"] == "unchanged"
        assert await listener.get(no_ack=True, fail=False) is None

        bad = plan(f"{random_ref('n')}-KH/ĐU")
        bad["assignments"].append({"agency": "Hội Người cao tuổi", "task": "x"})  # type: ignore[union-attr]
        refused = await http.post("/plans", json=bad)
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["where"] == "assignments[2].agency"
        assert "Hội Người cao tuổi" in refused.json()["errors"][0]["problem"]


async def test_an_unroutable_publish_is_an_error_not_a_silent_confirm(amqp_url: str) -> None:
    broker = make_broker(amqp_url, "test")
    await broker.connect()
    try:
        await declare_topology(broker)
        publisher = EventPublisher(broker, "test")
        with pytest.raises(PublishError, match="NO_ROUTE"):
            await publisher.publish_raw(
                routing_key=f"nobody.listens.{random_ref()}",
                body=b"{}",
                event_id=random_ref(),
                event_type="nobody.listens",
                correlation_id="c",
            )
    finally:
        await broker.stop()


async def test_a_corrected_plan_that_rewords_one_task_publishes_one_revision_and_nothing_else(
    service_settings, amqp, mongo_url: str, database_name: str
) -> None:
    exchange = await amqp.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    app = create_app(service_settings(Settings))
    number = f"{random_ref('n')}-KH/ĐU"
    first = plan(number)
    first["assignments"] = [
        {"agency": "Uỷ ban nhân dân phường", "task": "Rà soát các hộ kinh doanh."},
        {"agency": "Ban Tuyên giáo", "task": "Tuyên truyền trên loa phường."},
    ]
    corrected = {
        **first,
        "assignments": [
            {"agency": "Uỷ ban nhân dân phường", "task": "Rà soát các hộ kinh doanh và nhà trọ."},
            {"agency": "Ban Tuyên giáo", "task": "Tuyên truyền trên loa phường."},
        ],
    }
    client = make_client(mongo_url)
    outbox = client[database_name]["outbox"]

    async def relayed(plan_id: str) -> bool:
        return await outbox.count_documents({"correlation_id": plan_id, "status": {"$ne": "published"}}) == 0

    try:
        listener = await amqp.declare_queue(random_ref("listen-"), exclusive=True)
        await listener.bind(exchange, "#")  # everything intake publishes
        async with running(app, OPERATOR) as http:
            registered = await http.post("/plans", json=first)
            assert registered.status_code == 201, registered.text
            plan_id = registered.json()["plan_id"]
            await eventually(lambda: relayed(plan_id), what="the registration to be relayed")
            await listener.purge()

            amended = await http.post("/plans", json=corrected)
            assert amended.status_code == 200, amended.text
            body = amended.json()
            assert body["status"] == "amended" and body["tasks_changed"] == ["ubnd"]
            assert body["created"] == body["cancelled"] == body["deadlines_changed"] == []
            message = await eventually(lambda: listener.get(no_ack=True, fail=False), what="the revision")
            await eventually(lambda: relayed(plan_id), what="the amendment to be relayed")
            assert await listener.get(no_ack=True, fail=False) is None  # exactly one message
            assert message.routing_key == "assignment.revised.ubnd.ubnd"
            revised = json.loads(message.body)
            ubnd = next(a for a in body["assignments"] if a["agency"] == "ubnd")
            assert revised["assignment_id"] == ubnd["assignment_id"] and revised["plan_id"] == plan_id
            assert revised["task"] == "Rà soát các hộ kinh doanh và nhà trọ."
            assert revised["previous_task"] == "Rà soát các hộ kinh doanh."
            assert revised["plan_version"] == 1 and revised["event_type"] == "assignment.revised"

            again = await http.post("/plans", json=corrected)  # the same correction again publishes nothing
            assert again.status_code == 200 and again.json()["status"] == "unchanged"
            await eventually(lambda: relayed(plan_id), what="nothing left to relay")
            assert await listener.get(no_ack=True, fail=False) is None
    finally:
        await client.close()
