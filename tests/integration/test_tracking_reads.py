"""One reading rule on every query route (#20, finding 4): an issuer reads only its own plans' work, an operator
everything, an agency its own assignments. Each test reads with a second issuer's token what the first issued;
those marked "leaked" answered it before the rule was applied everywhere."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest

from services.tracking.config import Settings
from services.tracking.main import create_app
from shared.contracts.events import AssignmentCreated
from tests.conftest import eventually, random_ref
from tests.integration.conftest import OPERATOR, issue_token, running
from tests.integration.test_tracking_consumer import ISSUER, publish
from tests.integration.test_tracking_http import CELL, two_quarters

pytestmark = pytest.mark.integration


@dataclass
class Readers:
    http: httpx.AsyncClient
    event: AssignmentCreated
    issuer: dict[str, str]
    other_issuer: dict[str, str]
    agency: dict[str, str]


@asynccontextmanager
async def one_assignment(service_settings, amqp) -> AsyncIterator[Readers]:  # type: ignore[no-untyped-def]
    """An assignment of the issuer `dang-uy` to the cell, recorded; tracking has seen no plan.registered for it
    (intake's may come later, or never reach a tracking restored from a backup)."""
    app = create_app(service_settings(Settings))
    event = two_quarters(random_ref("plan"))
    async with running(app) as http:
        await publish(amqp, event.routing_key(), event.model_dump_json().encode())

        async def recorded() -> bool:
            return (await http.get(f"/assignments/{event.assignment_id}", headers=OPERATOR)).status_code == 200

        await eventually(recorded, what="the assignment to be recorded")
        yield Readers(
            http,
            event,
            issuer=await issue_token(http, ISSUER.code, "issuer"),
            other_issuer=await issue_token(http, random_ref("ubnd-"), "issuer"),
            agency=await issue_token(http, CELL.code),
        )


async def test_an_assignment_is_read_by_its_issuer_and_agency_not_by_another_issuer(service_settings, amqp) -> None:
    async with one_assignment(service_settings, amqp) as r:
        path = f"/assignments/{r.event.assignment_id}"
        assert (await r.http.get(path, headers=r.other_issuer)).status_code == 403
        assert (await r.http.get(path, headers=r.issuer)).status_code == 200
        assert (await r.http.get(path, headers=r.agency)).status_code == 200


async def test_a_history_is_read_by_its_issuer_not_by_another_issuer(service_settings, amqp) -> None:
    async with one_assignment(service_settings, amqp) as r:
        path = f"/assignments/{r.event.assignment_id}/history"
        assert (await r.http.get(path, headers=r.other_issuer)).status_code == 403
        assert (await r.http.get(path, headers=r.issuer)).status_code == 200


@pytest.mark.parametrize("suffix", ["status", "status.csv", "status.xlsx"])
async def test_a_plans_status_and_its_exports_are_not_read_by_another_issuer(service_settings, amqp, suffix) -> None:
    """Leaked: with no plan.registered seen, any issuer got the status and the spreadsheets."""
    async with one_assignment(service_settings, amqp) as r:
        path = f"/plans/{r.event.plan_id}/{suffix}"
        refused = await r.http.get(path, headers=r.other_issuer)
        assert refused.status_code == 403, refused.text
        assert (await r.http.get(path, headers=r.issuer)).status_code == 200
        assert (await r.http.get(path, headers=r.agency)).status_code == 403


async def test_an_agencys_assignments_list_only_the_reading_issuers_plans(service_settings, amqp) -> None:
    """Leaked: the list restricted only agencies, so another issuer listed this issuer's plans for the cell."""
    async with one_assignment(service_settings, amqp) as r:
        path = f"/agencies/{CELL.code}/assignments"
        others = await r.http.get(path, headers=r.other_issuer)
        assert others.status_code == 200
        assert r.event.assignment_id not in [i["assignment_id"] for i in others.json()["items"]]
        for reader in (r.issuer, r.agency, OPERATOR):
            listed = (await r.http.get(path, headers=reader)).json()["items"]
            assert r.event.assignment_id in [i["assignment_id"] for i in listed]
