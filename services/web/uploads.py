"""Report forms with files. The shared body guard (shared/platform/request_body.py) reads every body whole before a
route runs; a report form may carry several 20 MB files, so its path is let through here with the same two limits
applied while it streams: a size (all files of a form, plus its fields) and a deadline. The form parser keeps each
file in a spooled temporary file (1 MB in memory, the rest on disk), and each file goes on to tracking a chunk at a
time (`Tracking.upload`): no file is ever whole in the portal's memory."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.datastructures import UploadFile

from shared.platform.request_body import RequestBodyGuard

UPLOAD_PATH = re.compile(r"^/nhiem-vu/[A-Za-z0-9_-]{1,64}/bao-cao$")
FORM_FIELDS_BYTES = 1024 * 1024  # the note, the period, the token and the parts' heads
CHUNK = 256 * 1024


class BodyTooLarge(Exception):
    pass


class BodyTooSlow(Exception):
    pass


class StreamingUploadGuard(RequestBodyGuard):
    """The shared guard, except for a report form's POST: that body streams, counted against `upload_bytes` and
    due within `upload_seconds`; the route answers its overruns (BodyTooLarge, BodyTooSlow) with a page."""

    def __init__(
        self,
        app: Any,
        max_bytes: int,
        timeout_seconds: float,
        upload_bytes: int,
        upload_seconds: float,
        streamed: re.Pattern[str] | None = None,
    ) -> None:
        super().__init__(app, max_bytes, timeout_seconds, streamed)
        self.upload_bytes = upload_bytes
        self.upload_seconds = upload_seconds

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and UPLOAD_PATH.match(scope["path"]):
            await self.app(scope, self._counted(receive), send)
            return
        await super().__call__(scope, receive, send)

    def _counted(self, receive: Any) -> Any:
        deadline = time.monotonic() + self.upload_seconds
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            left = deadline - time.monotonic()
            if left <= 0:
                raise BodyTooSlow
            try:
                message = await asyncio.wait_for(receive(), left)
            except TimeoutError:
                raise BodyTooSlow from None
            seen += len(message.get("body", b""))
            if seen > self.upload_bytes:
                raise BodyTooLarge
            return message

        return counted


async def chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    await upload.seek(0)
    while chunk := await upload.read(CHUNK):
        yield chunk


def files_of(form: Any) -> list[UploadFile]:
    """The files chosen in a form; a file input left empty sends a part with no name, which is not a file."""
    return [item for item in form.getlist("files") if isinstance(item, UploadFile) and item.filename]


def extension(file_name: str) -> str:
    dot = file_name.rfind(".")
    return file_name[dot:].lower() if dot > 0 else ""
