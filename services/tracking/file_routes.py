# No `from __future__ import annotations` here: FastAPI must see the route annotations.
"""Tracking's HTTP routes for report files: an agency uploads (multipart/form-data, one part named `file`,
streamed: never whole in memory, never on disk) and whoever may read the assignment downloads. The request body
guard leaves the upload route's body alone (`STREAMED_PATHS`): the route limits its size and its time itself."""

import asyncio
import re
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import StreamingResponse
from python_multipart.exceptions import MultipartParseError

from services.tracking import file_names
from services.tracking.multipart_stream import FilePart, MalformedUpload
from services.tracking.rate_limit import TokenBuckets, retry_after
from services.tracking.use_cases.errors import TooLarge
from services.tracking.use_cases.files import FileService, UploadFile
from shared.domain.wording import Wording, wording_of
from shared.platform.auth import AgencyOnly, AnyRole
from shared.platform.http import Answer, Identifier

STREAMED_PATHS = re.compile(r"^/assignments/[A-Za-z0-9_-]{1,64}/files$")
MULTIPART_OVERHEAD = 64 * 1024  # bytes a body may carry beside the file: boundaries, part headers, small fields


async def _upload(request: Request, files: FileService, assignment_id: str, actor: Any) -> Answer:
    limit = files.max_bytes + MULTIPART_OVERHEAD
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(files.max_bytes)
    try:
        part = FilePart(request.stream(), request.headers.get("content-type", ""))
        file_name = await part.open()
        stored = await files.upload(UploadFile(assignment_id, file_name, _bounded(part, limit, files)), actor)
    except (MalformedUpload, MultipartParseError) as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, _malformed(exc)) from None
    return {
        "file_id": stored.file_id,
        "file_name": stored.file_name,
        "media_type": stored.media_type,
        "size": stored.size,
        "sha256": stored.sha256,
    }


def _malformed(exc: Exception) -> Wording:
    """What is wrong with an upload's body: our own reading's words, or the parser's (English) beside a
    Vietnamese sentence."""
    said = wording_of(exc)
    if isinstance(said, Wording):
        return Wording(vi=f"Tệp gửi lên không hợp lệ: {said.vi}.", en=f"the upload is malformed: {said.en}")
    return Wording(
        vi="Tệp gửi lên không đúng định dạng multipart/form-data; vui lòng gửi lại.",
        en=f"the upload is malformed: {said}",
    )


_TOO_MANY_UPLOADS = Wording(
    vi="Cơ quan đã gửi quá nhiều tệp trong thời gian ngắn; vui lòng thử lại sau ít phút.",
    en="too many uploads; try again later",
)


async def _bounded(part: FilePart, limit: int, files: FileService) -> Any:
    """The part's bytes; refused once the whole body passes the limit (a file hidden among other parts)."""
    async for chunk in part.chunks():
        if part.received > limit:
            raise TooLarge(files.max_bytes)
        yield chunk


def build_file_router(files: FileService, timeout_seconds: float, uploads: TokenBuckets) -> APIRouter:
    """`uploads`: each agency's own bucket (by its code: behind the web service every upload has one address)."""
    router = APIRouter(tags=["files"])

    @router.post(
        "/assignments/{assignment_id}/files",
        status_code=status.HTTP_201_CREATED,
        responses={
            403: {"description": "the assignment is another agency's (or the caller is a viewer)"},
            413: {"description": "past the size limit: `reason` too_large and `limit` in bytes"},
            415: {"description": "`reason` type_not_allowed (the extension) or type_mismatch (the content)"},
            422: {"description": "not multipart/form-data with a part named `file`"},
            429: {"description": "too many uploads from this agency; see Retry-After"},
        },
    )
    async def upload_file(assignment_id: Identifier, request: Request, actor: AgencyOnly) -> Answer:
        """Upload one report file (multipart/form-data, part `file`) to the agency's own assignment: .docx, .pdf,
        .xlsx, .odt, .jpg/.jpeg or .png, its content agreeing with its name (415 with `reason` type_mismatch or
        type_not_allowed), within the size limit (413 with `reason` too_large and `limit`). Nothing is kept of a
        refused file. Answers the stored file's id, sanitised name, sniffed media type, size and SHA-256. Each
        agency's uploads are rate-limited (429 with Retry-After)."""
        wait = uploads.take(actor.code)
        if wait > 0:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                _TOO_MANY_UPLOADS,
                {"Retry-After": retry_after(wait)},
            )
        try:
            async with asyncio.timeout(timeout_seconds):
                return await _upload(request, files, assignment_id, actor)
        except TimeoutError:
            seconds = f"{timeout_seconds:g}"
            raise HTTPException(
                status.HTTP_408_REQUEST_TIMEOUT,
                Wording(
                    vi=f"Tệp chưa tải lên xong sau {seconds.replace('.', ',')} giây; vui lòng thử lại.",
                    en=f"the upload did not finish within {seconds} seconds",
                ),
            ) from None

    @router.get("/files/{file_id}", response_class=StreamingResponse)
    async def download_file(file_id: Identifier, reader: AnyRole) -> StreamingResponse:
        """A report file's bytes, for its agency, a viewer of that agency, the plan's issuer and operators."""
        stored, content = await files.open(file_id, reader)
        headers = {
            "Content-Disposition": file_names.content_disposition(stored.file_name),
            "Content-Length": str(stored.size),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        }
        return StreamingResponse(content, media_type=stored.media_type, headers=headers)

    return router
