"""The raw ceiling: the same messages through the same broker into the same database with no framework —
aio-pika publishing with confirms (many in flight), consuming with a large prefetch, and one bulk write per
batch of what arrived, acked (multiple) only after the write returned. Also the latency sampler both the
ceiling and the system are measured with."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aio_pika
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

Writer = Callable[[list[dict[str, Any]]], Awaitable[None]]
Publish = Callable[[str, bytes, str], Awaitable[None]]  # routing key, body, message id: confirmed
Relay = Callable[[Publish, list[dict[str, Any]]], Awaitable[None]]


@dataclass
class Sink:
    """One consuming queue and what it writes for a batch of decoded messages. With `relay`, each written batch
    is then handed, one batch at a time and off the consuming path, to it: an outbox relay's work, which may
    publish (to the same exchange) what the write queued."""

    write: Writer
    bindings: tuple[str, ...] = ("#",)
    relay: Relay | None = None


@dataclass
class RawResult:
    seconds: float
    published: int
    consumed: dict[int, int] = field(default_factory=dict)
    finished: dict[int, float] = field(default_factory=dict)  # seconds until each sink had written its last


async def raw_pipeline(
    amqp_url: str,
    messages: Sequence[tuple[str, bytes, str]],
    sinks: Sequence[Sink],
    *,
    prefetch: int = 2_000,
    batch: int = 1_000,
    in_flight: int = 1_000,
    on_published: Callable[[str], None] | None = None,
) -> RawResult:
    """Publish (routing key, body, message id) to a topic exchange; each sink's quorum queue is drained and
    written in batches. Returns when every sink has written and acked every message."""
    run = uuid.uuid4().hex[:8]
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        setup = await connection.channel()
        exchange_name = f"bench.raw.{run}"
        exchange = await setup.declare_exchange(exchange_name, aio_pika.ExchangeType.TOPIC, durable=True)
        queues = []
        for index, sink in enumerate(sinks):
            queue = await setup.declare_queue(
                f"bench.raw.{run}.{index}", durable=True, arguments={"x-queue-type": "quorum"}
            )
            for key in sink.bindings:
                await queue.bind(exchange, routing_key=key)
            queues.append(queue.name)
        total = len(messages)
        done = [asyncio.Event() for _ in sinks]
        consumed = dict.fromkeys(range(len(sinks)), 0)
        finished: dict[int, float] = {}
        relayed: list[asyncio.Queue[list[dict[str, Any]] | None]] = [asyncio.Queue() for _ in sinks]
        relay_channel = await connection.channel(publisher_confirms=True)
        relay_exchange = await relay_channel.get_exchange(exchange_name, ensure=False)

        async def publish_fact(routing_key: str, body: bytes, message_id: str) -> None:
            await relay_exchange.publish(
                aio_pika.Message(
                    body,
                    message_id=message_id,
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=routing_key,
            )

        async def relay(index: int, work: Relay) -> None:
            while (docs := await relayed[index].get()) is not None:
                await work(publish_fact, docs)

        async def consume(index: int, sink: Sink) -> None:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=prefetch)
            queue = await channel.get_queue(queues[index], ensure=False)
            buffer: list[aio_pika.abc.AbstractIncomingMessage] = []
            arrived = asyncio.Event()

            async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                buffer.append(message)
                arrived.set()

            tag = await queue.consume(on_message)
            try:
                while consumed[index] < total:
                    await arrived.wait()
                    await asyncio.sleep(0.005)  # let a batch gather, as the system's batcher does
                    taken, buffer[:] = buffer[:batch], buffer[batch:]
                    if not buffer:
                        arrived.clear()
                    if not taken:
                        continue
                    docs = [{**json.loads(m.body), "_message_id": m.message_id} for m in taken]
                    await sink.write(docs)
                    await taken[-1].ack(multiple=True)  # after the write: durable before acked
                    consumed[index] += len(taken)
                    if sink.relay is not None:
                        relayed[index].put_nowait(docs)
                finished[index] = time.perf_counter() - started
            finally:
                await queue.cancel(tag)
                relayed[index].put_nowait(None)  # the relay, if any, ends after what is queued
                done[index].set()

        async def publish() -> None:
            channel = await connection.channel(publisher_confirms=True)
            target = await channel.get_exchange(exchange_name, ensure=False)
            limiter = asyncio.Semaphore(in_flight)

            async def one(routing_key: str, body: bytes, message_id: str) -> None:
                async with limiter:
                    if on_published is not None:
                        on_published(message_id)
                    await target.publish(
                        aio_pika.Message(
                            body,
                            message_id=message_id,
                            content_type="application/json",
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        ),
                        routing_key=routing_key,
                    )

            await asyncio.gather(*(one(*m) for m in messages))

        started = time.perf_counter()
        consumers = [asyncio.create_task(consume(i, s)) for i, s in enumerate(sinks)]
        relays = [asyncio.create_task(relay(i, s.relay)) for i, s in enumerate(sinks) if s.relay is not None]
        await publish()
        await asyncio.gather(*consumers)
        await asyncio.gather(*relays)
        seconds = time.perf_counter() - started
        for name in queues:
            await setup.queue_delete(name)
        await setup.exchange_delete(exchange_name)
        return RawResult(seconds=seconds, published=total, consumed=consumed, finished=finished)
    finally:
        await connection.close()


class LatencySampler:
    """Publish-to-durable-record latency of a sample of messages: the time each was handed to the broker,
    and the time its record was first seen in the collection (polled every `interval` seconds, the same
    way for the ceiling and the system, so both carry the same polling error)."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]], every: int = 100, interval: float = 0.05) -> None:
        self._collection = collection
        self._every = every
        self._interval = interval
        self._count = 0
        self.sent: dict[str, float] = {}
        self.seen: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    def published(self, record_id: str) -> None:
        self._count += 1
        if self._count % self._every == 0:
            self.sent[record_id] = time.perf_counter()

    def start(self) -> None:
        self._task = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        while True:
            waiting = [i for i in self.sent if i not in self.seen]
            if waiting:
                found = await self._collection.find({"_id": {"$in": waiting}}, {"_id": 1}).to_list()
                now = time.perf_counter()
                for row in found:
                    self.seen.setdefault(row["_id"], now)
            await asyncio.sleep(self._interval)

    async def stop(self) -> tuple[float, float, int]:
        """p50 and p99 in seconds, and how many samples were seen."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(self.seen) < len(self.sent):  # noqa: ASYNC110 - a bounded poll
            await asyncio.sleep(self._interval)
        if self._task is not None:
            self._task.cancel()
        latencies = sorted(self.seen[i] - self.sent[i] for i in self.seen)
        if not latencies:
            return float("nan"), float("nan"), 0
        return (
            latencies[len(latencies) // 2],
            latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
            len(latencies),
        )


async def wait_for_count(
    count: Callable[[], Awaitable[int]], target: int, timeout: float, what: str, interval: float = 0.2
) -> float:
    """Poll until `count()` reaches `target`; returns the perf_counter time it was first seen there."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        last = await count()
        if last >= target:
            return time.perf_counter()
        await asyncio.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}: {last} of {target}")


def client(url: str) -> AsyncMongoClient[dict[str, Any]]:
    # The services' own client settings (write concern included), so the ceiling writes as durably as they do.
    from shared.platform.mongo import make_client

    return make_client(url)
