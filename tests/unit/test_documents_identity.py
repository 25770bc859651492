"""The plan's identity: its year from the date line first (DOMAIN.md §5), else the title or text, else the newest
document it cites; its number, date of issue and day of receipt entered by the clerk when the document lacks
them, used and stored as entered."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from services.cli.main import main
from services.intake.documents import Entered, ParsedPlan, parse_document_here
from services.intake.documents.normalise import split_lines
from services.intake.documents.parser import parse_lines
from services.intake.documents.to_submission import UnresolvedBodies, to_submission
from services.intake.domain import PlanRejected
from services.intake.use_cases.plans import ReadPlanDocument
from tests.unit.documents_support import TODAY, WeekdaysOnly, directory
from tests.unit.test_documents_wording import plan_text
from tests.unit.test_intake_plan_documents import bootstrap

UNREAD = [15]  # plan_text's clause 2 counts from the end of an activity: the clerk found it sets no deadline


def parse(text: str, entered: Entered | None = None) -> ParsedPlan:
    return parse_lines(split_lines(text), directory(), TODAY, WeekdaysOnly(), entered=entered)


@pytest.mark.parametrize(
    ("date_line", "title_year", "text_year", "year"),
    [
        ("Phường Hòa An, ngày 04 tháng 3 năm 2024", " năm 2023", "", 2024),  # the date line before the title
        ("Phường Hòa An, ngày 04 tháng 3 năm 2024", "", " trong năm 2022", 2024),  # and before the text
        ("Phường Hòa An, ngày 20 tháng 12 năm 2025", " năm 2026", "", 2026),  # issued in December for next year
        ("Phường Hòa An, ngày 20 tháng 12 năm 2025", " năm 2027", "", 2025),  # not two years on
        ("", " năm 2023", " trong năm 2022", 2023),  # no date line: the title before the text
    ],
)
def test_the_year_is_the_date_lines_first(date_line: str, title_year: str, text_year: str, year: int) -> None:
    plan = parse(plan_text(date_line, title_year, text_year))
    assert plan.year == year and not any(u.where == "year" for u in plan.unresolved)


def test_without_a_year_anywhere_the_newest_cited_document_gives_it() -> None:
    text = plan_text(date_line="").replace(
        " KẾ HOẠCH\n tổng vệ sinh môi trường\n",
        " KẾ HOẠCH\n tổng vệ sinh môi trường\n"
        "Thực hiện Chỉ thị số 02/CT-UBND ngày 03/01/2023 và Kế hoạch số 15-KH/QU ngày 14/02/2024 của Quận ủy:\n",
    )
    plan = parse(text)
    assert plan.year == 2024 and not any(u.where == "year" for u in plan.unresolved)


def test_a_number_the_document_lacks_is_entered_and_used_as_entered() -> None:
    text = plan_text().replace("Số 12-KH/ĐU\n", "\n")
    missing = parse(text)
    with pytest.raises(UnresolvedBodies, match="thiếu thông tin") as refused:
        to_submission(missing, no_deadline_lines=UNREAD)
    assert any(p["where"] == "number" for p in refused.value.problems)

    plan = parse(text, Entered(number="07-KH/ĐU"))
    assert plan.number is not None and (plan.number.text, plan.number.line) == ("07-KH/ĐU", 0)
    assert plan.entered == {"number": "07-KH/ĐU"}
    assert plan.issuer is not None and plan.issuer.code == "dang-uy"
    assert to_submission(plan, no_deadline_lines=UNREAD).number == "07-KH/ĐU"


def test_an_entered_number_stands_instead_of_one_misread() -> None:
    plan = parse(plan_text().replace("Số 12-KH/ĐU", "Số 1Z-KH/ĐU"), Entered(number=" 12-KH/ĐU "))
    assert plan.number is not None and plan.number.text == "12-KH/ĐU"


def test_a_date_of_issue_entered_sets_the_year_and_the_durations_from_issue() -> None:
    text = plan_text(date_line="").replace(
        "Hoàn thành các hoạt động trong quý II.", "Hoàn thành trong thời hạn 15 ngày kể từ ngày ký."
    )
    without = parse(text)
    assert any(u.where == "year" for u in without.unresolved)
    plan = parse(text, Entered(issued_on=date(2024, 3, 4)))
    assert plan.year == 2024 and plan.issued_on == date(2024, 3, 4) and plan.issued_on_line is None
    assert not any(u.where == "year" for u in plan.unresolved)
    assert [(d.kind, d.due) for d in plan.deadlines] == [("duration", date(2024, 3, 19))]
    assert plan.entered == {"issued_on": "2024-03-04"}


def test_a_day_of_receipt_entered_fixes_the_durations_from_receipt() -> None:
    text = plan_text().replace(
        "Hoàn thành các hoạt động trong quý II.",
        "Gửi báo cáo trong vòng 10 ngày kể từ ngày nhận được kế hoạch.",
    )
    assumed = parse(text)
    (from_today,) = assumed.deadlines
    assert from_today.counted_from == "receipt" and "tạm tính từ hôm nay" in (from_today.note or "")
    assert to_submission(assumed, no_deadline_lines=UNREAD).deadlines[0].after_receipt is not None

    plan = parse(text, Entered(received_on=date(2024, 3, 11)))
    (deadline,) = plan.deadlines
    assert (deadline.start, deadline.due) == (date(2024, 3, 11), date(2024, 3, 21))
    assert "11/03/2024" in (deadline.note or "") and plan.received_on == date(2024, 3, 11)
    submitted = to_submission(plan, no_deadline_lines=UNREAD).deadlines[0]
    assert submitted.after_receipt is None and submitted.due == deadline.effective_at  # fixed: entered, not assumed


def test_a_day_is_read_as_clerks_write_it_or_refused_saying_which() -> None:
    assert Entered.day("04/03/2024", "ngày") == Entered.day("2024-03-04", "ngày") == date(2024, 3, 4)
    with pytest.raises(ValueError, match="Ngày ban hành '31/02/2024' không phải một ngày"):
        Entered.day("31/02/2024", "Ngày ban hành")


async def test_a_number_entered_in_the_wrong_shape_is_refused_before_reading() -> None:
    use_cases, _, _ = bootstrap()
    text = plan_text().replace("Số 12-KH/ĐU\n", "\n").encode()
    with pytest.raises(PlanRejected) as refused:
        await use_cases.read_document(ReadPlanDocument(text, "plan.txt", entered=Entered(number="12 KH ĐU")))
    assert refused.value.problems[0]["where"] == "number" and "85-KH/ĐU" in refused.value.problems[0]["problem"]
    read = await use_cases.read_document(
        ReadPlanDocument(text, "plan.txt", no_deadline_lines=(15,), entered=Entered(number="12-KH/ĐU"))
    )
    assert read.submission.number == "12-KH/ĐU" and read.entered == {"number": "12-KH/ĐU"}
    assert await parse_document_here(text, "plan.txt", directory(), TODAY, entered=Entered(number="9-KH/ĐU"))


def test_plan_parse_takes_the_clerks_entries(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = tmp_path / "plan.txt"
    plan.write_text(plan_text(date_line="").replace("Số 12-KH/ĐU\n", "\n"), encoding="utf-8")
    args = ["plan", "parse", str(plan), "--number", "07-KH/ĐU", "--issued-on", "04/03/2024"]
    main([*args, "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["number"]["text"] == "07-KH/ĐU" and result["issued_on"] == "2024-03-04" and result["year"] == 2024
    assert result["entered"] == {"number": "07-KH/ĐU", "issued_on": "2024-03-04"}
    main(args)
    assert "Văn thư nhập (không đọc từ văn bản): số 07-KH/ĐU, ngày ban hành 2024-03-04" in capsys.readouterr().out
    assert main(["plan", "parse", str(plan), "--issued-on", "32/01/2024"]) == 1
    assert "không phải một ngày" in capsys.readouterr().err


def test_plan_submit_sends_the_clerks_entries_as_form_fields(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import httpx

    sent: dict[str, object] = {}

    def post(url: str, **kwargs: object) -> httpx.Response:
        sent.update(kwargs)
        return httpx.Response(201, json={"plan_id": "p1", "status": "registered", "assignments": []})

    monkeypatch.setattr(httpx, "post", post)
    plan = tmp_path / "plan.txt"
    plan.write_text(plan_text(), encoding="utf-8")
    args = ["plan", "submit", str(plan), "--url", "http://intake", "--token", "t", "--number", "07-KH/ĐU"]
    assert main([*args, "--issued-on", "04/03/2024", "--received-on", "11/03/2024"]) == 0
    assert sent["data"] == {
        "skip_unresolved": "false",
        "no_deadline_lines": [],
        "number": "07-KH/ĐU",
        "issued_on": "2024-03-04",
        "received_on": "2024-03-11",
    }
