"""The portal's only way to the system: tracking's HTTP API (docs/security.md, "Personal links, sessions and report
files"). The session from a personal link is forwarded as the bearer token, so tracking decides every authorisation;
nothing here checks a right itself. Link secrets travel only in request bodies and session ids only in the
Authorization header: neither is ever in a URL that httpx logs."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from shared.platform import tracing

PAGE = 500  # tracking's largest page of an agency's assignments
MAX_PAGES = 20  # 10,000 assignments: more than any one body is given
UPLOAD_CHUNK = 256 * 1024


@dataclass
class TrackingError(Exception):
    """Tracking refused or could not answer: its status (0 when unreachable), `detail`, and the body's extra
    fields (`reason`, `limit`) and `Retry-After` when it gave them."""

    status: int
    detail: str = ""
    reason: str | None = None
    limit: int | None = None
    retry_after: int | None = None

    def __str__(self) -> str:
        return f"tracking answered {self.status}: {self.detail[:200]}"


def _error(response: httpx.Response) -> TrackingError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    detail = body.get("detail")
    limit = body.get("limit")
    retry = response.headers.get("Retry-After", "")
    return TrackingError(
        status=response.status_code,
        detail=detail if isinstance(detail, str) else str(detail or ""),
        reason=body.get("reason") if isinstance(body.get("reason"), str) else None,
        limit=limit if isinstance(limit, int) else None,
        retry_after=int(retry) if retry.isdigit() else None,
    )


def _file_part_head(boundary: str, file_name: str, media_type: str) -> bytes:
    """A multipart part's head the way browsers write it: the name as UTF-8, quotes and line breaks escaped."""
    name = file_name.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    media = media_type if media_type.isascii() and "\r" not in media_type and "\n" not in media_type else ""
    return (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
        f"Content-Type: {media or 'application/octet-stream'}\r\n\r\n"
    ).encode()


class Tracking:
    def __init__(self, base_url: str, timeout_seconds: float, transport: httpx.AsyncBaseTransport | None = None):
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout_seconds,
            transport=transport,
            follow_redirects=False,
            headers={"Accept-Language": "en"},  # tracking's `detail` in English: for logs; people read messages.py
        )
        self._upload_timeout = httpx.Timeout(timeout_seconds, write=max(timeout_seconds, 300.0))

    async def close(self) -> None:
        await self._client.aclose()

    async def _call(
        self, method: str, path: str, session: str | None = None, ok: tuple[int, ...] = (200,), **kwargs: Any
    ) -> Any:
        headers = {**tracing.carrier(), **dict(kwargs.pop("headers", None) or {})}  # one trace: page → tracking
        if session is not None:
            headers["Authorization"] = f"Bearer {session}"
        try:
            response = await self._client.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise TrackingError(0, type(exc).__name__) from None
        if response.status_code not in ok:
            raise _error(response)
        return response.json()

    async def ready(self) -> bool:
        try:
            return (await self._client.get("/healthz", timeout=2.0)).status_code == 200
        except httpx.HTTPError:
            return False

    # --- links: the secret is the credential, sent only in the body --------------------------------------------

    # `client` is the browser's address as the portal resolved it (shared/platform/client_address.py with
    # WEB_TRUSTED_PROXIES), sent alone: tracking trusts the portal (TRACKING_TRUSTED_PROXIES) and counts its link
    # limits by the last X-Forwarded-For entry.

    async def exchange(self, secret: str, client: str) -> dict[str, Any]:
        body = {"secret": secret}
        return dict(await self._call("POST", "/links/exchange", json=body, headers={"X-Forwarded-For": client}))

    async def renew(self, secret: str, client: str) -> dict[str, Any]:
        body = {"secret": secret}
        headers = {"X-Forwarded-For": client}
        return dict(await self._call("POST", "/links/renewal", json=body, headers=headers, ok=(200, 202)))

    # --- reading ------------------------------------------------------------------------------------------------

    async def whoami(self, session: str) -> dict[str, Any]:
        return dict(await self._call("GET", "/tokens/me", session))

    async def assignments(self, session: str, agency: str) -> list[dict[str, Any]]:
        """All of an agency's assignments, a page of PAGE at a time."""
        items: list[dict[str, Any]] = []
        for page in range(MAX_PAGES):
            params = {"offset": page * PAGE, "limit": PAGE}
            body = await self._call("GET", f"/agencies/{quote(agency, safe='')}/assignments", session, params=params)
            items.extend(body.get("items", []))
            if len(body.get("items", [])) < PAGE:
                break
        return items

    async def assignment(self, session: str, assignment_id: str) -> dict[str, Any]:
        return dict(await self._call("GET", f"/assignments/{assignment_id}", session))

    async def history(self, session: str, assignment_id: str) -> list[dict[str, Any]]:
        return list((await self._call("GET", f"/assignments/{assignment_id}/history", session)).get("events", []))

    # --- acting: one Idempotency-Key per form shown, so a form sent twice is applied once ---------------------

    async def act(
        self, session: str, assignment_id: str, action: str, body: dict[str, Any] | None, key: str
    ) -> dict[str, Any]:
        """`action`: acknowledge, progress, reports or extensions."""
        path = f"/assignments/{assignment_id}/{action}"
        headers = {"Idempotency-Key": key}
        return dict(await self._call("POST", path, session, json=body, headers=headers, ok=(200, 201)))

    async def upload(
        self, session: str, assignment_id: str, file_name: str, media_type: str, size: int, chunks: AsyncIterator[bytes]
    ) -> dict[str, Any]:
        """One file streamed to tracking as the `file` part of a multipart body, a chunk at a time."""
        boundary = secrets.token_hex(16)
        head = _file_part_head(boundary, file_name, media_type)
        tail = f"\r\n--{boundary}--\r\n".encode()

        async def body() -> AsyncIterator[bytes]:
            yield head
            async for chunk in chunks:
                yield chunk
            yield tail

        headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(head) + size + len(tail)),
        }
        path = f"/assignments/{assignment_id}/files"
        return dict(
            await self._call(
                "POST", path, session, content=body(), headers=headers, ok=(200, 201), timeout=self._upload_timeout
            )
        )

    async def open_file(self, session: str, file_id: str) -> httpx.Response:
        """A stored file's response with its body not yet read: the caller streams it on and closes it."""
        headers = {**tracing.carrier(), "Authorization": f"Bearer {session}"}
        request = self._client.build_request("GET", f"/files/{file_id}", headers=headers)
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise TrackingError(0, type(exc).__name__) from None
        if response.status_code != 200:
            await response.aread()
            await response.aclose()
            raise _error(response)
        return response
