"""PDF plans over HTTP, read in intake's reader processes: a scanned PDF (OCR) is read into the same bodies as
its text version and as its text-layer PDF, and the ingestion counter says which reader took each plan."""

from __future__ import annotations

import pytest

from services.intake.config import Settings
from services.intake.documents.tools import available
from services.intake.handlers import PLANS_INGESTED
from services.intake.main import create_app
from tests.fixtures.pdf_plans import font_available, scan_to_pdf, text_to_pdf, text_to_scan
from tests.integration.conftest import OPERATOR, running
from tests.integration.test_intake_documents import plan_number
from tests.unit.documents_support import FIXTURES

pytestmark = pytest.mark.skipif(
    not font_available() or not all(map(available, ("pdftotext", "pdftoppm", "tesseract"))),
    reason="poppler-utils, tesseract-ocr-vie or fonts-dejavu-core is not installed (make tools)",
)


def ingested(source: str) -> float:
    return PLANS_INGESTED.labels(source)._value.get()  # prometheus_client has no public read of one sample


def bodies(preview: dict) -> list[tuple[str, str | None]]:
    return [(a["agency"], a["clause"]) for a in preview["assignments"]]


async def test_a_scanned_plan_reads_into_the_same_bodies_as_its_text(service_settings) -> None:
    number = plan_number()
    text = (FIXTURES / "ward-greening-plan.txt").read_text(encoding="utf-8").replace("47-KH/ĐU", number)
    scanned, typeset = scan_to_pdf(text_to_scan(text)), text_to_pdf(text, header="Kế hoạch số " + number)
    # OCR of two pages takes ~5 s on a free core: room for a busy machine.
    app = create_app(service_settings(Settings, document_timeout_seconds=60))
    async with running(app, OPERATOR) as http:
        shown = {}
        for name, data, kind in (
            ("plan.txt", text.encode(), "text/plain"),
            ("plan.pdf", typeset, "application/pdf"),
            ("scan.pdf", scanned, "application/pdf"),
        ):
            response = await http.post("/plans/preview", files={"file": (name, data, kind)})
            assert response.status_code == 200, response.text
            shown[name] = response.json()
        assert bodies(shown["scan.pdf"]) == bodies(shown["plan.pdf"]) == bodies(shown["plan.txt"])
        assert [a["agency"] for a in shown["scan.pdf"]["assignments"]] == ["ubnd", "tuyen-giao", "mttq", "van-phong"]
        assert (shown["plan.txt"]["reader"], shown["plan.pdf"]["reader"], shown["scan.pdf"]["reader"]) == (
            "text",
            "pdf",
            "ocr",
        )
        assert shown["scan.pdf"]["number"]["text"] == number and shown["scan.pdf"]["ready"] is True
        assert max(shown["scan.pdf"]["pages"]) == 2 and shown["plan.txt"]["pages"] == []

        before = ingested("ocr")
        submitted = await http.post("/plans/document", files={"file": ("scan.pdf", scanned, "application/pdf")})
        assert submitted.status_code == 201, submitted.text
        assert sorted(a["agency"] for a in submitted.json()["assignments"]) == sorted(bodies_of(shown["plan.txt"]))
        assert ingested("ocr") == before + 1

        before = ingested("pdf")
        again = await http.post("/plans/document", files={"file": ("plan.pdf", typeset, "application/pdf")})
        assert again.status_code == 200 and again.json()["status"] == "unchanged"  # the same plan, read again
        assert ingested("pdf") == before  # counted when registered, not when unchanged


def bodies_of(preview: dict) -> list[str]:
    return [a["agency"] for a in preview["assignments"]]


async def test_a_text_layer_pdf_is_counted_as_pdf(service_settings) -> None:
    number = plan_number()
    text = (FIXTURES / "ward-greening-plan.txt").read_text(encoding="utf-8").replace("47-KH/ĐU", number)
    app = create_app(service_settings(Settings, document_timeout_seconds=60))
    async with running(app, OPERATOR) as http:
        before = ingested("pdf")
        response = await http.post(
            "/plans/document", files={"file": ("plan.pdf", text_to_pdf(text), "application/pdf")}
        )
        assert response.status_code == 201, response.text
        assert ingested("pdf") == before + 1
