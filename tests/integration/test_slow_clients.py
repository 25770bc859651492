"""Slow clients against a real uvicorn server built as every service builds it (`shared.platform.http.build_server`): a
body trickled after the headers is cut off with 408 within the body deadline, a head trickled byte by byte
within the head deadline, an idle kept-alive connection after the keep-alive time, a head still incomplete
past its size limit refused; an ordinary request still passes. Before issue #20 the first two held their
connection for ever."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from deploy.local.infra import free_port
from services.tracking.config import Settings
from services.tracking.main import create_app
from shared.platform.http import build_server
from tests.conftest import eventually

pytestmark = pytest.mark.integration

BODY_SECONDS = 1.5
HEAD_SECONDS = 1.5
KEEP_ALIVE_SECONDS = 1
SLACK = 1.0  # scheduling on a loaded machine


@asynccontextmanager
async def serving(service_settings) -> AsyncIterator[int]:
    port = free_port()
    settings = service_settings(
        Settings,
        http_port=port,
        http_body_timeout_seconds=BODY_SECONDS,
        http_head_timeout_seconds=HEAD_SECONDS,
        http_keep_alive_seconds=KEEP_ALIVE_SECONDS,
        http_max_header_bytes=4096,
    )
    server = build_server(create_app(settings), settings)
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: asyncio.sleep(0, server.started), what="the server to listen")
        yield port
    finally:
        server.should_exit = True
        await task


async def read_until_closed(reader: asyncio.StreamReader, limit: float) -> bytes:
    """Everything the server sends until it closes the connection (or `limit` seconds pass)."""
    received = b""
    async with asyncio.timeout(limit):
        while chunk := await reader.read(65536):
            received += chunk
    return received


async def trickle(writer: asyncio.StreamWriter, data: bytes, every: float) -> None:
    """One byte every `every` seconds, until the server stops listening."""
    for byte in data:
        await asyncio.sleep(every)
        if writer.is_closing():
            return
        writer.write(bytes([byte]))
        try:
            await writer.drain()
        except ConnectionError:
            return


async def test_a_body_trickled_after_the_headers_is_cut_off_with_408(service_settings) -> None:
    async with serving(service_settings) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = b'{"subject": "ubnd", "role": "agency"}' * 10
        head = (
            f"POST /tokens HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode())
        started = time.monotonic()
        sender = asyncio.create_task(trickle(writer, body, every=0.1))
        answer = await read_until_closed(reader, BODY_SECONDS + 10)
        took = time.monotonic() - started
        sender.cancel()
        writer.close()
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert "không đến đủ".encode() in answer and b"connection: close" in answer.lower()
        assert BODY_SECONDS - 0.1 <= took <= BODY_SECONDS + SLACK, took


async def test_a_head_trickled_byte_by_byte_is_cut_off_with_408(service_settings) -> None:
    async with serving(service_settings) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.monotonic()
        sender = asyncio.create_task(trickle(writer, b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 200, 0.1))
        answer = await read_until_closed(reader, HEAD_SECONDS + 10)
        took = time.monotonic() - started
        sender.cancel()
        writer.close()
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert HEAD_SECONDS - 0.1 <= took <= HEAD_SECONDS + SLACK, took


async def test_kept_alive_connections_serve_requests_then_close_when_idle(service_settings) -> None:
    async with serving(service_settings) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(2):  # the head deadline is re-armed for the next request on the same connection
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            await writer.drain()
            status = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert status.startswith(b"HTTP/1.1 200 "), status
            await asyncio.wait_for(
                reader.readexactly(int(status.lower().split(b"content-length: ")[1].split(b"\r\n")[0])), 5
            )
        started = time.monotonic()
        assert await read_until_closed(reader, KEEP_ALIVE_SECONDS + 10) == b""
        assert time.monotonic() - started <= KEEP_ALIVE_SECONDS + SLACK
        writer.close()


async def test_a_head_larger_than_the_limit_is_refused(service_settings) -> None:
    async with serving(service_settings) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # h11 bounds what it buffers while the head is incomplete: a head that arrives whole in one read is parsed
        # whatever its size, one that keeps coming past the limit is refused.
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 6000)
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.write(b"a" * 2000 + b"\r\n\r\n")
        answer = await read_until_closed(reader, 10)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
