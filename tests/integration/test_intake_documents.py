"""Plan documents over HTTP on the real broker and database: preview stores nothing; a document publishes
like a structured plan; unresolved bodies are refused unless skipped; unreadable files get typed errors."""

from __future__ import annotations

import json
import uuid

import aio_pika
import pytest

from services.intake.config import Settings
from services.intake.handlers import PLANS_INGESTED
from services.intake.main import create_app
from shared.contracts.topology import EVENTS_EXCHANGE
from tests.conftest import eventually, random_ref
from tests.fixtures.docx_plans import text_to_docx
from tests.integration.conftest import OPERATOR, running
from tests.unit.documents_support import FIXTURES, REAL_PLAN

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def plan_number() -> str:
    """Plan numbers start with digits (`31-KH/ĐU`); random ones keep runs apart."""
    return f"{uuid.uuid4().int % 10**6}-KH/ĐU"


def cell_plan(number: str) -> str:
    return (FIXTURES / "cell-meeting-plan.txt").read_text(encoding="utf-8").replace("31-KH/ĐU", number)


async def test_preview_shows_the_parse_and_stores_nothing(service_settings) -> None:
    app = create_app(service_settings(Settings))
    async with running(app, OPERATOR) as http:
        text = (FIXTURES / "ward-cleanup-plan.txt").read_bytes()
        response = await http.post("/plans/preview", files={"file": ("ward.txt", text, "text/plain")})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["number"]["text"] == "12-KH/ĐU" and body["ready"] is False
        first = body["assignments"][0]
        assert (first["agency"], first["kind"], first["clause"], first["line"]) == ("ubnd", "ubnd", "1", 38)
        assert first["task"].startswith("Bố trí kinh phí")
        # Written as every instant is (shared.contracts.events.format_instant): UTC, `Z`, milliseconds.
        assert [(d["kind"], d["period"], d["effective_at"]) for d in body["deadlines"]] == [
            ("semiannual", "2025-H1", "2025-06-30T16:59:59.999Z"),
            ("annual", "2025-FY", "2025-12-31T16:59:59.999Z"),
        ]
        assert body["unresolved"] == [
            {
                "phrase": "Hội Người cao tuổi phường",
                "line": 42,
                "where": "clause 3",
                "reason": "không có trong danh bạ cơ quan",
            }
        ]
        assert [r["text"] for r in body["recipients"]][:2] == ["Thường trực Quận ủy", "Thường trực Đảng ủy"]

        raw = await http.post("/plans/preview", content=text, headers={"content-type": "text/plain"})
        assert raw.status_code == 200 and raw.json()["number"]["text"] == "12-KH/ĐU"
        structured = {
            "issuer": "Đảng ủy phường",
            "number": "9-KH/ĐU",
            "title": "Kế hoạch thử",
            "assignments": [{"agency": "Các tổ chức chính trị - xã hội phường", "task": "Làm."}],
            "deadlines": [{"period": "2027-FY", "due": "2027-12-31"}],
        }
        as_json = await http.post("/plans/preview", json=structured)
        assert as_json.status_code == 200, as_json.text
        assert as_json.json()["format"] == "json" and len(as_json.json()["assignments"]) == 5

        number = plan_number()
        await http.post("/plans/preview", files={"file": ("c.txt", cell_plan(number).encode(), "text/plain")})
        submitted = await http.post("/plans/document", files={"file": ("c.txt", cell_plan(number).encode())})
        assert submitted.status_code == 201, submitted.text  # the preview registered nothing


async def test_a_document_publishes_one_message_per_body(service_settings, amqp) -> None:
    exchange = await amqp.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    listener = await amqp.declare_queue(random_ref("listen-"), exclusive=True)
    await listener.bind(exchange, "assignment.created.#")
    app = create_app(service_settings(Settings))
    async with running(app, OPERATOR) as http:
        number = plan_number()
        docx = text_to_docx(cell_plan(number))
        before = PLANS_INGESTED.labels("docx")._value.get()  # prometheus_client has no public read of one sample
        response = await http.post("/plans/document", files={"file": ("plan.docx", docx, DOCX)})
        assert response.status_code == 201, response.text
        assert PLANS_INGESTED.labels("docx")._value.get() == before + 1  # the reader that took it
        created = response.json()["assignments"]
        assert len(created) == 12 + 1 + 5  # the party cells, the Front, the five mass organisations
        bodies = []
        for _ in created:
            message = await eventually(lambda: listener.get(no_ack=True, fail=False), what="a message")
            bodies.append(json.loads(message.body))
        assert {b["agency"]["code"] for b in bodies} == {a["agency"] for a in created}
        assert all(b["plan_number"] == number for b in bodies)
        assert all([d["period"] for d in b["deadlines"]] == ["2025-FY"] for b in bodies)  # the default
        assert all(b["deadlines"][0]["due_at"].startswith("2025-12-31T16:59:59.999Z") for b in bodies)

        again = await http.post("/plans/document", files={"file": ("plan.docx", docx, DOCX)})
        assert again.status_code == 200 and again.json()["status"] == "unchanged"  # nothing published again


async def test_unresolved_bodies_are_refused_unless_skipped(service_settings) -> None:
    app = create_app(service_settings(Settings))
    async with running(app, OPERATOR) as http:
        text = (FIXTURES / "ward-cleanup-plan.txt").read_text(encoding="utf-8")
        text = text.replace("12-KH/ĐU", plan_number()).encode()
        refused = await http.post("/plans/document", files={"file": ("ward.txt", text)})
        assert refused.status_code == 422
        detail = refused.json()
        assert detail["code"] == "unresolved" and "Hội Người cao tuổi phường" in detail["problems"][0]["problem"]
        accepted = await http.post(
            "/plans/document", files={"file": ("ward.txt", text)}, data={"skip_unresolved": "true"}
        )
        assert accepted.status_code == 201, accepted.text
        assert accepted.json()["skipped"][0]["phrase"] == "Hội Người cao tuổi phường"
        assert {"ubnd", "tuyen-giao", "doan-thanh-nien", "hoi-phu-nu"} <= {
            a["agency"] for a in accepted.json()["assignments"]
        }


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"", 422, "empty"),
        (b"%PDF-1.5 ...", 422, "binary"),  # a damaged PDF (pdftotext installed by make test-tools)
        (b"{\\rtf1 ...}", 415, "unknown_format"),
        (bytes(range(256)) * 8, 422, "binary"),
        (b"a" * (5 * 1024 * 1024 + 10), 413, "too_large"),
        (b'{"issuer": 1}', 422, "invalid_json"),
    ],
)
async def test_unreadable_files_get_typed_errors(service_settings, data: bytes, status: int, code: str) -> None:
    app = create_app(service_settings(Settings))
    async with running(app, OPERATOR) as http:
        for path in ("/plans/preview", "/plans/document"):
            response = await http.post(path, files={"file": ("x", data)})
            assert response.status_code == status, response.text
            assert response.json()["code"] == code


async def test_the_real_plan_over_http(service_settings) -> None:
    if not REAL_PLAN.exists():
        pytest.skip("the real plan (../shared/plans) is not beside the repository")
    app = create_app(service_settings(Settings))
    async with running(app, OPERATOR) as http:
        response = await http.post("/plans/preview", files={"file": ("85.txt", REAL_PLAN.read_bytes())})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["ready"] is True and body["number"]["text"] == "85-KH/ĐU"
        assert len(body["assignments"]) == 20 and len(body["recipients"]) == 7


def receipt_plan(number: str, task: str) -> bytes:
    return "\n".join(
        [
            "ĐẢNG ỦY PHƯỜNG HÒA AN",
            f"Số {number}",
            "Hòa An, ngày 05 tháng 01 năm 2026",
            "",
            "KẾ HOẠCH",
            "rà soát hộ cần hỗ trợ dịp Tết năm 2026",
            "",
            "III. TỔ CHỨC THỰC HIỆN",
            "",
            f"1. Ủy ban nhân dân phường: {task} trong vòng 10 ngày kể từ ngày nhận được kế hoạch.",
            "",
            "Nơi nhận:",
            "- Lưu VPĐU.",
        ]
    ).encode()


async def test_a_deadline_from_receipt_runs_from_the_day_of_registration(service_settings, amqp) -> None:
    from datetime import datetime, timedelta

    from shared.domain.clock import VIETNAM, FakeClock

    exchange = await amqp.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    listener = await amqp.declare_queue(random_ref("listen-"), exclusive=True)
    await listener.bind(exchange, "#")
    clock = FakeClock(datetime(2026, 1, 15, 9, 0, tzinfo=VIETNAM))  # a Thursday
    app = create_app(service_settings(Settings), clock=clock)
    number = plan_number()
    plan = receipt_plan(number, "Gửi danh sách hộ cần hỗ trợ")
    async with running(app, OPERATOR) as http:
        preview = (await http.post("/plans/preview", files={"file": ("p.txt", plan)})).json()
        (shown,) = preview["assignments"][0]["deadlines"]
        assert (shown["counted_from"], shown["period"], shown["due"]) == ("receipt", "2026-R10D", "2026-01-26")
        assert "tạm tính từ hôm nay (15/01/2026)" in shown["note"]

        registered = await http.post("/plans/document", files={"file": ("p.txt", plan)})
        assert registered.status_code == 201, registered.text
        plan_id = registered.json()["plan_id"]

        async def due_at() -> str:
            stored = (await http.get(f"/plans/{plan_id}")).json()
            return stored["assignments"][0]["deadlines"][0]["due_at"]

        # Registered on Thursday 15 January: ten days end on Sunday 25 January, so at the end of Monday 26.
        first_due = await due_at()
        assert first_due == "2026-01-26T16:59:59.999Z"

        clock.advance(timedelta(days=4))  # Monday 19 January: the preview counts from this day now, and says so
        preview = (await http.post("/plans/preview", files={"file": ("p.txt", plan)})).json()
        (later,) = preview["assignments"][0]["deadlines"]
        assert later["due"] == "2026-01-29" and "(19/01/2026)" in later["note"]
        again = await http.post("/plans/document", files={"file": ("p.txt", plan)})
        assert again.status_code == 200 and again.json()["status"] == "unchanged"  # still from 15 January
        corrected = receipt_plan(number, "Gửi danh sách hộ cần hỗ trợ, kèm số điện thoại liên hệ")
        amended = (await http.post("/plans/document", files={"file": ("p.txt", corrected)})).json()
        assert amended["status"] == "amended" and amended["tasks_changed"] == ["ubnd"]
        assert amended["deadlines_changed"] == []
        assert await due_at() == first_due
