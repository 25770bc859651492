"""Error answers as RFC 9457 problem details (`application/problem+json`), one shape for every service and every
error path: `type` (a stable URI for programs, `urn:dondoc:problem:<slug>`), `title` (Vietnamese, English with
`Accept-Language: en`), `status`, `detail` (a readable string) and extension members (`errors` for the fields a
request got wrong, `code`, `problems`, `reason`, `request_id`, …). docs/integration.md lists the types.

A route adds members by raising `HTTPException(status, {"detail": "…", "reason": "…"})`: `detail` (or `message`)
is the detail, `type` (a slug) the problem type, every other key an extension member (shared/platform/http.py).
A detail (or any member) given as a `Wording` (shared/domain/wording.py) is answered in the caller's language:
Vietnamese, English with `Accept-Language: en`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import structlog
from starlette.responses import JSONResponse

from shared.domain.wording import Wording

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:dondoc:problem:"
VALIDATION = "validation"  # the slug of a request whose fields are wrong (FastAPI's validation, the body checks)

# status → (slug, Vietnamese title, English title)
_BY_STATUS: dict[int, tuple[str, str, str]] = {
    400: ("bad-request", "Yêu cầu không hợp lệ", "Bad request"),
    401: ("unauthenticated", "Chưa xác thực", "Authentication required"),
    403: ("forbidden", "Không có quyền", "Forbidden"),
    404: ("not-found", "Không tìm thấy", "Not found"),
    405: ("method-not-allowed", "Phương thức không được hỗ trợ", "Method not allowed"),
    408: ("request-timeout", "Yêu cầu đến quá chậm", "Request timeout"),
    409: ("conflict", "Xung đột với trạng thái hiện tại", "Conflict"),
    412: ("precondition-failed", "Phiên bản không còn đúng", "Precondition failed"),
    413: ("too-large", "Dữ liệu quá lớn", "Content too large"),
    415: ("unsupported-media-type", "Định dạng dữ liệu không được hỗ trợ", "Unsupported media type"),
    422: ("unprocessable", "Dữ liệu không xử lý được", "Unprocessable content"),
    429: ("too-many-requests", "Quá nhiều yêu cầu", "Too many requests"),
    500: ("internal", "Lỗi máy chủ", "Internal server error"),
    503: ("unavailable", "Dịch vụ tạm thời không sẵn sàng", "Service unavailable"),
}
_TITLES_BY_SLUG: dict[str, tuple[str, str]] = {
    VALIDATION: ("Dữ liệu gửi lên không hợp lệ", "Invalid request data"),
    **{slug: (vi, en) for slug, vi, en in _BY_STATUS.values()},
}
_OTHER = ("error", "Lỗi", "Error")


def slug_of(status: int) -> str:
    return _BY_STATUS.get(status, _OTHER)[0]


def prefers_english(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether the request's Accept-Language puts English before Vietnamese (the default)."""
    for name, value in headers:
        if name.lower() == b"accept-language":
            ranked = []
            for position, part in enumerate(value.decode("latin-1").split(",")):
                tag, _, params = part.strip().partition(";")
                quality = 1.0
                if params.strip().startswith("q="):
                    try:
                        quality = float(params.strip()[2:])
                    except ValueError:
                        quality = 0.0
                ranked.append((-quality, position, tag.strip().lower()))
            ranked.sort()
            return bool(ranked) and ranked[0][2].startswith("en")
    return False


def in_language(value: Any, english: bool) -> Any:
    """`value` with every `Wording` in it (at any depth) as its text in the chosen language."""
    if isinstance(value, Wording):
        return value.in_language(english)
    if isinstance(value, Mapping):
        return {key: in_language(item, english) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [in_language(item, english) for item in value]
    return value


def problem(
    status: int, detail: str | Wording, *, slug: str | None = None, english: bool = False, **extensions: Any
) -> dict[str, Any]:
    """The problem document: the standard members first, then the extensions (which never replace them); every
    `Wording` in the caller's language."""
    slug = slug or slug_of(status)
    vietnamese, in_english = _TITLES_BY_SLUG.get(slug, _OTHER[1:])
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + slug,
        "title": in_english if english else vietnamese,
        "status": status,
        "detail": detail,
    }
    body.update({key: value for key, value in extensions.items() if key not in body and value is not None})
    return dict(in_language(body, english))


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def answer_problem(
    scope: Mapping[str, Any],
    status: int,
    detail: str | Wording,
    *,
    slug: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> ProblemResponse:
    """The answer for the request of `scope` (its Accept-Language chooses the title's language), with the
    request's id (shared/platform/http_observability.py) so that a caller can quote it."""
    english = prefers_english(scope.get("headers") or ())
    extensions.setdefault("request_id", structlog.contextvars.get_contextvars().get("request_id"))
    body = problem(status, detail, slug=slug, english=english, **extensions)
    return ProblemResponse(body, status_code=status, headers=dict(headers or {}))


def openapi_components() -> dict[str, Any]:
    """The schemas the OpenAPI documents name for every error answer."""
    error_item = {
        "type": "object",
        "description": "one field the request got wrong: where (`loc`), what (`msg`), a code (`type`)",
        "properties": {
            "type": {"type": "string"},
            "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
            "msg": {"type": "string"},
            "input": {},
            "ctx": {"type": "object"},
        },
        "required": ["type", "loc", "msg"],
    }
    problem_schema = {
        "type": "object",
        "title": "Problem",
        "description": "RFC 9457 problem details; other members may be added (`code`, `reason`, `request_id`, …)",
        "properties": {
            "type": {"type": "string", "format": "uri-reference", "examples": [TYPE_PREFIX + "not-found"]},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "instance": {"type": "string", "format": "uri-reference"},
            "request_id": {"type": "string"},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ProblemFieldError"}},
        },
        "required": ["type", "title", "status", "detail"],
        "additionalProperties": True,
    }
    return {"Problem": problem_schema, "ProblemFieldError": error_item}
