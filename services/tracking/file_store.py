"""Report files in MongoDB GridFS, bucket `report_files` (`report_files.files`, `report_files.chunks`), each
file's facts in its `metadata` (assignment, agency, issuer, sha256, sniffed media type, who uploaded it, when).

Reading and deleting go through PyMongo's asynchronous GridFS API (`gridfs.asynchronous.AsyncGridFSBucket`).
Writing is `GridWriter` here, which writes the same GridFS layout one chunk at a time: PyMongo's `AsyncGridIn`
(pymongo 4.20, `gridfs/asynchronous/grid_file.py`, `_flush_data`) keeps every chunk in memory until 48 MB
(`MAX_MESSAGE_SIZE`) or `close()`, so a 20 MB upload would sit whole in memory; here at most one chunk does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from bson.int64 import Int64
from gridfs.asynchronous import AsyncGridFSBucket
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

BUCKET = "report_files"
CHUNK_BYTES = 255 * 1024  # GridFS's default chunk size


class GridWriter:
    """One file being written: chunks as they fill, the files document last (a reader never sees a partial
    file), everything removed by `abort`."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], file_name: str, metadata: dict[str, Any]) -> None:
        self._chunks = db[f"{BUCKET}.chunks"]
        self._files = db[f"{BUCKET}.files"]
        self.file_id = ObjectId()
        self._file_name = file_name
        self._metadata = metadata
        self._buffer = bytearray()
        self._written = 0  # chunks stored
        self._length = 0

    async def write(self, data: bytes) -> None:
        self._buffer += data
        self._length += len(data)
        while len(self._buffer) >= CHUNK_BYTES:
            await self._store(bytes(self._buffer[:CHUNK_BYTES]))
            del self._buffer[:CHUNK_BYTES]

    async def _store(self, data: bytes) -> None:
        await self._chunks.insert_one({"files_id": self.file_id, "n": self._written, "data": data})
        self._written += 1

    async def close(self, uploaded_at: datetime, **metadata: Any) -> None:
        """Store the last chunk and the files document, with `metadata` added to the metadata given at first."""
        if self._buffer:
            await self._store(bytes(self._buffer))
            self._buffer.clear()
        await self._files.insert_one(
            {
                "_id": self.file_id,
                "length": Int64(self._length),
                "chunkSize": CHUNK_BYTES,
                "uploadDate": uploaded_at,
                "filename": self._file_name,
                "metadata": {**self._metadata, **metadata},
            }
        )

    async def abort(self) -> None:
        """Remove whatever was stored of the file."""
        self._buffer.clear()
        await self._chunks.delete_many({"files_id": self.file_id})
        await self._files.delete_one({"_id": self.file_id})


class ReportFiles:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._db = db
        self._files = db[f"{BUCKET}.files"]
        self._bucket = AsyncGridFSBucket(db, bucket_name=BUCKET)

    async def ensure_indexes(self) -> None:
        """GridFS's own two indexes, and the files of an assignment."""
        await self._db[f"{BUCKET}.chunks"].create_index([("files_id", ASCENDING), ("n", ASCENDING)], unique=True)
        await self._files.create_index([("filename", ASCENDING), ("uploadDate", ASCENDING)])
        await self._files.create_index([("metadata.assignment_id", ASCENDING)])

    def writer(self, file_name: str, metadata: dict[str, Any]) -> GridWriter:
        return GridWriter(self._db, file_name, metadata)

    async def find(self, file_id: str) -> dict[str, Any] | None:
        """The files document (`_id` as a string), or None for an unknown or malformed id."""
        try:
            oid = ObjectId(file_id)
        except (InvalidId, TypeError):
            return None
        row = await self._files.find_one({"_id": oid})
        if row is not None:
            row["_id"] = str(row["_id"])
        return row

    async def content(self, file_id: str) -> AsyncIterator[bytes]:
        """The file's bytes, a chunk at a time."""
        stream = await self._bucket.open_download_stream(ObjectId(file_id))
        try:
            while chunk := await stream.readchunk():
                yield chunk
        finally:
            await stream.close()
