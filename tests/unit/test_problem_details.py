"""Every error answer is an RFC 9457 problem (application/problem+json): a stable `type`, a Vietnamese `title`
(English when asked), the `status`, a readable `detail` string and extension members; the OpenAPI documents
declare bearer authentication and every error answer as problem+json."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, field_validator

from services.tracking.config import Settings as TrackingSettings
from services.tracking.main import create_app as tracking_app
from shared.domain.wording import Wording
from shared.platform.http import add_operational_routes
from shared.platform.problems import PROBLEM_MEDIA_TYPE, TYPE_PREFIX, prefers_english

CONTRACTS = Path(__file__).resolve().parents[2] / "docs" / "contracts"


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")
    percent: int
    text: str

    @field_validator("text")
    @classmethod
    def not_shouted(cls, text: str) -> str:
        if text.isupper():
            raise ValueError(Wording(vi="đừng viết toàn chữ hoa", en="do not write in capitals"))
        return text


GONE = Wording(vi="Ghi chú này đã bị xoá.", en="this note was deleted")


def app() -> FastAPI:
    application = FastAPI(title="dondoc unittest")
    add_operational_routes(application, {}, max_request_bytes=1000)

    @application.post("/notes/{note_id}")
    async def note(note_id: str, body: Note) -> dict[str, str]:
        if note_id == "gone":
            raise HTTPException(404, "Không có ghi chú gone.")
        if note_id == "document":
            raise HTTPException(422, {"code": "binary", "message": "Không đọc được tệp.", "problems": []})
        if note_id == "listed":
            raise HTTPException(422, [{"where": "assignments[2].agency", "problem": "không có trong danh bạ"}])
        if note_id == "reason":
            raise HTTPException(409, {"detail": "Đã báo cáo.", "type": "already-reported", "reason": "duplicate"})
        if note_id == "deleted":
            raise HTTPException(410, GONE)
        if note_id == "deleted-listed":
            raise HTTPException(422, [{"where": "text", "problem": GONE}])
        if note_id == "broken":
            raise RuntimeError("a bug")
        return {"note_id": note_id}

    return application


async def post(path: str, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://u") as client:
        return await client.post(path, json=body, headers=headers or {})


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, object] = response.json()
    assert body["type"] == TYPE_PREFIX + slug and body["status"] == status, body
    assert isinstance(body["title"], str) and isinstance(body["detail"], str) and body["detail"], body
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


async def test_an_http_exception_is_a_problem_with_its_detail_as_written() -> None:
    body = assert_problem(await post("/notes/gone", {"percent": 1, "text": "x"}), 404, "not-found")
    assert body["detail"] == "Không có ghi chú gone." and body["title"] == "Không tìm thấy"


async def test_the_title_is_english_when_the_caller_prefers_it() -> None:
    response = await post("/notes/gone", {"percent": 1, "text": "x"}, {"Accept-Language": "en-GB, vi;q=0.5"})
    assert assert_problem(response, 404, "not-found")["title"] == "Not found"
    assert not prefers_english([(b"accept-language", b"vi, en;q=0.8")])
    assert prefers_english([(b"Accept-Language", b"vi;q=0.1, en")])


async def test_a_detail_in_both_languages_is_answered_in_the_callers() -> None:
    vietnamese = assert_problem(await post("/notes/deleted", {"percent": 1, "text": "x"}), 410, "error")
    assert vietnamese["detail"] == "Ghi chú này đã bị xoá."
    english = await post("/notes/deleted", {"percent": 1, "text": "x"}, {"Accept-Language": "en"})
    assert assert_problem(english, 410, "error")["detail"] == "this note was deleted"
    listed = await post("/notes/deleted-listed", {"percent": 1, "text": "x"}, {"Accept-Language": "en-US"})
    body = assert_problem(listed, 422, "unprocessable")
    assert body["detail"] == "text: this note was deleted"
    assert body["errors"] == [{"where": "text", "problem": "this note was deleted"}]


async def test_validation_errors_read_in_vietnamese_and_in_english_on_request() -> None:
    vietnamese = assert_problem(await post("/notes/a", {"percent": "many", "text": "HÉT"}), 422, "validation")
    assert "percent: cần một số nguyên" in str(vietnamese["detail"])
    assert "text: đừng viết toàn chữ hoa" in str(vietnamese["detail"]), vietnamese
    english = await post("/notes/a", {"percent": "many", "text": "HÉT"}, {"Accept-Language": "en"})
    body = assert_problem(english, 422, "validation")
    assert str(body["detail"]).startswith("The request has 2 errors:") and "do not write in capitals" in str(
        body["detail"]
    )
    assert {error["msg"] for error in body["errors"]} >= {"Value error, do not write in capitals"}  # type: ignore[union-attr]


async def test_validation_errors_name_each_field_in_errors_and_in_a_readable_detail() -> None:
    body = assert_problem(await post("/notes/a", {"percent": "many", "extra": 1}), 422, "validation")
    errors = body["errors"]
    assert isinstance(errors, list)
    assert {tuple(error["loc"]) for error in errors} == {("body", "percent"), ("body", "text"), ("body", "extra")}
    assert "3 lỗi" in str(body["detail"]) and "percent" in str(body["detail"])


async def test_a_mapping_detail_becomes_extension_members_and_may_choose_the_type() -> None:
    document = assert_problem(await post("/notes/document", {"percent": 1, "text": "x"}), 422, "unprocessable")
    assert (document["detail"], document["code"], document["problems"]) == ("Không đọc được tệp.", "binary", [])
    reason = assert_problem(await post("/notes/reason", {"percent": 1, "text": "x"}), 409, "already-reported")
    assert (reason["detail"], reason["reason"]) == ("Đã báo cáo.", "duplicate")


async def test_a_list_of_problems_is_listed_in_errors_and_summed_up_in_the_detail() -> None:
    body = assert_problem(await post("/notes/listed", {"percent": 1, "text": "x"}), 422, "unprocessable")
    assert body["detail"] == "assignments[2].agency: không có trong danh bạ"
    assert body["errors"] == [{"where": "assignments[2].agency", "problem": "không có trong danh bạ"}]


async def test_the_body_checks_and_an_unhandled_error_answer_problems_too() -> None:
    assert_problem(await post("/notes/a", {"text": "x" * 2000}), 413, "too-large")
    deep = assert_problem(
        await post("/notes/a", [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]), 422, "validation"
    )
    assert deep["errors"][0]["type"] == "json_too_deep"  # type: ignore[index]
    broken = assert_problem(await post("/notes/broken", {"percent": 1, "text": "x"}), 500, "internal")
    assert broken["request_id"] in str(broken["detail"])


async def test_a_missing_token_is_a_problem_with_its_challenge() -> None:
    transport = httpx.ASGITransport(app=tracking_app(TrackingSettings()))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post("/assignments/a1/progress", json={"percent": 5})
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("service", ["intake", "tracking", "notifier"])
def test_the_openapi_documents_declare_bearer_and_every_error_as_a_problem(service: str) -> None:
    document = json.loads((CONTRACTS / f"openapi-{service}.json").read_text(encoding="utf-8"))
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "a token issued by tracking (`POST /tokens`)",
    }
    assert "HTTPValidationError" not in document["components"]["schemas"]
    secured = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            codes = {int(code) for code in operation["responses"]}
            errors = {code for code in codes if code >= 400}
            assert 500 in errors, (path, method)
            if operation.get("security"):
                secured += 1
                assert operation["security"] == [{"bearer": []}] and {401, 403, 503} <= errors, (path, method)
            if "{" in path:
                assert 404 in errors and 422 in errors, (path, method)
            for code in errors - ({503} if path == "/readyz" else set()):
                content = operation["responses"][str(code)]["content"]
                assert content == {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert secured >= 3
