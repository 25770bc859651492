"""The assignment notice on the real database and SMTP server: it names where the plan's document writes the task
and its deadline, and one still queued (here in SMTP retry backoff) goes out with the deadline and the task as they
stand when it is sent: a corrected plan moved the deadline (`deadline.extended`), reworded the task and changed
where reports go (`assignment.revised`) meanwhile."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from services.notifier.domain import acknowledgement_id
from shared.contracts.events import (
    AssignmentRevised,
    DeadlineExtended,
    DeliverableRequirement,
    Provenance,
    ReportingDeadline,
)
from shared.domain.clock import FakeClock, as_utc
from tests.integration.notifier_harness import created, drop, notifier, smtp_server
from tests.integration.test_notifier_links import CELL, plain
from tests.integration.test_notifier_smtp import DUE, START, address, read_mail


async def test_a_queued_notice_goes_with_its_clause_and_the_deadline_and_task_as_they_stand(
    mongo_url: str, database_name: str, tmp_path: Path
) -> None:
    clock = FakeClock(START)
    base = created("chi-bo-khu-1", DUE, START)
    deadline = ReportingDeadline(
        period="2026-FY", due_at=DUE, wording="gửi trước ngày 01 tháng 7", provenance=Provenance(clause="4", line=30)
    )
    to_the_office = DeliverableRequirement(items=("01 file word", "01 file scan"), send_to="Văn phòng Đảng ủy")
    to_the_folder = DeliverableRequirement(items=("01 file word",), send_to="https://drive.example.vn/bao-cao")
    event = base.model_copy(
        update={
            "deadlines": [deadline],
            "provenance": [Provenance(clause="2", page=3, line=12)],
            "deliverables_required": [to_the_office],
        }
    )
    later = DUE + timedelta(days=15)
    moved = DeadlineExtended(
        correlation_id=event.plan_id,
        agency=event.agency,
        occurred_at=START + timedelta(minutes=1),
        request_id="amendment-1",
        assignment_id=event.assignment_id,
        plan_id=event.plan_id,
        period="2026-FY",
        previous_due_at=DUE,
        due_at=later,
        wording="gửi trước ngày 16 tháng 7",
    )
    reworded = AssignmentRevised(
        correlation_id=event.plan_id,
        agency=event.agency,
        occurred_at=START + timedelta(minutes=1),
        assignment_id=event.assignment_id,
        plan_id=event.plan_id,
        task="Báo cáo kết quả thực hiện, kèm biểu số liệu.",
        previous_task=event.task,
        plan_version=1,
        deliverables_required=[to_the_folder],
    )
    async with (
        smtp_server(tmp_path / "mail", ["421 4.3.2 Service not available, try later"]) as (port, server),
        notifier(mongo_url, database_name, clock, port, mail_retry_base_seconds=60) as n,
    ):
        await n.projector(event)
        await n.scan_all()
        assert await n.mailer.send_pending() == 0 and server.attempts == 1  # queued, in backoff
        (queued,) = await n.repository.emails.find().to_list()
        assert "hạn cuối 23:59 ngày 30/06/2026 (ghi tại khoản 4, dòng 30)." in queued["text"]
        await n.projector(moved)
        await n.projector(reworded)
        window = await n.repository.get(acknowledgement_id(event.assignment_id))
        assert window is not None and window["content_rev"] == 2
        assert abs(as_utc(window["deadlines"][0]["due_at"]) - later) < timedelta(milliseconds=1)  # stored to the ms
        clock.advance(timedelta(minutes=2))
        assert await n.mailer.send_pending() == 1
        (message,) = read_mail(tmp_path / "mail")
        assert address(message) == CELL
        text = plain(message)
        assert (
            "Nội dung nhiệm vụ (khoản 2, trang 3, dòng 12 của Kế hoạch): Báo cáo kết quả thực hiện, kèm biểu số liệu."
            in text
        )
        assert (
            "– Kỳ 2026-FY: “gửi trước ngày 16 tháng 7”, hạn cuối 23:59 ngày 15/07/2026 "
            "(đã gia hạn, hạn trước đây 23:59 ngày 30/06/2026; ghi tại khoản 4, dòng 30)." in text
        )
        assert "30/06/2026." not in text
        # where reports go as the correction says, not as the notice was first written
        assert "01 file word, gửi qua đường dẫn https://drive.example.vn/bao-cao" in text, text
        assert "Văn phòng Đảng ủy" in queued["text"] and "Văn phòng Đảng ủy" not in text
        (row,) = await n.repository.emails.find().to_list()
        assert row["status"] == "sent" and row["content_revs"] == {window["_id"]: 2} and "15/07/2026" in row["text"]
    await drop(mongo_url, database_name)
