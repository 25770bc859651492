"""The request body every service reads whole before any route runs, and what it refuses there: a body too slow
(408) or too large (413), and JSON that a parser or an encoder would choke on (422) - nested past MAX_JSON_DEPTH,
not UTF-8, or escaping a lone surrogate. The checks are byte scans made before (and instead of) parsing."""

from __future__ import annotations

import asyncio
import json
import re
from array import array
from collections.abc import Awaitable, Callable, Mapping
from itertools import accumulate
from typing import Any

import structlog

from shared.domain.wording import Wording
from shared.platform.problems import VALIDATION, answer_problem

MAX_JSON_DEPTH = 32  # a plan with its own ladder nests 6 deep; nothing dondoc takes needs more than a few
MAX_ECHOED = 100  # characters of an input value an error answer quotes back

log = structlog.get_logger()

# After the escapes that can hide a quote (\\ and \") are gone, every " opens or closes a string.
_JSON_STRINGS = re.compile(rb'"[^"]*(?:"|\Z)')
_NOT_QUOTE_OR_BRACKET = bytes(sorted(set(range(256)) - set(b'"[]{}')))
_DEPTH_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 and -1 as signed bytes
# A \uD800-\uDFFF escape: half of a UTF-16 surrogate pair. Python's json decodes a lone one into a str that no
# UTF-8 encoder (BSON, the JSON response, the log) accepts.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
# Every escape that is not a lone surrogate: a whole pair, any other \u, or a one-character escape (\\ included,
# so that "\\ud800" - a backslash, then the text ud800 - is not mistaken for one).
_SURROGATE = re.compile("[\ud800-\udfff]")
_HARMLESS_ESCAPE = re.compile(
    rb"\\(?:u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|u(?![dD][89a-fA-F])|[^u])", re.DOTALL
)


def json_depth(body: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest, brackets inside strings not counted; read with a few
    passes of C-speed byte operations, before (and instead of) a recursive parser meets the text."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return 0  # cannot be too deep; the common case costs two counts
    quotes_and_brackets = body.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_QUOTE_OR_BRACKET)
    steps = _JSON_STRINGS.sub(b"", quotes_and_brackets).translate(_DEPTH_STEPS)
    return max(accumulate(array("b", steps)), default=0)


def lone_surrogate(body: bytes) -> str | None:
    """The first \\uD800-\\uDFFF escape in a JSON text that is not half of a pair, as written; None if none."""
    if _SURROGATE_ESCAPE.search(body) is None:
        return None
    found = _SURROGATE_ESCAPE.search(_HARMLESS_ESCAPE.sub(b"", body))
    return None if found is None else found.group().decode("ascii")


def _where_unencodable(body: bytes) -> list[str | int]:
    """The path to the first key or string of `body` that holds a lone surrogate (only asked once the body is known
    to have one and to be shallow enough to parse safely); empty when the body does not parse."""
    try:
        stack: list[tuple[list[str | int], Any]] = [([], json.loads(body))]
    except ValueError:
        return []
    while stack:
        path, value = stack.pop()
        if isinstance(value, str) and _SURROGATE.search(value):
            return path
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, item in reversed(list(items)):
            if isinstance(key, str) and _SURROGATE.search(key):
                return [*path, clip(key, MAX_ECHOED)]
            stack.append(([*path, clip(key, MAX_ECHOED) if isinstance(key, str) else key], item))
    return []


def json_problem(body: bytes) -> dict[str, Any] | None:
    """Why a JSON body must be refused before it is parsed, as a validation error (type, loc, Vietnamese msg);
    None if it may be parsed."""
    if not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            msg = Wording(
                vi=f"Nội dung không phải văn bản UTF-8 hợp lệ (byte sai ở vị trí {exc.start}). "
                "Hãy gửi JSON mã hoá UTF-8.",
                en=f"the body is not valid UTF-8 (a wrong byte at position {exc.start}); send UTF-8 encoded JSON",
            )
            return {"type": "utf8_invalid", "loc": ["body"], "msg": msg}
    if json_depth(body) > MAX_JSON_DEPTH:
        msg = Wording(
            vi=f"Dữ liệu JSON lồng nhau quá sâu (quá {MAX_JSON_DEPTH} cấp ngoặc [ ] hoặc {{ }}); "
            "không dữ liệu nào của hệ thống cần sâu đến vậy.",
            en=f"the JSON nests more than {MAX_JSON_DEPTH} levels of [ ] or {{ }} deep; "
            "no data of this system needs that",
        )
        return {"type": "json_too_deep", "loc": ["body"], "msg": msg}
    surrogate = lone_surrogate(body)
    if surrogate is None:
        return None
    where = _where_unencodable(body)
    named = ".".join(map(str, where))
    msg = Wording(
        vi=f"{f'Trường {named}' if where else 'Dữ liệu JSON'} có mã {surrogate} đứng lẻ (nửa của một cặp UTF-16), "
        "không phải ký tự Unicode. Hãy gửi văn bản Unicode hợp lệ.",
        en=f"{f'the field {named}' if where else 'the JSON'} holds a lone {surrogate} (half of a UTF-16 pair), "
        "not a Unicode character; send valid Unicode text",
    )
    return {"type": "unicode_lone_surrogate", "loc": ["body", *where], "msg": msg}


def _is_json(scope: Mapping[str, Any]) -> bool:
    """Whether FastAPI would parse this body as JSON: a JSON media type, or none at all."""
    content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
    media = content_type.split(b";")[0].strip().lower()
    return media in (b"", b"application/json") or (media.startswith(b"application/") and media.endswith(b"+json"))


class _TooLarge(Exception):
    pass


class RequestBodyGuard:
    """Reads the whole request body before any route runs, and refuses it: when it does not arrive within
    `timeout_seconds` of the request's head (408: a client that trickles its body would otherwise hold a
    connection and a task for ever), when it passes `max_bytes` with or without a Content-Length (413), and when
    a JSON body is not UTF-8, nests deeper than MAX_JSON_DEPTH or escapes a lone surrogate (422, before a
    recursive parser or a UTF-8 encoder meets it)."""

    def __init__(
        self, app: Any, max_bytes: int, timeout_seconds: float, streamed: re.Pattern[str] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds
        self.streamed = streamed  # POST paths whose route reads the body as it arrives, with its own limits

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self._streamed(scope):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _answer(scope, send, 413, self._too_large())
            return
        try:
            async with asyncio.timeout(self.timeout_seconds):
                body = await self._read(receive)
        except TimeoutError:
            log.warning("request body too slow", method=scope["method"], seconds=self.timeout_seconds)
            detail = Wording(
                vi=f"Phần thân yêu cầu không đến đủ trong {self.timeout_seconds:g} giây; hãy gửi lại.",
                en=f"the request body did not arrive within {self.timeout_seconds:g} seconds; send it again",
            )
            await _answer(scope, send, 408, detail, close=True)
            return
        except _TooLarge:
            await _answer(scope, send, 413, self._too_large())
            return
        if body is None:
            return  # the client went away: nobody to answer
        problem = json_problem(body) if body and _is_json(scope) else None
        if problem is not None:
            await _answer(scope, send, 422, problem["msg"], slug=VALIDATION, errors=[problem])
            return
        await self.app(scope, _replay(body, receive), send)

    def _too_large(self) -> Wording:
        return Wording(
            vi=f"Phần thân yêu cầu lớn hơn {self.max_bytes} byte, vượt giới hạn cho phép.",
            en=f"the request body is larger than {self.max_bytes} bytes",
        )

    def _streamed(self, scope: Any) -> bool:
        return self.streamed is not None and scope["method"] == "POST" and bool(self.streamed.fullmatch(scope["path"]))

    async def _read(self, receive: Any) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                raise _TooLarge
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes, receive: Any) -> Callable[[], Awaitable[Any]]:
    """The body as one message, then the server's own receive (which reports a disconnect)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Any:
        return pending.pop() if pending else await receive()

    return replay


async def _answer(
    scope: Any, send: Any, status: int, detail: str | Wording, close: bool = False, **extensions: Any
) -> None:
    headers = {"Connection": "close"} if close else None
    response = answer_problem(scope, status, detail, headers=headers, **extensions)
    await response({"type": "http"}, _nothing, send)


async def _nothing() -> Any:
    return {"type": "http.disconnect"}


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, and none a UTF-8 encoder refuses (a lone surrogate is written as \\udXXX)."""
    cut = text if len(text) <= limit else text[:limit] + "…"
    return cut.encode("utf-8", "backslashreplace").decode("utf-8")
