"""Every service refuses an oversized body with 413 and a clear message, before any route reads it."""

from __future__ import annotations

import httpx

from services.intake.config import Settings as IntakeSettings
from services.intake.main import create_app as intake_app
from services.tracking.config import Settings as TrackingSettings
from services.tracking.main import create_app as tracking_app


async def test_an_oversized_body_is_refused_with_413_with_or_without_content_length() -> None:
    app = tracking_app(TrackingSettings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        big = b'{"percent": 5, "note": "' + b"x" * (2 * 1024 * 1024) + b'"}'
        declared = await client.post(
            "/assignments/a1/progress", content=big, headers={"Content-Type": "application/json"}
        )
        assert declared.status_code == 413
        assert "lớn hơn 1048576 byte" in declared.json()["detail"]
        in_english = await client.post(
            "/assignments/a1/progress",
            content=big,
            headers={"Content-Type": "application/json", "Accept-Language": "en"},
        )
        assert "larger than 1048576 bytes" in in_english.json()["detail"]

        async def chunks():  # no Content-Length: counted as it arrives
            for _ in range(40):
                yield b"y" * 65536

        streamed = await client.post(
            "/assignments/a1/progress", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert streamed.status_code == 413
        small = await client.post("/assignments/a1/progress", json={"percent": 5})
        assert small.status_code == 401  # under the limit, the request reaches the route (and its auth)


async def test_intake_allows_a_document_sized_body_but_not_more() -> None:
    app = intake_app(IntakeSettings(max_request_bytes=3 * 1024 * 1024, operator_token="operator"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://i", headers={"Authorization": "Bearer operator"}
    ) as client:
        within = await client.post(
            "/plans", content=b"{" + b" " * (2 * 1024 * 1024) + b"}", headers={"Content-Type": "application/json"}
        )
        assert within.status_code == 422  # parsed and refused as an invalid plan, not as too large
        over = await client.post(
            "/plans", content=b"{" + b" " * (4 * 1024 * 1024) + b"}", headers={"Content-Type": "application/json"}
        )
        assert over.status_code == 413
