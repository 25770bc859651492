"""The assignment notice on the real database and SMTP server names the section and clause of the task
("mục III, khoản 2") and what the plan asks the body to deliver and where; an acknowledgement window stored before
these fields existed still sends its notice, with the general line on what to deliver."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from services.notifier.domain import acknowledgement_id
from shared.contracts.events import DeliverableRequirement, Provenance
from shared.domain.clock import FakeClock
from tests.integration.notifier_harness import created, notifier, smtp_server
from tests.integration.test_notifier_links import plain
from tests.integration.test_notifier_smtp import DUE, START, read_mail

III_2 = Provenance(clause="2", section="III", section_title="TỔ CHỨC THỰC HIỆN", line=40)
WORD_AND_SCAN = DeliverableRequirement(
    items=("01 file word", "01 file scan"),
    send_to="Văn phòng Đảng ủy",
    wording="Các đơn vị gửi báo cáo về Văn phòng Đảng ủy bằng 01 file word và 01 file scan.",
    provenance=Provenance(section="IV", line=52),
)


async def test_the_notice_names_the_section_and_what_to_deliver_and_an_older_window_still_sends(
    mongo_url: str, database_name: str, tmp_path: Path
) -> None:
    clock = FakeClock(START)
    new = created("chi-bo-khu-1", DUE, START).model_copy(
        update={"provenance": [III_2], "deliverables_required": [WORD_AND_SCAN]}
    )
    older = created("chi-bo-khu-2", DUE, START).model_copy(update={"provenance": [Provenance(clause="3", line=44)]})
    async with (
        smtp_server(tmp_path / "mail") as (port, _),
        notifier(mongo_url, database_name, clock, port) as n,
    ):
        await n.projector(new)
        await n.projector(older)
        # As a window stored before `deliverables_required` existed: the field is not there at all.
        await n.repository.periods.update_one(
            {"_id": acknowledgement_id(older.assignment_id)}, {"$unset": {"deliverables_required": ""}}
        )
        await n.scan_all()
        assert await n.mailer.send_pending() == 2
        by_body = {m["To"]: plain(m) for m in read_mail(tmp_path / "mail")}

    (text,) = [t for to, t in by_body.items() if "chi-bo-khu-1" in to]
    assert "Nội dung nhiệm vụ (mục III, khoản 2, dòng 40 của Kế hoạch):" in text
    assert (
        "Sản phẩm cần gửi theo Kế hoạch: 01 file word và 01 file scan, gửi đến Văn phòng Đảng ủy "
        "(mục IV, dòng 52 của Kế hoạch)." in text
    )
    assert unicodedata.is_normalized("NFC", text)
    (text,) = [t for to, t in by_body.items() if "chi-bo-khu-2" in to]
    assert "Nội dung nhiệm vụ (khoản 3, dòng 44 của Kế hoạch):" in text
    assert "Sản phẩm cần gửi: báo cáo kết quả thực hiện của từng kỳ nêu trên" in text
