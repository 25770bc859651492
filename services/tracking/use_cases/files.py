"""The use cases of report files: an agency uploads a file to one of its own assignments (streamed: SHA-256, size
and kind taken as the bytes go by, nothing kept when it is refused), the files become a report's deliverables,
and whoever may read the assignment downloads them. Rules: `file_kinds.py` (what a file is), `file_names.py`
(the name kept), `domain.read_scope` (who reads)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import structlog

from services.tracking import domain, file_kinds, file_names
from services.tracking.domain import AssignmentRecord
from services.tracking.use_cases.errors import (
    Forbidden,
    Invalid,
    NotFound,
    TooLarge,
    Unsupported,
    no_assignment,
    not_assigned_to,
)
from services.tracking.use_cases.service import counted
from shared.contracts.events import Deliverable
from shared.domain.clock import Clock
from shared.domain.wording import Wording, wording_of
from shared.platform.auth import Principal

log = structlog.get_logger()
MAX_FILES_PER_REPORT = 20


@dataclass(frozen=True)
class UploadFile:
    assignment_id: str
    file_name: str  # as the client sent it; sanitised here
    content: AsyncIterator[bytes]


@dataclass(frozen=True)
class StoredFile:
    file_id: str
    file_name: str
    media_type: str
    size: int
    sha256: str

    def deliverable(self) -> Deliverable:
        return Deliverable(
            file_name=self.file_name,
            media_type=self.media_type,
            size=self.size,
            sha256=self.sha256,
            link=f"/files/{self.file_id}",
        )


class Writer(Protocol):
    async def write(self, data: bytes) -> None: ...
    async def close(self, uploaded_at: datetime, **metadata: Any) -> None: ...
    async def abort(self) -> None: ...

    @property
    def file_id(self) -> Any: ...


class FileStore(Protocol):
    """What the use cases need of file storage (`file_store.ReportFiles`, or a fake in unit tests)."""

    def writer(self, file_name: str, metadata: dict[str, Any]) -> Writer: ...
    async def find(self, file_id: str) -> dict[str, Any] | None: ...
    def content(self, file_id: str) -> AsyncIterator[bytes]: ...


class AssignmentReader(Protocol):
    async def get_assignment(self, assignment_id: str, session: Any = None) -> AssignmentRecord | None: ...


def _stored(row: dict[str, Any]) -> StoredFile:
    meta = row["metadata"]
    return StoredFile(str(row["_id"]), row["filename"], meta["media_type"], int(row["length"]), meta["sha256"])


class FileService:
    def __init__(self, assignments: AssignmentReader, store: FileStore, clock: Clock, max_bytes: int) -> None:
        self._assignments = assignments
        self._store = store
        self._clock = clock
        self.max_bytes = max_bytes

    async def _own_assignment(self, assignment_id: str, actor: Principal) -> AssignmentRecord:
        assignment = await self._assignments.get_assignment(assignment_id)
        if assignment is None:
            raise NotFound(no_assignment(assignment_id))
        if not domain.may_act_as_agency(actor) or assignment["agency"]["code"] != actor.code:
            raise counted(Forbidden(not_assigned_to(assignment_id, actor.code)))
        return assignment

    async def upload(self, command: UploadFile, actor: Principal) -> StoredFile:
        """Store the file if it is of an allowed kind, its content agrees with its name and it is within the
        limit; otherwise refuse (415, 413) with nothing kept."""
        assignment = await self._own_assignment(command.assignment_id, actor)
        name = file_names.sanitise(command.file_name)
        try:
            expected = file_kinds.expected_type(file_names.extension(name))
        except file_kinds.FileRefused as exc:
            raise Unsupported(wording_of(exc), exc.reason) from None
        metadata = {
            "assignment_id": assignment["_id"],
            "plan_id": assignment["plan_id"],
            "agency": assignment["agency"]["code"],
            "issuer": assignment["issuer"]["code"],
            "uploaded_by": actor.code,
            "original_name": command.file_name[:1000],
        }
        writer = self._store.writer(name, metadata)
        try:
            size, sha256 = await self._stream(command.content, writer, expected)
            await writer.close(self._clock.now(), media_type=expected, sha256=sha256)
        except BaseException:
            await writer.abort()
            raise
        stored = StoredFile(str(writer.file_id), name, expected, size, sha256)
        log.info("report file stored", file_id=stored.file_id, size=size, media_type=expected)
        return stored

    async def _stream(self, content: AsyncIterator[bytes], writer: Writer, expected: str) -> tuple[int, str]:
        sniffer = file_kinds.Sniffer()
        digest = hashlib.sha256()
        size = 0
        try:
            async for chunk in content:
                size += len(chunk)
                if size > self.max_bytes:
                    raise TooLarge(self.max_bytes)
                sniffer.feed(chunk)
                sniffer.check_head(expected)
                digest.update(chunk)
                await writer.write(chunk)
            sniffer.check(expected)
        except file_kinds.FileRefused as exc:
            raise Unsupported(wording_of(exc), exc.reason) from None
        return size, digest.hexdigest()

    async def deliverables(self, assignment_id: str, file_ids: list[str], actor: Principal) -> list[Deliverable]:
        """The report's deliverables for the files an agency uploaded to this assignment."""
        await self._own_assignment(assignment_id, actor)
        found: list[Deliverable] = []
        for file_id in dict.fromkeys(file_ids):
            row = await self._store.find(file_id)
            if row is None or row["metadata"].get("assignment_id") != assignment_id:
                raise Invalid(
                    Wording(
                        vi=f"Tệp {file_id} không được tải lên cho nhiệm vụ {assignment_id}.",
                        en=f"file {file_id} was not uploaded to assignment {assignment_id}",
                    )
                )
            found.append(_stored(row).deliverable())
        return found

    async def open(self, file_id: str, reader: Principal) -> tuple[StoredFile, AsyncIterator[bytes]]:
        """The file's facts and its bytes, for whoever may read its assignment."""
        row = await self._store.find(file_id)
        if row is None:
            raise NotFound(Wording(vi=f"Không tìm thấy tệp {file_id}.", en=f"no file {file_id}"))
        meta = row["metadata"]
        if not domain.read_scope(reader).admits(meta["agency"], meta["issuer"]):
            raise counted(
                Forbidden(Wording(vi=f"Không có quyền xem tệp {file_id}.", en=f"file {file_id} is not yours to read"))
            )
        return _stored(row), self._store.content(file_id)
