"""What every service does at start and stop: connect the broker and the database, declare the
topology, run background loops, and shut all of it down in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import structlog

from shared.contracts import topology
from shared.platform import dead_letters
from shared.platform.broker import EventPublisher, declare_topology, make_broker
from shared.platform.http import ReadinessCheck
from shared.platform.mongo import make_client, ping
from shared.platform.settings import ServiceSettings

log = structlog.get_logger()


class ServiceRuntime:
    def __init__(
        self, service: str, settings: ServiceSettings, queue: topology.ServiceQueue | None, prefetch: int = 64
    ) -> None:
        self.service = service
        self.queue = queue
        self.broker = make_broker(settings.amqp_url, service, prefetch)
        self.client = make_client(settings.mongo_url)
        self.db = self.client[settings.mongo_database]
        self.publisher = EventPublisher(self.broker, service)
        self._amqp_url = settings.amqp_url
        self._tasks: list[asyncio.Task[None]] = []

    def lifespan(
        self, prepare: Callable[[], Awaitable[None]], loops: Callable[[], dict[str, Coroutine[Any, Any, None]]]
    ) -> Callable[[Any], AbstractAsyncContextManager[None]]:
        """The service's FastAPI lifespan: start, run `loops`, and stop again however the service ends.

        The stop is in a `finally`: when whatever runs the service fails (a test that raises inside it, a
        start that fails half-way), the consumer must not stay subscribed. A forgotten consumer keeps taking
        its share of the queue's messages into a service nobody reads any more.
        """

        @asynccontextmanager
        async def lifespan(_: Any) -> AsyncIterator[None]:
            try:
                await self.start(prepare)
                for name, loop in loops().items():
                    self.spawn(name, loop)
                yield
            finally:
                await self.stop()

        return lifespan

    async def start(self, prepare: Callable[[], Awaitable[None]]) -> None:
        """Connect, declare, run `prepare` (indexes), then start consuming."""
        await self.broker.connect()
        await declare_topology(self.broker, self.queue)
        await prepare()
        await self.broker.start()
        if self.queue is not None:
            self.spawn("dead-letter-monitor", dead_letters.monitor(self._amqp_url, self.queue))
        log.info("service started", queue=self.queue.name if self.queue else None)

    def spawn(self, name: str, loop: Coroutine[Any, Any, None]) -> None:
        """Run a background loop for the life of the service; a crash is logged, never silent."""

        async def guarded() -> None:
            try:
                await loop
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background loop crashed", loop=name)
                raise

        self._tasks.append(asyncio.create_task(guarded(), name=name))

    async def stop(self) -> None:
        """Stop consuming (waiting for in-flight handlers), then the loops, then the database client.
        Safe after a start that failed half-way: every step runs even if an earlier one fails."""
        try:
            await self.broker.stop()
        except Exception:  # noqa: BLE001 - the loops and the client must still be stopped
            log.warning("broker did not stop cleanly", exc_info=True)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.client.close()
        log.info("service stopped")

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        async def broker_ready() -> bool:
            return bool(await self.broker.ping(timeout=2.0))

        async def database_ready() -> bool:
            return await ping(self.client)

        async def loops_alive() -> bool:
            """The outbox relay and the other background loops are still running."""
            return all(not task.done() for task in self._tasks)

        return {"broker": broker_ready, "database": database_ready, "background_loops": loops_alive}
