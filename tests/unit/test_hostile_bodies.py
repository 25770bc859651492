"""Property tests of the JSON body checks every service runs before parsing (issue #20): the byte scans agree
with a real parser on depth and on lone surrogates for any JSON hypothesis writes, never fail on any bytes, and
every service answers a hostile body with 422, never a 5xx."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.platform.request_body import MAX_JSON_DEPTH, json_depth, json_problem, lone_surrogate

pytestmark = pytest.mark.unit

# Strings that stress the scanner: quotes, backslashes, brackets, surrogate halves and "ud800" written out.
FRAGMENTS = st.sampled_from(
    ['"', "\\", "[", "]", "{", "}", "u", "d8", "ệ", "😀", "\\ud800", "\\\\ud800", "\\udc00", "\\ud83d\\ude00", '\\"[']
)
TRICKY = st.lists(
    FRAGMENTS | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF) | st.characters(), max_size=8
).map("".join)
LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TRICKY
JSON_VALUES = st.recursive(
    LEAVES,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TRICKY, children, max_size=3),
    max_leaves=12,
)


def nested(depth: int, leaf: Any, keys: list[str]) -> Any:
    value = leaf
    for level in range(depth):
        value = [value] if not keys else {keys[level % len(keys)]: value}
    return value


DEEP_VALUES = st.builds(nested, st.integers(0, 80), JSON_VALUES, st.lists(TRICKY, max_size=3))


def depth_of(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    return 0


def strings_of(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in strings_of(item)]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in (key, *strings_of(item))]
    return []


def has_lone_surrogate(value: Any) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for s in strings_of(value) for c in s)


def dumped(value: Any, ascii_only: bool, indent: int | None) -> bytes:
    """As a client writes it; a text with lone surrogates only as \\u escapes (UTF-8 cannot carry them)."""
    text = json.dumps(value, ensure_ascii=ascii_only, indent=indent)
    return text.encode("utf-8", "surrogatepass") if ascii_only else json.dumps(value, indent=indent).encode()


BODIES = st.builds(dumped, DEEP_VALUES, st.booleans(), st.sampled_from([None, 0, 2]))


@settings(max_examples=400, deadline=None)
@given(BODIES)
def test_the_depth_scan_agrees_with_the_parser(body: bytes) -> None:
    scanned = json_depth(body)
    shallow = body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH  # not scanned: it cannot be too deep
    assert scanned == depth_of(json.loads(body)) or (shallow and scanned == 0)


@settings(max_examples=400, deadline=None)
@given(BODIES)
def test_the_surrogate_scan_agrees_with_the_parser(body: bytes) -> None:
    assert (lone_surrogate(body) is not None) == has_lone_surrogate(json.loads(body))


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=400) | BODIES | BODIES.map(lambda b: b[: len(b) // 2] + b"\xed\xa0\x80" + b[len(b) // 2 :]))
def test_a_body_the_checks_let_through_parses_shallow_and_encodable_or_not_at_all(body: bytes) -> None:
    if json_problem(body) is not None:
        return
    try:
        value = json.loads(body)
    except ValueError:
        return  # FastAPI answers 422 json_invalid (or 400) for these
    assert depth_of(value) <= MAX_JSON_DEPTH
    for text in strings_of(value):
        text.encode("utf-8")  # what BSON, the log and the JSON answer do with it


def _apps() -> list[Any]:
    from services.intake.config import Settings as IntakeSettings
    from services.intake.main import create_app as intake
    from services.notifier.config import Settings as NotifierSettings
    from services.notifier.main import create_app as notifier
    from services.tracking.config import Settings as TrackingSettings
    from services.tracking.main import create_app as tracking

    return [intake(IntakeSettings()), tracking(TrackingSettings()), notifier(NotifierSettings())]


APPS = _apps()
ROUTES = [
    ("POST", "/plans"),
    ("POST", "/plans/preview"),
    ("PUT", "/directory"),
    ("POST", "/tokens"),
    ("POST", "/silences"),
]


def deep(depth: int, inner: bytes, keys: list[str]) -> bytes:
    """`inner` inside `depth` arrays or objects, written out directly (json.dumps itself recurses)."""
    opening = b"".join(b"[" if not keys else b"{%s: " % json.dumps(keys[i % len(keys)]).encode() for i in range(depth))
    closing = b"".join(b"]" if not keys else b"}" for _ in range(depth))
    return opening + inner + closing


HOSTILE = (
    st.builds(deep, st.integers(MAX_JSON_DEPTH + 1, 3000), BODIES, st.lists(TRICKY, max_size=2))
    | st.builds(lambda s: json.dumps({"number": s}).encode(), st.text(min_size=1).map(lambda s: s + "\ud800"))
    | st.builds(lambda b, i: b[:i] + b"\xff" + b[i:], BODIES, st.integers(0, 50))
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=HOSTILE, app=st.sampled_from(APPS), route=st.sampled_from(ROUTES), unicode_header=st.booleans())
def test_every_service_answers_a_hostile_body_with_422(
    body: bytes, app: Any, route: tuple[str, str], unicode_header: bool
) -> None:
    headers = {
        "Content-Type": "application/json",
        "Authorization": "Bearer không-phải-token".encode() if unicode_header else b"Bearer x",
    }

    async def send() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as client:
            return await client.request(route[0], route[1], content=body, headers=headers)

    answer = asyncio.run(send())
    assert answer.status_code == 422, (answer.status_code, answer.text[:300])
    [problem] = answer.json()["errors"]
    assert problem["type"] in ("json_too_deep", "utf8_invalid", "unicode_lone_surrogate") and problem["msg"]
