"""Intake's subscriber, in memory: a directory change that adds or changes agencies declares their queues and
counts the operator's task; a complete republish (for a notifier's lost copy) declares nothing."""

from __future__ import annotations

from prometheus_client import REGISTRY

from services.intake.consumers import AgencyProvisioning
from shared.contracts.events import Agency, DirectoryUpdated
from shared.platform.deliveries import Outcome
from tests.conftest import random_ref


def tasks() -> float:
    return REGISTRY.get_sample_value("dondoc_operator_tasks_total", {"task": "agency_broker_user"}) or 0.0


def change(codes: list[str], complete: bool = False) -> DirectoryUpdated:
    agencies = [Agency(code=code, kind="party_cell", name=f"Chi bộ {code}") for code in codes]
    return DirectoryUpdated(correlation_id="directory", version=2, agencies=agencies, complete=complete)


async def test_added_agencies_get_their_queues_and_the_operators_a_task() -> None:
    declared: list[list[str]] = []

    async def declare(codes: list[str]) -> None:
        declared.append(codes)

    provisioning = AgencyProvisioning(declare)
    before = tasks()
    codes = [random_ref("chi-bo-"), random_ref("chi-bo-")]
    assert await provisioning(change(codes)) is Outcome.PROCESSED
    assert declared == [codes] and tasks() == before + 2
    assert await provisioning(change(codes, complete=True)) is Outcome.IGNORED
    assert await provisioning(change([])) is Outcome.IGNORED
    assert declared == [codes] and tasks() == before + 2
