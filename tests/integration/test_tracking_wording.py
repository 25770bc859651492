"""Tracking's refusals in the caller's language (#19): each problem's detail (and title) in Vietnamese by default,
in English with `Accept-Language: en`, the same status and members (`reason`, `limit`) either way. What tracking
answers over AMQP stays English (tests/integration/test_command_answers.py)."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import httpx

from services.tracking.config import Settings
from services.tracking.main import create_app
from shared.domain.clock import FakeClock
from tests.conftest import random_ref
from tests.fixtures.report_files import EXE
from tests.integration.conftest import OPERATOR, issue_token, running
from tests.integration.test_tracking_files import _started
from tests.integration.test_tracking_http import CELL, NOW
from tests.integration.test_tracking_links import _link, _session

ENGLISH = {"Accept-Language": "en"}
LIMIT = 64 * 1024


async def both(http: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> Any:
    """The same request asked without a language and in English: their problems, once their status agrees."""
    files = kwargs.pop("files", None)
    answers = []
    for language in ({}, ENGLISH):
        sent = {"files": files()} if files else {}
        answers.append(await http.request(method, path, headers={**headers, **language}, **sent, **kwargs))
    vietnamese, english = answers
    assert vietnamese.status_code == english.status_code, (vietnamese.text, english.text)
    assert vietnamese.headers["content-type"].startswith("application/problem+json"), vietnamese.text
    return vietnamese.status_code, vietnamese.json(), english.json()


def upload(name: str, content: bytes) -> Any:
    return lambda: {"file": (name, io.BytesIO(content), "application/octet-stream")}


async def test_the_agencys_refusals_read_in_vietnamese_and_in_english_when_asked(service_settings, amqp) -> None:
    clock = FakeClock(NOW)
    app = create_app(service_settings(Settings, max_file_bytes=LIMIT, link_ttl_days=30), clock=clock)
    async with running(app) as http:
        base, me = await _started(http, amqp)
        assignment_id = base.rsplit("/", 1)[-1]
        assert (await http.post(f"{base}/acknowledge", headers=me)).status_code == 200

        status, vi, en = await both(http, "POST", f"{base}/acknowledge", me)
        assert status == 409
        assert vi["detail"] == "Nhiệm vụ đã được xác nhận tiếp nhận từ trước (hiện ở trạng thái «đã tiếp nhận»)."
        assert en["detail"] == "the assignment is already acknowledged; it was acknowledged before"
        assert (vi["title"], en["title"]) == ("Xung đột với trạng thái hiện tại", "Conflict")

        status, vi, en = await both(http, "POST", f"{base}/reports", me, json={"period": "2027-Q3"})
        assert status == 409
        assert vi["detail"] == "Nhiệm vụ không có kỳ báo cáo «2027-Q3» (các kỳ của nhiệm vụ: 2027-Q1, 2027-Q2)."
        assert en["detail"] == "the assignment has no reporting period '2027-Q3' (its periods: 2027-Q1, 2027-Q2)"

        assert (await http.post(f"{base}/progress", json={"percent": 40}, headers=me)).status_code == 200
        status, vi, en = await both(http, "POST", f"{base}/progress", me, json={"percent": 10})
        assert status == 409
        assert vi["detail"] == (
            "Tỷ lệ hoàn thành không được thấp hơn tỷ lệ đã báo cáo trước đó (40%); tỷ lệ vừa gửi là 10%."
        )
        assert en["detail"] == "progress cannot go back from 40% to 10%"

        stranger = await _session(http, await _link(http, "ubnd"))
        status, vi, en = await both(http, "POST", f"{base}/progress", stranger, json={"percent": 50})
        assert status == 403
        assert vi["detail"] == f"Nhiệm vụ {assignment_id} không được giao cho cơ quan ubnd."
        assert en["detail"] == f"assignment {assignment_id} is not assigned to ubnd"
        assert (vi["title"], en["title"]) == ("Không có quyền", "Forbidden")
        status, vi, en = await both(http, "GET", base, stranger)
        assert status == 403
        assert vi["detail"] == f"Không có quyền xem nhiệm vụ {assignment_id}."
        assert en["detail"] == f"assignment {assignment_id} is not yours to read"

        missing = random_ref("a")
        status, vi, en = await both(http, "GET", f"/assignments/{missing}", OPERATOR)
        assert (status, vi["detail"], en["detail"]) == (
            404,
            f"Không tìm thấy nhiệm vụ {missing}.",
            f"no assignment {missing}",
        )


async def test_upload_refusals_read_in_both_languages_with_their_members(service_settings, amqp) -> None:
    app = create_app(service_settings(Settings, max_file_bytes=LIMIT), clock=FakeClock(NOW))
    async with running(app) as http:
        base, me = await _started(http, amqp)

        status, vi, en = await both(http, "POST", f"{base}/files", me, files=upload("setup.exe", EXE))
        assert status == 415 and vi["reason"] == en["reason"] == "type_not_allowed"
        allowed = ".docx, .jpeg, .jpg, .odt, .pdf, .png, .xlsx"
        assert vi["detail"] == f"Hệ thống không nhận tệp có đuôi «.exe»; chỉ nhận các loại tệp: {allowed}."
        assert en["detail"] == f"files of type .exe are not accepted (allowed: {allowed})"
        assert (vi["title"], en["title"]) == ("Định dạng dữ liệu không được hỗ trợ", "Unsupported media type")

        status, vi, en = await both(http, "POST", f"{base}/files", me, files=upload("bao-cao.pdf", EXE))
        assert status == 415 and vi["reason"] == en["reason"] == "type_mismatch"
        assert vi["detail"] == "Nội dung tệp không phải là tài liệu PDF như phần đuôi của tên tệp cho biết."
        assert en["detail"] == "the content is not a PDF"

        big = upload("lon.pdf", b"%PDF-1.7\n" + bytes(LIMIT))
        status, vi, en = await both(http, "POST", f"{base}/files", me, files=big)
        assert status == 413 and vi["limit"] == en["limit"] == LIMIT and vi["reason"] == "too_large"
        assert vi["detail"] == f"Tệp lớn hơn giới hạn {LIMIT} byte cho mỗi tệp; vui lòng nén hoặc chia nhỏ rồi gửi lại."
        assert en["detail"] == f"the file is larger than the limit of {LIMIT} bytes"

        status, vi, en = await both(http, "POST", f"{base}/files", me, content=b"not multipart")
        assert status == 422
        assert vi["detail"] == "Tệp gửi lên không hợp lệ: hãy gửi tệp dưới dạng multipart/form-data."
        assert en["detail"] == "the upload is malformed: send the file as multipart/form-data"


async def test_expired_tokens_and_links_and_operators_mistakes_read_in_both_languages(service_settings, amqp) -> None:
    clock = FakeClock(NOW)
    app = create_app(service_settings(Settings, link_ttl_days=30), clock=clock)
    async with running(app) as http:
        status, vi, en = await both(http, "DELETE", "/links", OPERATOR)
        assert status == 422
        assert vi["detail"] == "Hãy ghi một trong hai: agency=<mã cơ quan> hoặc all=true."
        assert en["detail"] == "give either agency=<code> or all=true"

        body = {"agency": "dang-uy", "scope": "view"}
        status, vi, en = await both(http, "POST", "/links", OPERATOR, json=body)
        assert status == 409
        assert vi["detail"] == "Đường dẫn loại «view» cần view_of: mã của cơ quan có trang được xem."
        assert en["detail"] == "a view link needs view_of, the agency whose page it shows"

        status, vi, en = await both(http, "POST", "/tokens/nope/rotate", OPERATOR, json={})
        assert (status, vi["detail"], en["detail"]) == (
            404,
            "Không tìm thấy mã truy cập nope còn hiệu lực.",
            "no live token nope",
        )
        past = {"subject": CELL.code, "role": "agency", "expires_at": (NOW - timedelta(days=1)).isoformat()}
        status, vi, en = await both(http, "POST", "/tokens", OPERATOR, json=past)
        assert status == 422
        assert vi["detail"] == "Thời điểm hết hạn (expires_at) phải sau thời điểm hiện tại."
        assert en["detail"] == "expires_at must be in the future"

        token = await issue_token(http, CELL.code)
        secret = await _link(http, CELL.code)
        clock.advance(timedelta(days=366))
        status, vi, en = await both(http, "GET", f"/agencies/{CELL.code}/assignments", token)
        assert status == 401
        assert vi["detail"] == "Mã truy cập đã hết hạn; hãy đề nghị quản trị viên cấp mã mới."
        assert en["detail"] == "the token has expired; ask an operator for a new one"
        assert (vi["title"], en["title"]) == ("Chưa xác thực", "Authentication required")

        status, vi, en = await both(http, "POST", "/links/exchange", {}, json={"secret": secret})
        assert status == 410 and vi["reason"] == en["reason"] == "expired"
        assert vi["detail"] == "Đường dẫn này đã hết hạn; hãy đề nghị gửi đường dẫn mới."
        assert en["detail"] == "this link has expired"
