"""Hostile documents over HTTP (issue #20): while a document that is slow to read is being read, intake
goes on answering; a document past a limit is refused with a Vietnamese message naming the limit, never
a 500; a .docx that lies about its size is refused without being inflated."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.intake.config import Settings
from services.intake.main import create_app
from tests.fixtures.docx_plans import lying_docx, stall_docx
from tests.integration.conftest import OPERATOR, running
from tests.unit.documents_support import FIXTURES

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


async def test_intake_answers_while_a_slow_document_is_read(service_settings) -> None:
    """20,000 short paragraphs over 300 styles, 58 KB: read in the event loop it held intake for about a
    minute (python-docx looked every paragraph's style up through all 300). Intake must answer /healthz
    within a second all along; the document is read or refused by the time limit."""
    settings = service_settings(Settings, document_timeout_seconds=1.5, document_max_paragraphs=1_000_000)
    stall = stall_docx(20_000, 300)
    app = create_app(settings)
    async with running(app, OPERATOR) as http:
        await http.get("/healthz")
        document = asyncio.create_task(
            http.post("/plans/preview", files={"file": ("stall.docx", stall, DOCX)}, timeout=120)
        )
        answers: list[float] = []
        last = time.monotonic()
        gaps: list[float] = []
        while not document.done() or len(answers) < 5:
            started = time.monotonic()
            response = await http.get("/healthz", timeout=5)
            assert response.status_code == 200
            answers.append(time.monotonic() - started)
            gaps.append(time.monotonic() - last)  # a blocked loop shows here, even when the probe itself is quick
            last = time.monotonic()
            await asyncio.sleep(0.1)
        response = await document
        assert max(answers) < 1.0 and max(gaps) < 1.0, (answers, gaps)
        assert response.status_code in (200, 422), response.text
        if response.status_code == 422:
            detail = response.json()
            # Read within the limit on a quick machine, the stall document is simply not a plan.
            assert detail["code"] in ("too_slow", "not_a_plan"), detail
            if detail["code"] == "too_slow":
                assert "Không đọc được tài liệu trong thời gian cho phép (1.5 giây)" in detail["detail"]

        ward = (FIXTURES / "ward-cleanup-plan.txt").read_bytes()
        after = await http.post("/plans/preview", files={"file": ("ward.txt", ward, "text/plain")})
        assert after.status_code == 200, after.text  # a fresh reader took the killed one's place


async def test_documents_past_a_limit_are_refused_saying_which(service_settings) -> None:
    app = create_app(service_settings(Settings, document_max_paragraphs=5_000))
    async with running(app, OPERATOR) as http:
        for path in ("/plans/preview", "/plans/document"):
            many = await http.post(path, files={"file": ("many.docx", stall_docx(6_000, 3), DOCX)})
            assert many.status_code == 413, many.text
            assert many.json()["code"] == "too_large"
            assert "Tài liệu quá lớn: 6.000 đoạn văn, vượt giới hạn 5.000 đoạn" in many.json()["detail"]


@pytest.fixture(scope="module")
def lying() -> bytes:
    return lying_docx(300 * 1024 * 1024, 1_000, crc_of_declared=False)


async def test_a_docx_that_lies_about_its_size_is_refused(service_settings, lying: bytes) -> None:
    app = create_app(service_settings(Settings))
    async with running(app, OPERATOR) as http:
        for path in ("/plans/preview", "/plans/document"):
            response = await http.post(path, files={"file": ("lying.docx", lying, DOCX)})
            assert response.status_code == 422, response.text
            detail = response.json()
            assert detail["code"] == "binary"
            assert "phần word/document.xml không khớp với kích thước" in detail["detail"]
