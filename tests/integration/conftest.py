from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
import httpx
import pytest
from fastapi import FastAPI


@asynccontextmanager
async def running(app: FastAPI, headers: dict[str, str] | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """Run a service in-process (its lifespan: broker, database, loops) and talk HTTP to it, sending
    `headers` (e.g. the operator's token) with every request unless a request gives its own."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service", headers=headers) as client:
            yield client


@pytest.fixture
def service_settings(amqp_url: str, mongo_url: str, database_name: str) -> Callable[[type[Any]], Any]:
    def make(settings_class: type[Any], **overrides: Any) -> Any:
        return settings_class(
            **{
                "AMQP_URL": amqp_url,
                "MONGO_URL": mongo_url,
                "mongo_database": database_name,
                "outbox_poll_seconds": 0.2,
                "operator_token": OPERATOR_TOKEN,
                **overrides,
            }
        )

    return make


@pytest.fixture
async def amqp(amqp_url: str) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    connection = await aio_pika.connect_robust(amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    yield channel
    await connection.close()


OPERATOR_TOKEN = "operator-token-for-tests"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


async def issue_token(http: httpx.AsyncClient, subject: str, role: str = "agency") -> dict[str, str]:
    """Authorization headers for a new token of `subject`, issued by the test operator."""
    response = await http.post(
        "/tokens", json={"subject": subject, "role": role}, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}
