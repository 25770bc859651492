"""Operating dead letters: look at them, replay them through the normal path, purge them, and keep
their count and age in metrics. Used by `dondoc dlq` and by each consuming service's monitor loop."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from prometheus_client import Gauge

from shared.contracts import topology

log = structlog.get_logger()

DEAD_LETTERS = Gauge("dondoc_dead_letters", "Messages waiting in a dead-letter queue.", ["queue"])
DEAD_LETTER_AGE = Gauge(
    "dondoc_dead_letter_oldest_age_seconds",
    "Seconds since this service last saw its dead-letter queue empty (0 while it is empty).",
    ["queue"],
)


@dataclass(frozen=True)
class DeadLetter:
    id: str
    queue: str
    routing_key: str
    reason: str
    error_class: str
    dead_lettered_at: datetime | None
    headers: dict[str, Any]
    body: bytes

    def age_seconds(self, now: datetime) -> float | None:
        return (now - self.dead_lettered_at).total_seconds() if self.dead_lettered_at else None


def _last_death(headers: dict[str, Any]) -> dict[str, Any] | None:
    """The broker's newest `x-death` entry (a table per queue the message died in), if it dead-lettered it."""
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
        return deaths[0]
    return None


def _when(headers: dict[str, Any]) -> datetime | None:
    raw = headers.get(topology.DEAD_LETTERED_AT_HEADER)
    if isinstance(raw, str):
        try:
            return datetime.fromisoformat(raw)
        except ValueError:
            return None
    death = _last_death(headers)
    when = death.get("time") if death else None
    return when.replace(tzinfo=UTC) if isinstance(when, datetime) else None


def describe(queue: str, message: AbstractIncomingMessage) -> DeadLetter:
    """Our own dead letters carry the reason in headers; the broker's (delivery limit) carry x-death."""
    headers: dict[str, Any] = dict(message.headers or {})
    death = _last_death(headers)
    reason = str(headers.get(topology.REASON_HEADER) or "")
    routing_key = str(headers.get(topology.ORIGINAL_ROUTING_KEY_HEADER) or "")
    if not reason and death:
        reason = f"broker: {death.get('reason', 'dead-lettered')!s} (delivery limit reached)"
    if not routing_key and death:
        keys = death.get("routing-keys") or [""]
        routing_key = str(keys[0])
    ident = message.message_id or hashlib.sha256(message.body).hexdigest()[:32]
    return DeadLetter(
        id=ident,
        queue=queue,
        routing_key=routing_key,
        reason=reason or "unknown",
        error_class=str(headers.get(topology.ERROR_CLASS_HEADER) or ("delivery_limit" if death else "unknown")),
        dead_lettered_at=_when(headers),
        headers=headers,
        body=message.body,
    )


@asynccontextmanager
async def _channel(amqp_url: str) -> AsyncIterator[AbstractChannel]:
    connection = await aio_pika.connect(amqp_url)
    try:
        yield await connection.channel(publisher_confirms=True, on_return_raises=True)
    finally:
        await connection.close()


Selector = Callable[[DeadLetter], bool]


async def _walk(
    amqp_url: str, queue_name: str, decide: Callable[[DeadLetter, AbstractIncomingMessage], Any], limit: int
) -> int:
    """Visit up to `limit` dead letters once; `decide` acks what it consumed. The rest go back when the
    channel closes (unacked messages are returned to the queue)."""
    visited = 0
    async with _channel(amqp_url) as channel:
        queue = await channel.get_queue(queue_name, ensure=True)
        while visited < limit:
            message = await queue.get(no_ack=False, fail=False, timeout=10)
            if message is None:
                break
            visited += 1
            await decide(describe(queue_name, message), message)
    return visited


async def list_dead_letters(amqp_url: str, queue_name: str, select: Selector, limit: int = 1000) -> list[DeadLetter]:
    found: list[DeadLetter] = []

    async def keep(letter: DeadLetter, _: AbstractIncomingMessage) -> None:
        if select(letter):
            found.append(letter)

    await _walk(amqp_url, queue_name, keep, limit)
    return found


async def replay(amqp_url: str, queue_name: str, select: Selector, limit: int = 1000) -> int:
    """Publish selected dead letters again to the events exchange under their original routing key,
    with broker confirms, then remove them from the dead-letter queue. Consumers are idempotent, so a
    replay of something already applied changes nothing."""
    replayed = 0
    async with _channel(amqp_url) as publish_channel:
        exchange = await publish_channel.get_exchange(topology.EVENTS_EXCHANGE, ensure=False)

        async def send_again(letter: DeadLetter, message: AbstractIncomingMessage) -> None:
            nonlocal replayed
            if not select(letter) or not letter.routing_key:
                return
            headers = {k: v for k, v in letter.headers.items() if not str(k).startswith("x-")}
            headers["x-dondoc-replayed-from"] = queue_name
            await exchange.publish(
                aio_pika.Message(
                    letter.body,
                    headers=headers,
                    message_id=message.message_id,
                    type=message.type,
                    correlation_id=message.correlation_id,
                    content_type=message.content_type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=letter.routing_key,
                mandatory=True,
            )
            await message.ack()
            replayed += 1

        await _walk(amqp_url, queue_name, send_again, limit)
    return replayed


async def purge(amqp_url: str, queue_name: str, select: Selector, limit: int = 100_000) -> int:
    purged = 0

    async def drop(letter: DeadLetter, message: AbstractIncomingMessage) -> None:
        nonlocal purged
        if select(letter):
            await message.ack()
            purged += 1

    await _walk(amqp_url, queue_name, drop, limit)
    return purged


async def monitor(amqp_url: str, queue: topology.ServiceQueue, interval_seconds: float = 30.0) -> None:
    """Keep in metrics how many dead letters wait, and for how long the queue has not been empty (as seen by
    this service since it started). It only asks the broker for the count. It used to read the head message
    for its age, and a letter it held that moment was missing from `dondoc dlq list` (CI saw it: the broker
    took seconds to answer the read, and the letter stayed with the monitor's channel meanwhile)."""
    name = queue.dead_letter_queue
    waiting_since: float | None = None
    while True:
        try:
            async with _channel(amqp_url) as channel:
                declared = await channel.get_queue(name, ensure=True)
                count = declared.declaration_result.message_count or 0
            now = time.monotonic()
            waiting_since = None if count == 0 else (waiting_since or now)
            DEAD_LETTERS.labels(name).set(count)
            DEAD_LETTER_AGE.labels(name).set(now - waiting_since if waiting_since is not None else 0.0)
        except Exception:  # noqa: BLE001 - metrics must not stop a service
            log.warning("dead-letter monitor pass failed", queue=name, exc_info=True)
        await asyncio.sleep(interval_seconds)
