"""One written form of an instant everywhere (`shared.contracts.events.format_instant`: ISO 8601, UTC, `Z`, three
digits of milliseconds): the same deadline and the same moment print identically in the event on the bus, in
tracking's HTTP answer and in the assignment's history entry. It printed `…59.999999Z` in `assignment.created`,
`…59.999000Z` in answers read back from MongoDB and `+00:00` in token and link answers before."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from services.tracking.config import Settings
from services.tracking.main import create_app
from shared.contracts.events import AssignmentCreated, ReportingDeadline, format_instant
from shared.domain.clock import VIETNAM
from tests.conftest import eventually, random_ref
from tests.integration.conftest import OPERATOR, running
from tests.integration.test_tracking_consumer import publish
from tests.integration.test_tracking_http import CELL, _status_is, two_quarters

INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
END_OF_DAY = datetime(2027, 3, 31, 23, 59, 59, 999999, tzinfo=VIETNAM)


async def test_an_event_an_http_answer_and_a_history_entry_print_an_instant_alike(service_settings, amqp) -> None:
    event: AssignmentCreated = two_quarters(random_ref("plan")).model_copy(
        update={
            "deadlines": [ReportingDeadline(period="2027-Q1", due_at=END_OF_DAY)],
            "occurred_at": datetime(2027, 3, 1, 2, 0, 0, 123456, tzinfo=UTC),
        }
    )
    on_the_bus = json.loads(event.model_dump_json())
    assert on_the_bus["deadlines"][0]["due_at"] == "2027-03-31T16:59:59.999Z"
    assert on_the_bus["occurred_at"] == "2027-03-01T02:00:00.123Z"
    async with running(create_app(service_settings(Settings))) as http:
        await publish(amqp, event.routing_key(), event.model_dump_json().encode())
        base = f"/assignments/{event.assignment_id}"
        await eventually(lambda: _status_is(http, base, 200, OPERATOR), what="the assignment to be recorded")
        answer = (await http.get(base, headers=OPERATOR)).json()
        assert answer["periods"]["2027-Q1"]["due_at"] == on_the_bus["deadlines"][0]["due_at"]
        [entry] = (await http.get(f"{base}/history", headers=OPERATOR)).json()["events"]
        assert entry["occurred_at"] == on_the_bus["occurred_at"]
        issued = (await http.post("/tokens", json={"subject": CELL.code, "role": "agency"}, headers=OPERATOR)).json()
        me = (await http.get("/tokens/me", headers={"Authorization": f"Bearer {issued['token']}"})).json()
        assert INSTANT.match(issued["expires_at"]) and me["expires_at"] == issued["expires_at"]
        link = (await http.post("/links", json={"agency": CELL.code}, headers=OPERATOR)).json()
        assert INSTANT.match(link["expires_at"]), link
        for value in _instants(answer):
            assert INSTANT.match(value), value


def _instants(value: object) -> list[str]:
    """Every string in an answer that looks like a date and time."""
    if isinstance(value, dict):
        return [found for item in value.values() for found in _instants(item)]
    if isinstance(value, list):
        return [found for item in value for found in _instants(item)]
    return [value] if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}T", value) else []


def test_the_form_is_fixed_whatever_the_offset_or_precision() -> None:
    assert format_instant(END_OF_DAY) == "2027-03-31T16:59:59.999Z"
    assert format_instant(datetime(2027, 1, 1, tzinfo=UTC)) == "2027-01-01T00:00:00.000Z"
    assert format_instant(datetime(2027, 1, 1, 7, tzinfo=VIETNAM) + timedelta(microseconds=999)) == (
        "2027-01-01T00:00:00.000Z"
    )
    assert format_instant(datetime(2027, 1, 1)) == "2027-01-01T00:00:00.000Z"  # naive: UTC, as MongoDB returns it
