"""Provenance over HTTP, on the real broker and database: a plan document's assignments and deadlines name their
clause, page and line in the stored plan and in `assignment.created`; the document is kept in GridFS with its
SHA-256 and downloaded byte for byte. End to end: a scanned PDF (rendered from a sample plan, rotated and
blurred) becomes assignments with the right deadlines, each named by its page and line."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date
from typing import Any

import aio_pika
import pytest
from PIL import ImageFont
from pymongo import AsyncMongoClient

from services.intake.config import Settings
from services.intake.documents import ParsedPlan, parse_document
from services.intake.documents.tools import available
from services.intake.main import create_app
from services.intake.repository import PlanDocuments
from shared.contracts.topology import EVENTS_EXCHANGE
from tests.conftest import eventually, random_ref
from tests.fixtures.pdf_plans import SERIF, _wrap, font_available, scan_to_pdf, text_to_scan
from tests.integration.conftest import OPERATOR, running
from tests.integration.test_intake_documents import plan_number
from tests.unit.documents_support import FIXTURES, directory

LINES_PER_PAGE = 30


async def test_a_document_plan_names_clause_and_line_and_its_document_is_kept(service_settings, mongo_url) -> None:
    number = plan_number()
    text = (FIXTURES / "ward-greening-plan.txt").read_text(encoding="utf-8").replace("47-KH/ĐU", number)
    data = text.encode()
    settings = service_settings(Settings)
    app = create_app(settings)
    async with running(app, OPERATOR) as http:
        submitted = await http.post("/plans/document", files={"file": ("kế hoạch 47.txt", data, "text/plain")})
        assert submitted.status_code == 201, submitted.text
        plan_id = submitted.json()["plan_id"]

        plan = (await http.get(f"/plans/{plan_id}")).json()
        lines = text.splitlines()
        by_agency = {a["agency"]: a for a in plan["assignments"]}
        for clause, agency in (("1", "ubnd"), ("2", "tuyen-giao"), ("3", "mttq"), ("4", "van-phong")):
            (place,) = by_agency[agency]["provenance"]
            assert (place["clause"], place["page"]) == (clause, None)
            assert lines[place["line"] - 1].startswith(f"{clause}. ")
        own = by_agency["ubnd"]["deadlines"][0]
        assert own["period"] == "2026-D12-14" and own["provenance"] == by_agency["ubnd"]["provenance"][0]
        assert "provenance" not in by_agency["mttq"]["deadlines"][0]  # the default: no line of the plan sets it
        document = plan["document"]
        assert (document["sha256"], document["bytes"], document["reader"]) == (
            hashlib.sha256(data).hexdigest(),
            len(data),
            "text",
        )

        download = await http.get(f"/plans/{plan_id}/document")
        assert download.status_code == 200 and download.content == data
        assert download.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
        assert download.headers["content-type"].startswith("text/plain")
        assert "filename*=UTF-8''k%E1%BA%BF%20ho%E1%BA%A1ch%2047.txt" in download.headers["content-disposition"]
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
        try:
            files = client[settings.mongo_database][f"{PlanDocuments.BUCKET}.files"]
            stored = await files.find_one({"_id": document["file_id"]})
        finally:
            await client.close()
        assert stored is not None and stored["metadata"]["sha256"] == document["sha256"]

        structured = {
            "issuer": "dang-uy",
            "number": plan_number(),
            "title": "Kế hoạch thử",
            "assignments": [{"agency": "ubnd", "task": "Làm."}],
            "deadlines": [{"period": "2027-FY", "due": "2027-12-31"}],
        }
        as_json = await http.post("/plans", json=structured)
        assert as_json.status_code == 201, as_json.text
        missing = await http.get(f"/plans/{as_json.json()['plan_id']}/document")
        assert missing.status_code == 404 and "JSON" in missing.json()["detail"]


def drawn_rows(text: str) -> dict[str, tuple[int, int]]:
    """Where `text_to_scan` draws each numbered clause: its page and its row on the page."""
    font = ImageFont.truetype(str(SERIF), size=round(12 / 72 * 300))
    width = round(8.27 * 300) - 2 * 300
    wrapped = [piece for line in text.splitlines() for piece in _wrap(line, font, width)]
    return {
        w.split(".", 1)[0]: (i // LINES_PER_PAGE + 1, i % LINES_PER_PAGE + 1)
        for i, w in enumerate(wrapped)
        if w[:1].isdigit() and w[1:2] == "."
    }


@pytest.mark.skipif(
    not font_available() or not all(map(available, ("pdftotext", "pdftoppm", "tesseract"))),
    reason="poppler-utils, tesseract-ocr-vie or fonts-dejavu-core is not installed (make tools)",
)
async def test_a_scanned_plan_over_http_becomes_assignments_with_their_deadlines_pages_and_lines(
    service_settings, amqp
) -> None:
    number = f"{uuid.uuid4().int % 10**6}/KH-UBND"
    text = (FIXTURES / "ubnd-deadlines-plan.txt").read_text(encoding="utf-8").replace("04/KH-UBND", number)
    scanned = scan_to_pdf(text_to_scan(text, lines_per_page=LINES_PER_PAGE))  # two pages, 300 dpi, rotated, blurred
    exchange = await amqp.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    listener = await amqp.declare_queue(random_ref("listen-"), exclusive=True)
    await listener.bind(exchange, "assignment.created.#")
    # OCR of two pages takes ~5 s on a free core: room for a busy machine.
    app = create_app(service_settings(Settings, document_timeout_seconds=90))
    async with running(app, OPERATOR) as http:
        submitted = await http.post("/plans/document", files={"file": ("scan.pdf", scanned, "application/pdf")})
        assert submitted.status_code == 201, submitted.text
        plan = (await http.get(f"/plans/{submitted.json()['plan_id']}")).json()
        messages = []
        for _ in plan["assignments"]:
            message = await eventually(lambda: listener.get(no_ack=True, fail=False), what="assignment.created")
            messages.append(json.loads(message.body))
        download = await http.get(f"/plans/{submitted.json()['plan_id']}/document")

    assert plan["number"] == number and plan["document"]["reader"] == "ocr"
    assert download.content == scanned and download.headers["content-type"] == "application/pdf"
    stored = {a["agency"]: a for a in plan["assignments"]}
    due = {agency: {d["period"]: d["due_at"][:10] for d in a["deadlines"]} for agency, a in stored.items()}
    # The deadlines as the plan words them (dates in Vietnam; stored as the last instant, UTC).
    assert due["van-phong"] == {"2024-D01-17": "2024-01-17", "2024-FY": "2025-01-14"}  # 05 working days from issue
    assert due["chi-bo-khu-1"]["2024-D01-22"] == "2024-01-22"  # 10 days from issue (10/01)
    assert due["chi-bo-khu-2"]["2024-03"] == "2024-03-31"  # within March 2024
    assert due["chi-bo-truong-thcs"]["2024-Q4"] == "2024-12-31"
    assert due["hoi-cuu-chien-binh"]["2024-D04-14"] == "2024-04-14"  # before 15/4: the 14th is the last day
    assert due["hoi-phu-nu"]["2024-D05-19"] == "2024-05-19"
    assert len([p for p in due["mttq"] if p != "2024-FY"]) == 12 and due["mttq"]["2024-07"] == "2024-07-24"
    assert [due["tuyen-giao"][q] for q in ("2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4")] == [
        "2024-03-19",
        "2024-06-19",
        "2024-09-19",
        "2024-12-19",
    ]
    assert "2024-R10D" in due["hoi-nong-dan"]  # 10 days from receipt: from the day intake registered it

    # The same assignments and deadlines as the plan's text gives.
    as_text = parse_document(text.encode(), "plan.txt", directory(), date(2024, 1, 10))
    assert isinstance(as_text, ParsedPlan)
    expected = {a.agency: sorted(d.period for d in a.deadlines) for a in as_text.assignments}
    assert {agency: sorted(periods) for agency, periods in due.items()} == expected

    # Each assignment and each of its deadlines names the page and line of its clause on the scan.
    rows = drawn_rows(text)
    for agency, assignment in stored.items():
        (place,) = assignment["provenance"]
        page, row = rows[place["clause"]]
        assert place["page"] == page
        assert row - 2 <= place["line"] <= row, (agency, place, row)  # OCR drops some blank rows of the heading
        own = [d for d in assignment["deadlines"] if d["period"] != "2024-FY"]
        assert own and all(d["provenance"] == place for d in own)
        yearly = next(d for d in assignment["deadlines"] if d["period"] == "2024-FY")
        assert yearly["provenance"]["clause"] is None and yearly["provenance"]["page"] == 2  # for every body
    assert {m["agency"]["code"]: m["provenance"] for m in messages} == {
        agency: a["provenance"] for agency, a in stored.items()
    }
    assert all(d.get("provenance") for m in messages for d in m["deadlines"])
