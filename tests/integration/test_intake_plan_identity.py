"""The clerk's entries over HTTP: a plan document without a number or date is previewed and registered with the
number and date entered in the form, stored as entered; a day that is not one is refused saying which."""

from __future__ import annotations

from services.intake.config import Settings
from services.intake.main import create_app
from tests.integration.conftest import OPERATOR, running
from tests.integration.test_intake_documents import plan_number
from tests.integration.test_intake_pdf_documents import ingested
from tests.unit.test_documents_wording import plan_text


async def test_number_and_dates_entered_in_the_form_are_used_and_stored_as_entered(service_settings) -> None:
    number = plan_number()
    text = plan_text(date_line="").replace("Số 12-KH/ĐU\n", "\n").encode()  # neither number nor date
    entered = {"number": number, "issued_on": "04/03/2024", "received_on": "2024-03-11"}
    app = create_app(service_settings(Settings))
    async with running(app, OPERATOR) as http:
        bare = await http.post("/plans/preview", files={"file": ("plan.txt", text, "text/plain")})
        assert bare.status_code == 200 and bare.json()["ready"] is False
        assert {p["where"].split(" ")[0] for p in bare.json()["problems"]} >= {"number", "year"}

        shown = await http.post("/plans/preview", files={"file": ("plan.txt", text, "text/plain")}, data=entered)
        assert shown.status_code == 200, shown.text
        body = shown.json()
        assert (body["number"]["text"], body["issued_on"], body["year"], body["received_on"]) == (
            number,
            "2024-03-04",
            2024,
            "2024-03-11",
        )
        assert [p["where"] for p in body["problems"]] == ["deadline (line 15)"]  # only the unread sentence is left

        form = {**entered, "no_deadline_lines": "15"}
        before = ingested("text"), ingested("json")
        submitted = await http.post("/plans/document", files={"file": ("plan.txt", text, "text/plain")}, data=form)
        assert submitted.status_code == 201, submitted.text
        assert (ingested("text"), ingested("json")) == (before[0] + 1, before[1])  # the reader that took it
        plan = (await http.get(f"/plans/{submitted.json()['plan_id']}")).json()
        assert (plan["number"], plan["issued_on"]) == (number, "2024-03-04")
        assert plan["document"]["entered"] == {"number": number, "issued_on": "2024-03-04", "received_on": "2024-03-11"}

        wrong_day = await http.post(
            "/plans/document", files={"file": ("plan.txt", text, "text/plain")}, data={"issued_on": "30/02/2024"}
        )
        assert wrong_day.status_code == 422 and "ngày ban hành (issued_on) '30/02/2024'" in wrong_day.json()["detail"]
        wrong_number = await http.post(
            "/plans/preview", files={"file": ("plan.txt", text, "text/plain")}, data={"number": "số mười hai"}
        )
        assert wrong_number.status_code == 422 and wrong_number.json()["errors"][0]["where"] == "number"
