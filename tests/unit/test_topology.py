"""Every queue declaration comes from shared/contracts/topology.py, and the services and the broker definitions file
declare the same queues with the same arguments (the broker refuses a queue declared with other ones)."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from services.cli.broker_admin import SERVICES, admin_user, agency_grant, definitions, service_user
from shared.contracts import topology
from shared.platform.broker import rabbit_queue

AGENCIES = ["ubnd", "chi-bo-khu-1"]
CONSUMED = [d for d in topology.all_declarations(AGENCIES) if not d.name.endswith(".dead-letter")]
DEAD_LETTER_QUEUES = [d for d in topology.all_declarations(AGENCIES) if d.name.endswith(".dead-letter")]


def test_the_deployment_declares_the_service_agency_and_dead_letter_queues() -> None:
    names = {d.name for d in topology.all_declarations(AGENCIES)}
    assert names == {
        "tracking",
        "tracking.dead-letter",
        "notifier",
        "notifier.dead-letter",
        "intake",
        "intake.dead-letter",
        "agency.ubnd",
        "agency.chi-bo-khu-1",
        "agencies.dead-letter",
    }


@pytest.mark.parametrize("declaration", topology.all_declarations(AGENCIES), ids=lambda d: d.name)
def test_every_declared_queue_is_a_quorum_queue(declaration: topology.QueueDeclaration) -> None:
    assert declaration.arguments["x-queue-type"] == "quorum"


@pytest.mark.parametrize("declaration", CONSUMED, ids=lambda d: d.name)
def test_every_consumed_queue_has_the_delivery_limit_and_dead_letters_with_its_reason(
    declaration: topology.QueueDeclaration,
) -> None:
    """Agency queues included: they had no limit before, while docs/scaling.md says every queue has one."""
    assert declaration.arguments["x-delivery-limit"] == topology.DELIVERY_LIMIT
    assert declaration.arguments["x-dead-letter-exchange"] == topology.DEAD_LETTER_EXCHANGE
    key = declaration.arguments["x-dead-letter-routing-key"]
    dead_letter_queues = {d.name: d for d in DEAD_LETTER_QUEUES}
    target = dead_letter_queues[f"{key}.dead-letter"]  # where the broker's dead letters of this queue land
    assert target.bindings == (topology.Binding(topology.DEAD_LETTER_EXCHANGE, str(key)),)


@pytest.mark.parametrize("declaration", DEAD_LETTER_QUEUES, ids=lambda d: d.name)
def test_dead_letter_queues_have_no_delivery_limit(declaration: topology.QueueDeclaration) -> None:
    """`dondoc dlq list` reads with basic.get and lets go: before RabbitMQ 4.3 each look counts a delivery, so a
    limit would drop the dead letters after that many looks (and existing ones were declared without one)."""
    assert "x-delivery-limit" not in declaration.arguments


def test_an_agency_queue_takes_only_events_about_its_own_assignments_and_the_answers_to_its_commands() -> None:
    queue = topology.agency_queue("ubnd").declaration()
    assert {b.exchange for b in queue.bindings} == {topology.EVENTS_EXCHANGE}
    assert all(b.routing_key.endswith(".*.ubnd") for b in queue.bindings)
    commands = [b.routing_key for b in queue.bindings if b.routing_key.startswith("command.")]
    assert commands == ["command.rejected.*.ubnd"]  # never its own commands


def test_agencies_share_one_dead_letter_queue_their_users_cannot_read() -> None:
    declarations = topology.agency_declarations(AGENCIES)
    assert [d.name for d in declarations].count(topology.AGENCIES_DEAD_LETTER_QUEUE) == 1
    assert topology.agency_declarations([]) == []
    read = agency_grant("dead-letter").read  # the most tempting code
    assert not re.match(read, topology.AGENCIES_DEAD_LETTER_QUEUE)


def test_the_services_declare_what_the_definitions_file_declares() -> None:
    users = [admin_user(), *(service_user(s) for s in SERVICES), *(agency_grant(c).user for c in AGENCIES)]
    document = definitions("dondoc", AGENCIES, {user: "secret" for user in users})
    in_file = {q["name"]: q["arguments"] for q in document["queues"]}
    declared = {}
    for declaration in topology.all_declarations(AGENCIES):
        queue = rabbit_queue(declaration)  # what shared/platform/broker.py hands to FastStream
        declared[queue.name] = dict(queue.arguments or {})
    assert declared == in_file
    bindings = {(b["source"], b["destination"], b["routing_key"]) for b in document["bindings"]}
    expected = {(b.exchange, d.name, b.routing_key) for d in topology.all_declarations(AGENCIES) for b in d.bindings}
    assert bindings == expected


def test_an_agency_may_publish_only_its_own_commands_and_plans_under_its_own_kind_and_code() -> None:
    grant = agency_grant("chi-bo-khu-1", "agency-", "party_cell")
    allowed = re.compile(grant.topic_write)
    assert allowed.match("command.acknowledge.party_cell.chi-bo-khu-1")
    assert allowed.match("plan.submit.party_cell.chi-bo-khu-1")
    for refused in (
        "command.acknowledge.ubnd.chi-bo-khu-1",  # another kind
        "command.acknowledge.party_cell.chi-bo-khu-2",  # another agency
        "plan.registered.party_cell.chi-bo-khu-1",  # an event, not a command
        "command.rejected.party_cell.chi-bo-khu-1",  # an answer only tracking gives
    ):
        assert not allowed.match(refused), refused
    passwords: defaultdict[str, str] = defaultdict(lambda: "secret")
    document = definitions("dondoc", ["chi-bo-khu-1"], passwords, kinds={"chi-bo-khu-1": "party_cell"})
    [topic] = [t for t in document["topic_permissions"] if t["user"] == "agency-chi-bo-khu-1"]
    assert topic["write"] == grant.topic_write
