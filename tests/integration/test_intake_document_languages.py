"""A document intake cannot read, refused over HTTP in the caller's language (issue #19): the problem's `detail`
and its `problems` in Vietnamese by default, in English with `Accept-Language: en`; `code` the same in both."""

from __future__ import annotations

from typing import Any

import httpx

from services.intake.config import Settings
from services.intake.main import create_app
from tests.fixtures.docx_plans import stall_docx
from tests.integration.conftest import OPERATOR, running
from tests.unit.test_documents_wording import plan_text

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ENGLISH = {"Accept-Language": "en"}


async def both(http: httpx.AsyncClient, path: str, **request: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same refusal asked for twice: as people get it (no Accept-Language), and in English."""
    vietnamese = await http.post(path, **request)
    english = await http.post(path, headers={**OPERATOR, **ENGLISH}, **request)
    assert vietnamese.status_code == english.status_code >= 400, (vietnamese.text, english.text)
    assert vietnamese.headers["content-type"].startswith("application/problem+json")
    first, second = vietnamese.json(), english.json()
    assert first.get("code") == second.get("code") and first["type"] == second["type"]
    assert first["title"] != second["title"] and first["detail"] != second["detail"]
    return first, second


async def test_unreadable_documents_are_refused_in_vietnamese_or_in_english(service_settings) -> None:
    app = create_app(service_settings(Settings))
    async with running(app, OPERATOR) as http:
        vi, en = await both(http, "/plans/preview", files={"file": ("plan.rtf", b"{\\rtf1 ...}")})
        assert (vi["status"], vi["code"]) == (415, "unknown_format")
        assert vi["detail"].startswith("Tệp là RTF, chưa đọc được định dạng này. Hãy mở bằng Word")
        assert (
            en["detail"]
            == "The file is RTF, a format intake does not read. Open it in Word and save it as .docx or .txt."
        )

        damaged = b"PK\x03\x04" + b"garbage" * 10
        vi, en = await both(http, "/plans/document", files={"file": ("plan.docx", damaged, DOCX)})
        assert (vi["status"], vi["code"]) == (422, "binary")
        assert vi["detail"] == "Tệp .docx bị hỏng (không mở được). Hãy mở bằng Word và lưu lại."
        assert en["detail"] == "The .docx file is damaged (it cannot be opened). Open it in Word and save it again."

        many = "Đoạn văn.\n" * 20_001
        vi, en = await both(http, "/plans/preview", files={"file": ("many.txt", many.encode())})
        assert (vi["status"], vi["code"]) == (413, "too_large")
        assert "Tài liệu quá lớn: 20.001 đoạn văn, vượt giới hạn 20.000 đoạn." in vi["detail"]
        assert "The document is too large: 20,001 paragraphs, over the limit of 20,000." in en["detail"]

        minutes = "Biên bản họp chi bộ tháng 3.\nNội dung: thảo luận công tác phát triển đảng viên.\n".encode()
        vi, en = await both(http, "/plans/document", files={"file": ("minutes.txt", minutes)})
        assert (vi["status"], vi["code"]) == (422, "not_a_plan")
        assert vi["detail"].startswith("Không nhận ra kế hoạch: không thấy số hiệu (Số …-KH/…)")
        assert en["detail"].startswith("This does not read as a plan: no number (Số …-KH/…)")


async def test_an_unread_deadline_names_its_line_and_why_in_either_language(service_settings) -> None:
    app = create_app(service_settings(Settings))
    async with running(app, OPERATOR) as http:
        vi, en = await both(http, "/plans/document", files={"file": ("plan.txt", plan_text().encode())})
        assert (vi["status"], vi["code"]) == (422, "unread_deadline")
        assert "thời hạn mà hệ thống chưa đọc được (dòng 15)" in vi["detail"] and "no_deadline_lines=15" in vi["detail"]
        assert "speaks of a deadline that could not be read (line 15)" in en["detail"]
        assert "no_deadline_lines=15" in en["detail"]
        sentence = "'Báo cáo kết quả trong vòng 10 ngày sau khi kết thúc hoạt động'"
        event = "'kết thúc hoạt động'"
        assert vi["problems"] == [
            {
                "where": "deadline (line 15)",
                "problem": f"{sentence}: thời hạn tính từ một sự kiện kế hoạch không ghi ngày: {event}",
            }
        ]
        assert en["problems"] == [
            {
                "where": "deadline (line 15)",
                "problem": f"{sentence}: the deadline runs from an event the plan gives no date for: {event}",
            }
        ]


async def test_what_the_clerk_entered_and_a_json_plan_are_refused_in_either_language(service_settings) -> None:
    app = create_app(service_settings(Settings))
    async with running(app, OPERATOR) as http:
        form = {"files": {"file": ("plan.txt", plan_text().encode())}, "data": {"issued_on": "31/02/2024"}}
        vi, en = await both(http, "/plans/preview", **form)
        assert vi["status"] == 422
        assert vi["detail"].startswith("ngày ban hành (issued_on) '31/02/2024' không phải một ngày")
        assert en["detail"].startswith("The date of issue (issued_on) '31/02/2024' is not a date")

        vi, en = await both(http, "/plans/preview", files={"file": ("plan.json", b'{"issuer": 1}')})
        assert (vi["status"], vi["code"]) == (422, "invalid_json")
        assert vi["detail"] == "Tệp JSON không đúng mẫu kế hoạch (issuer, number, title, assignments, deadlines)."
        assert (
            en["detail"]
            == "The JSON does not follow the plan's schema (issuer, number, title, assignments, deadlines)."
        )
        assert {"where": "issuer", "problem": "cần một chuỗi văn bản"} in vi["problems"]
        assert {"where": "issuer", "problem": "Input should be a valid string"} in en["problems"]


async def test_a_document_too_slow_to_read_is_refused_in_either_language(service_settings) -> None:
    settings = service_settings(Settings, document_timeout_seconds=0.5, document_max_paragraphs=1_000_000)
    app = create_app(settings)
    async with running(app, OPERATOR) as http:
        stall = stall_docx(20_000, 300)
        vi, en = await both(http, "/plans/preview", files={"file": ("stall.docx", stall, DOCX)}, timeout=60)
        assert (vi["status"], vi["code"]) == (422, "too_slow")
        assert vi["detail"].startswith("Không đọc được tài liệu trong thời gian cho phép (0.5 giây).")
        assert en["detail"].startswith("The document could not be read within the time allowed (0.5 seconds).")
