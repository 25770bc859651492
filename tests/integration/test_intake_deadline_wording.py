"""An unread deadline sentence over HTTP: `POST /plans/document` refuses the plan naming the line, in Vietnamese,
until the clerk lists that line as setting no deadline."""

from __future__ import annotations

import uuid

from services.intake.config import Settings
from services.intake.main import create_app
from tests.integration.conftest import OPERATOR, running
from tests.unit.test_documents_wording import plan_text


async def test_an_unread_deadline_is_refused_with_its_line_until_the_clerk_resolves_it(service_settings) -> None:
    app = create_app(service_settings(Settings))
    text = plan_text().replace("12-KH/ĐU", f"{uuid.uuid4().int % 10**6}-KH/ĐU").encode()
    async with running(app, OPERATOR) as http:
        refused = await http.post("/plans/document", files={"file": ("plan.txt", text)})
        assert refused.status_code == 422, refused.text
        detail = refused.json()
        assert detail["code"] == "unread_deadline" and "dòng 15" in detail["detail"]
        assert detail["problems"][0]["where"] == "deadline (line 15)"
        skipped = await http.post(
            "/plans/document", files={"file": ("plan.txt", text)}, data={"skip_unresolved": "true"}
        )
        assert skipped.status_code == 422  # skipping unknown bodies does not skip an unread deadline
        accepted = await http.post(
            "/plans/document", files={"file": ("plan.txt", text)}, data={"no_deadline_lines": ["15"]}
        )
        assert accepted.status_code == 201, accepted.text
        assert {a["agency"] for a in accepted.json()["assignments"]} == {"hoi-nong-dan", "cong-doan", "hoi-phu-nu"}
