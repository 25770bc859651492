"""Where the plan's document assigns the task, on the real broker and database: tracking keeps `assignment.created`'s
`provenance` on its record and its API answers it; a rewording (`assignment.revised` carries no place) keeps it; an
`assignment.created` published before the field existed is recorded and read as before, without one."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.tracking.config import Settings
from services.tracking.main import create_app
from shared.contracts.events import AssignmentRevised, Provenance
from tests.conftest import eventually, random_ref
from tests.integration.conftest import OPERATOR, issue_token, running
from tests.integration.test_tracking_consumer import ISSUER, publish
from tests.integration.test_tracking_http import CELL, two_quarters

pytestmark = pytest.mark.integration

PLACE = Provenance(section="III", section_title="TỔ CHỨC THỰC HIỆN", clause="2", page=3, line=40)


async def test_the_record_keeps_the_place_and_the_api_answers_it(service_settings, amqp) -> None:
    event = two_quarters(random_ref("plan")).model_copy(update={"provenance": [PLACE]})
    path = f"/assignments/{event.assignment_id}"
    async with running(create_app(service_settings(Settings))) as http:
        await publish(amqp, event.routing_key(), event.model_dump_json().encode())

        async def recorded() -> dict[str, Any] | None:
            answer = await http.get(path, headers=OPERATOR)
            return answer.json() if answer.status_code == 200 else None

        record = await eventually(recorded, what="the assignment to be recorded")
        assert record["provenance"] == [
            {"section": "III", "section_title": "TỔ CHỨC THỰC HIỆN", "clause": "2", "page": 3, "line": 40}
        ]
        # The body the task is given to reads it too.
        mine = await http.get(path, headers=await issue_token(http, CELL.code))
        assert mine.status_code == 200 and mine.json()["provenance"] == record["provenance"]

        reworded = AssignmentRevised(
            correlation_id=event.plan_id,
            agency=event.agency,
            actor=ISSUER,
            assignment_id=event.assignment_id,
            plan_id=event.plan_id,
            task="Tổ chức học tập, kèm danh sách đảng viên tham gia.",
            previous_task=event.task,
            plan_version=1,
        )
        await publish(amqp, reworded.routing_key(), reworded.model_dump_json().encode())

        async def revised() -> dict[str, Any] | None:
            answer = (await http.get(path, headers=OPERATOR)).json()
            return answer if answer["task"] == reworded.task else None

        assert (await eventually(revised, what="the task to be reworded"))["provenance"] == record["provenance"]


async def test_an_assignment_published_before_places_were_kept_reads_as_before(service_settings, amqp) -> None:
    event = two_quarters(random_ref("plan"))
    body = event.model_dump(mode="json")
    del body["provenance"], body["deliverables_required"]  # as intake published it before it read places
    path = f"/assignments/{event.assignment_id}"
    async with running(create_app(service_settings(Settings))) as http:
        await publish(amqp, event.routing_key(), json.dumps(body).encode())

        async def recorded() -> dict[str, Any] | None:
            answer = await http.get(path, headers=OPERATOR)
            return answer.json() if answer.status_code == 200 else None

        record = await eventually(recorded, what="the assignment to be recorded")
        assert "provenance" not in record and record["task"] == event.task
