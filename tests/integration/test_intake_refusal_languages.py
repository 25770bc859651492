"""Intake's refusals over HTTP read in Vietnamese by default and in English with `Accept-Language: en` (issue #19):
the problem's title, its detail and every problem listed in it."""

from __future__ import annotations

from typing import Any

import httpx

from services.intake.config import Settings
from services.intake.main import create_app
from tests.conftest import random_ref
from tests.integration.conftest import OPERATOR, running

ENGLISH = {**OPERATOR, "Accept-Language": "en"}


def plan(number: str, **changes: Any) -> dict[str, Any]:
    return {
        "issuer": "Đảng ủy phường",
        "number": number,
        "title": "Kế hoạch kiểm tra công tác phòng cháy năm 2027",
        "issued_on": "2026-12-01",
        "assignments": [{"agency": "Uỷ ban nhân dân phường", "task": "Rà soát các hộ kinh doanh."}],
        "deadlines": [{"period": "2027-H1", "due": "2027-06-30"}],
        **changes,
    }


async def both(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same request answered by default and with Accept-Language: en (each as its problem document)."""
    headers = kwargs.pop("headers", {})
    default = await http.request(method, url, headers=headers, **kwargs)
    english = await http.request(method, url, headers={**headers, **ENGLISH}, **kwargs)
    assert default.status_code == english.status_code, (default.text, english.text)
    assert default.headers["content-type"].startswith("application/problem+json")
    return {"status": default.status_code, **default.json()}, {"status": english.status_code, **english.json()}


async def test_a_plan_naming_an_unknown_body_is_refused_in_the_callers_language(service_settings) -> None:
    unknown = plan(f"{random_ref('n')}-KH/ĐU", assignments=[{"agency": "Ban Không Có", "task": "Họp."}])
    async with running(create_app(service_settings(Settings)), OPERATOR) as http:
        vi, en = await both(http, "POST", "/plans", json=unknown)
    assert vi["status"] == 422 and vi["title"] == "Dữ liệu không xử lý được" and en["title"] == "Unprocessable content"
    assert "danh bạ không có cơ quan hay nhóm nào tên hoặc mã 'Ban Không Có'" in vi["detail"], vi
    assert vi["errors"] == [
        {
            "where": "assignments[0].agency",
            "problem": "danh bạ không có cơ quan hay nhóm nào tên hoặc mã 'Ban Không Có'",
        }
    ]
    assert "no agency or group named 'Ban Không Có' in the directory" in en["detail"], en
    assert en["errors"][0]["problem"] == "no agency or group named 'Ban Không Có' in the directory"


async def test_a_deadline_without_its_utc_offset_is_refused_in_the_callers_language(service_settings) -> None:
    naive = plan(f"{random_ref('n')}-KH/ĐU", deadlines=[{"period": "2027-H1", "due": "2027-06-30T23:59:59"}])
    async with running(create_app(service_settings(Settings)), OPERATOR) as http:
        vi, en = await both(http, "POST", "/plans", json=naive)
    assert vi["status"] == 422
    assert "thời điểm cần ghi rõ múi giờ" in vi["detail"] and "UTC offset" not in vi["detail"], vi
    assert "an instant needs its UTC offset" in en["detail"] and "múi giờ" not in en["detail"], en
    assert vi["errors"][0]["loc"][-1] == "due" and "múi giờ" in vi["errors"][0]["msg"]
    assert "UTC offset" in en["errors"][0]["msg"]


async def test_a_withdrawn_plan_submitted_again_is_refused_in_the_callers_language(service_settings) -> None:
    number = f"{random_ref('n')}-KH/ĐU"
    async with running(create_app(service_settings(Settings)), OPERATOR) as http:
        registered = await http.post("/plans", json=plan(number))
        assert registered.status_code == 201, registered.text
        plan_id = registered.json()["plan_id"]
        assert (await http.post(f"/plans/{plan_id}/withdraw")).status_code == 200
        vi, en = await both(http, "POST", "/plans", json=plan(number))
        missing_vi, missing_en = await both(http, "GET", "/plans/khongco")
    assert vi["status"] == 409 and vi["title"] == "Xung đột với trạng thái hiện tại" and en["title"] == "Conflict"
    assert vi["detail"] == f"kế hoạch {number} đã được thu hồi: hãy đăng ký kế hoạch mới với số, ký hiệu khác"
    assert en["detail"] == f"plan {number} has been withdrawn: register a new plan under another number"
    assert missing_vi["status"] == 404
    assert missing_vi["detail"] == "không có kế hoạch khongco" and missing_en["detail"] == "no plan khongco"


async def test_directory_refusals_read_in_the_callers_language(service_settings) -> None:
    looping = {"code": "quan-uy-tuyen-giao", "kind": "propaganda_board", "name": "Ban Tuyên giáo", "parent": "ubkt"}
    ubnd = {"code": "ubnd", "kind": "ubnd", "name": "Ủy ban nhân dân phường Hòa An"}
    async with running(create_app(service_settings(Settings)), OPERATOR) as http:
        version = (await http.get("/directory")).json()["version"]
        loop_vi, loop_en = await both(http, "PUT", "/directory/agencies/quan-uy-tuyen-giao", json=looping)
        stale_vi, stale_en = await both(
            http, "PUT", "/directory/agencies/ubnd", json=ubnd, headers={"If-Match": str(version + 7)}
        )
    # ubkt → thuong-truc → quan-uy-tuyen-giao → ubkt
    chain = "quan-uy-tuyen-giao → ubkt → thuong-truc → quan-uy-tuyen-giao"
    assert loop_vi["status"] == 422
    assert loop_vi["detail"].startswith(f"chuỗi cơ quan cấp trên bị lặp vòng: {chain}"), loop_vi
    assert loop_en["detail"].startswith(f"the supervision chain loops: {chain}"), loop_en
    assert stale_vi["status"] == 412
    assert stale_vi["title"] == "Phiên bản không còn đúng" and stale_en["title"] == "Precondition failed"
    assert f"danh bạ đang ở phiên bản {version}, không phải phiên bản {version + 7}" in stale_vi["detail"]
    assert f"the directory is at version {version}, not {version + 7}" in stale_en["detail"]
