"""Intake's input rules over HTTP (issue #20): plan numbers shaped like Vietnamese document symbols, no
invisible or direction-changing characters in numbers and names, no lone surrogate anywhere (422, never 500),
a cap on the task merged for one body and on the stored plan's size — each refused in Vietnamese."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.intake.config import Settings
from services.intake.main import create_app
from tests.conftest import random_ref
from tests.integration.conftest import OPERATOR, running


def plan(**changes: Any) -> dict[str, Any]:
    return {
        "issuer": "Đảng ủy phường",
        "number": f"{random_ref('n')}-KH/ĐU",
        "title": "Kế hoạch kiểm tra",
        "assignments": [{"agency": "Uỷ ban nhân dân phường", "task": "Rà soát các hộ kinh doanh."}],
        "deadlines": [{"period": "2027-H1", "due": "2027-06-30"}],
        **changes,
    }


def raw_json(body: dict[str, Any], lone: str) -> bytes:
    """The body as JSON with `lone` (a placeholder in one string) written as the escape of a lone surrogate,
    which JSON allows and Python's parser turns into a string no UTF-8 encoder accepts."""
    return json.dumps(body, ensure_ascii=True).replace(lone, "\\ud800").encode()


HOSTILE_NUMBERS = {
    "zero-width space": "12\u200b-KH/ĐU",
    "byte order mark": "\ufeff12-KH/ĐU",
    "word joiner": "12-KH\u2060/ĐU",
    "right-to-left override": "12-KH/\u202eUĐ",
    "right-to-left isolate": "12-\u2067KH/ĐU",
    "left-to-right mark": "12-KH\u200e/ĐU",
    "markup": "<b>12</b>-KH",
    "operator-looking": "$where",
    "spaces inside": "12 - KH / ĐU",
    "too long": "1" + "-KH" * 20,
}


async def test_plan_numbers_have_the_shape_of_a_document_symbol(service_settings) -> None:
    async with running(create_app(service_settings(Settings)), OPERATOR) as http:
        for what, number in HOSTILE_NUMBERS.items():
            answer = await http.post("/plans", json=plan(number=number))
            assert answer.status_code == 422, (what, answer.text)
            [error] = answer.json()["errors"]
            assert error["loc"][-1] == "number", (what, answer.text)
            assert "số, ký hiệu kế hoạch" in error["msg"] or "ký tự ẩn" in error["msg"], (what, error)


async def test_names_with_invisible_or_direction_characters_are_refused(service_settings) -> None:
    async with running(create_app(service_settings(Settings)), OPERATOR) as http:
        issuer = await http.post("/plans", json=plan(issuer="Đảng ủy\u200b phường"))
        agency = await http.post(
            "/plans", json=plan(assignments=[{"agency": "Uỷ ban\u202e nhân dân phường", "task": "Rà soát."}])
        )
    assert issuer.status_code == 422 and issuer.json()["errors"][0]["loc"][-1] == "issuer", issuer.text
    assert agency.status_code == 422 and agency.json()["errors"][0]["loc"][-1] == "agency", agency.text


@pytest.mark.parametrize("field", ["number", "title", "issuer", "task", "wording"])
async def test_a_lone_surrogate_anywhere_is_refused_not_a_server_error(service_settings, field: str) -> None:
    body = plan()
    if field == "task":
        body["assignments"][0]["task"] = "LONE"
    elif field == "wording":
        body["deadlines"][0]["wording"] = "LONE"
    else:
        body[field] = "LONE"
    async with running(create_app(service_settings(Settings)), OPERATOR) as http:
        answer = await http.post("/plans", content=raw_json(body, "LONE"), headers={"content-type": "application/json"})
    assert answer.status_code == 422, answer.text
    [error] = answer.json()["errors"]
    assert error["loc"][-1] == field and "UTF-16" in error["msg"], answer.text


async def test_a_plan_number_in_another_normal_form_is_the_same_plan(service_settings) -> None:
    number = f"{random_ref('n')}-KH/ĐU"
    wide = number.replace("-", "\uff0d").replace("K", "\uff2b")  # fullwidth forms, as some input methods type
    async with running(create_app(service_settings(Settings)), OPERATOR) as http:
        first = await http.post("/plans", json=plan(number=number))
        assert first.status_code == 201, first.text
        again = await http.post("/plans", json=plan(number=wide))
        assert again.status_code == 200, again.text
        assert again.json()["plan_id"] == first.json()["plan_id"] and again.json()["status"] == "unchanged"
        stored = await http.get(f"/plans/{first.json()['plan_id']}")
        assert stored.json()["number"] == number  # the text as first written is what is shown


async def test_a_task_merged_for_one_body_is_capped(service_settings) -> None:
    clause = "Rà soát " + "x" * 9_990  # each within the field's own limit; the three merged are not
    assignments = [{"agency": "Uỷ ban nhân dân phường", "task": f"{i}. {clause}"} for i in range(3)]
    async with running(create_app(service_settings(Settings)), OPERATOR) as http:
        answer = await http.post("/plans", json=plan(assignments=assignments))
    assert answer.status_code == 422, answer.text
    problem = answer.json()["errors"][0]["problem"]
    assert "20.000" in problem and "30.00" in problem, problem


@pytest.mark.parametrize("limit", [200_000])
async def test_a_plan_too_large_to_store_is_refused(service_settings, limit: int) -> None:
    task = "Tổ chức quán triệt và báo cáo kết quả. " * 500  # about 20 KB for each of the thirteen bodies
    assignments = [{"agency": "Các chi bộ trực thuộc", "task": task}, {"agency": "UBND phường", "task": task}]
    settings = service_settings(Settings, max_plan_bytes=limit)
    async with running(create_app(settings), OPERATOR) as http:
        answer = await http.post("/plans", json=plan(assignments=assignments))
    assert answer.status_code == 422, answer.text
    problem = answer.json()["errors"][0]["problem"]
    assert "200.000" in problem, problem
