"""What to deliver and where, and each place's section, on the real broker and database: a plan document
submitted to intake publishes `assignment.created` with the plan's `deliverables_required` and the section of its
clause (`mục III`), the stored plan keeps them, and tracking's assignment record shows what to deliver."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import aio_pika

from services.intake.config import Settings as IntakeSettings
from services.intake.main import create_app as create_intake
from services.tracking.config import Settings as TrackingSettings
from services.tracking.main import create_app as create_tracking
from shared.contracts.topology import EVENTS_EXCHANGE
from tests.conftest import eventually, random_ref
from tests.integration.conftest import OPERATOR, running
from tests.integration.test_intake_documents import plan_number
from tests.unit.documents_support import FIXTURES

LINK = "https://drive.hoaan.gov.vn/bao-cao/kh-cay-xanh"
REPORTING = (
    "IV. CHẾ ĐỘ THÔNG TIN, BÁO CÁO\n\n"
    "Các đơn vị gửi báo cáo kết quả trước ngày 10/12/2026 gồm 01 bản scan có chữ ký và 01 tệp Word qua thư mục "
    f"chia sẻ: {LINK}.\n\n"
)


async def test_a_document_plan_publishes_what_to_deliver_and_the_section_of_each_place(
    service_settings, amqp, database_name
) -> None:
    number = plan_number()
    text = (FIXTURES / "ward-greening-plan.txt").read_text(encoding="utf-8").replace("47-KH/ĐU", number)
    text = text.replace("Nơi nhận:", REPORTING + "Nơi nhận:")
    exchange = await amqp.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    listener = await amqp.declare_queue(random_ref("listen-"), exclusive=True)
    await listener.bind(exchange, "assignment.created.#")
    intake = create_intake(service_settings(IntakeSettings, mongo_database=f"{database_name}_i"))
    tracking = create_tracking(service_settings(TrackingSettings, mongo_database=f"{database_name}_t"))
    async with running(tracking, OPERATOR) as track, running(intake, OPERATOR) as take:
        # Sent decomposed (NFD), as some editors save it: published composed.
        data = unicodedata.normalize("NFD", text).encode()
        submitted = await take.post("/plans/document", files={"file": ("kế hoạch.txt", data, "text/plain")})
        assert submitted.status_code == 201, submitted.text
        plan_id = submitted.json()["plan_id"]
        plan = (await take.get(f"/plans/{plan_id}")).json()
        created: dict[str, dict[str, Any]] = {}
        while len(created) < len(plan["assignments"]):
            message = await eventually(lambda: listener.get(no_ack=True, fail=False), what="assignment.created")
            body = json.loads(message.body)
            if body["plan_id"] == plan_id:
                created[body["agency"]["code"]] = body

        lines = text.splitlines()
        reporting_line = next(n for n, line in enumerate(lines, start=1) if line.startswith("Các đơn vị gửi báo cáo"))
        plan_wide = {
            "items": ["01 bản scan có chữ ký", "01 tệp Word"],
            "send_to": LINK,
            "wording": lines[reporting_line - 1],
            "provenance": {
                "clause": None,
                "section": "IV",
                "section_title": "CHẾ ĐỘ THÔNG TIN, BÁO CÁO",
                "page": None,
                "line": reporting_line,
            },
        }
        for clause, agency in (("1", "ubnd"), ("2", "tuyen-giao"), ("3", "mttq"), ("4", "van-phong")):
            (place,) = created[agency]["provenance"]
            assert (place["section"], place["section_title"], place["clause"]) == ("III", "TỔ CHỨC THỰC HIỆN", clause)
            assert created[agency]["deliverables_required"][-1] == plan_wide
        # Clause 1 asks UBND for its own report to the Party committee, before the plan's common rule.
        own = created["ubnd"]["deliverables_required"][0]
        assert (own["items"], own["send_to"], own["provenance"]["clause"]) == ([], "Đảng ủy", "1")
        assert created["mttq"]["deliverables_required"] == [plan_wide]
        published = json.dumps(created["mttq"]["deliverables_required"], ensure_ascii=False)
        assert unicodedata.is_normalized("NFC", published) and "01 bản scan có chữ ký" in published
        stored = {a["agency"]: a for a in plan["assignments"]}
        assert stored["mttq"]["deliverables_required"] == [plan_wide]

        assignment_id = created["mttq"]["assignment_id"]

        async def recorded() -> dict[str, Any] | None:
            answer = await track.get(f"/assignments/{assignment_id}")
            return answer.json() if answer.status_code == 200 else None

        record = await eventually(recorded, what="tracking to record the assignment")
        assert record["deliverables_required"] == [plan_wide]
