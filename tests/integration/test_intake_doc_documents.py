"""Word 97-2003 (.doc) plans over HTTP, read by antiword in intake's reader processes: previewed, registered and
counted as `doc`, and the document given back as submitted."""

from __future__ import annotations

import pytest

from services.intake.config import Settings
from services.intake.documents.tools import available
from services.intake.main import create_app
from tests.fixtures.doc_plans import text_to_doc
from tests.integration.conftest import OPERATOR, running
from tests.integration.test_intake_documents import plan_number
from tests.integration.test_intake_pdf_documents import bodies_of, ingested
from tests.unit.documents_support import FIXTURES


@pytest.mark.skipif(not available("antiword"), reason="antiword is not installed (make tools)")
async def test_a_word_97_plan_is_registered_and_counted_as_doc(service_settings) -> None:
    number = plan_number()
    text = (FIXTURES / "ward-greening-plan.txt").read_text(encoding="utf-8").replace("47-KH/ĐU", number)
    data = text_to_doc(text)
    app = create_app(service_settings(Settings))
    async with running(app, OPERATOR) as http:
        shown = await http.post("/plans/preview", files={"file": ("plan.doc", data, "application/msword")})
        assert shown.status_code == 200, shown.text
        assert shown.json()["reader"] == "doc" and bodies_of(shown.json()) == [
            "ubnd",
            "tuyen-giao",
            "mttq",
            "van-phong",
        ]
        before = ingested("doc")
        submitted = await http.post("/plans/document", files={"file": ("plan.doc", data, "application/msword")})
        assert submitted.status_code == 201, submitted.text
        assert ingested("doc") == before + 1
        download = await http.get(f"/plans/{submitted.json()['plan_id']}/document")
        assert download.content == data and download.headers["content-type"] == "application/msword"
