"""A small TCP fault proxy: forwards connections to an upstream, adds latency to every chunk, and can
reset every open connection (RST, not a clean close) on demand or at random intervals."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int, latency: tuple[float, float] = (0.0, 0.0)) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.latency = latency
        self.port = 0
        self.resets = 0
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._open: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.reset_all(count=False)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def reset_all(self, count: bool = True) -> int:
        """Abort every open connection with a TCP RST on both sides; returns how many were reset."""
        pairs = list(self._open)
        for client, upstream in pairs:
            for writer in (client, upstream):
                sock = writer.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
        self._open.clear()
        if count:
            self.resets += len(pairs)
        return len(pairs)

    async def reset_randomly(self, every: tuple[float, float], rng: random.Random) -> None:
        """Run until cancelled: reset all connections at random intervals."""
        while True:
            await asyncio.sleep(rng.uniform(*every))
            self.reset_all()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.transport.abort()
            return
        self.connections += 1
        pair = (client_writer, upstream_writer)
        self._open.add(pair)
        pumps = [
            asyncio.create_task(self._pump(client_reader, upstream_writer)),
            asyncio.create_task(self._pump(upstream_reader, client_writer)),
        ]
        for task in pumps:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for task in pumps:
            task.cancel()
        self._open.discard(pair)
        for writer in pair:
            writer.transport.abort()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        low, high = self.latency
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                if high > 0:
                    await asyncio.sleep(random.uniform(low, high))
                writer.write(chunk)
                await writer.drain()
