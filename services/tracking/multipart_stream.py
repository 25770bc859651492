"""A multipart/form-data request body read as it arrives (Starlette's `request.stream()` fed to python-multipart's
streaming `MultipartParser`), yielding the bytes of one part as they come: the upload route never holds a whole
file, nor spools one to disk as FastAPI's `UploadFile` would. Every other part is read and dropped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header

from shared.domain.wording import Wording


class MalformedUpload(ValueError):
    """The body is not multipart/form-data with the expected part (said as the end of a sentence, without its
    full stop: the route adds what comes before)."""


_NOT_MULTIPART = Wording(vi="hãy gửi tệp dưới dạng multipart/form-data", en="send the file as multipart/form-data")


@dataclass
class _Parts:
    """What the parser's callbacks saw during one `write`: part starts (name, file name) and data, in order."""

    events: list[tuple[str, bytes, bytes]] = field(default_factory=list)
    _header: bytes = b""
    _value: bytes = b""
    _headers: dict[bytes, bytes] = field(default_factory=dict)

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._begin,
            "on_header_field": lambda data, start, end: self._grow("_header", data[start:end]),
            "on_header_value": lambda data, start, end: self._grow("_value", data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": lambda data, start, end: self.events.append(("data", bytes(data[start:end]), b"")),
            "on_part_end": lambda: self.events.append(("end", b"", b"")),
        }

    def _grow(self, name: str, data: bytes) -> None:
        setattr(self, name, getattr(self, name) + data)

    def _begin(self) -> None:
        self._headers = {}

    def _header_end(self) -> None:
        if len(self._headers) < 16:
            self._headers[self._header.lower()] = self._value[:2000]
        self._header, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self.events.append(("begin", options.get(b"name", b""), options.get(b"filename", b"")))


def boundary_of(content_type: str) -> bytes:
    media, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if media != b"multipart/form-data" or not boundary:
        raise MalformedUpload(_NOT_MULTIPART)
    return boundary


@dataclass
class FilePart:
    """The part named `field_name` of a multipart body: `open()` reads up to its start and returns its file name;
    `chunks()` then yields its bytes. `received` counts every byte of the body."""

    body: AsyncIterator[bytes]
    content_type: str
    field_name: str = "file"
    received: int = 0
    _parts: _Parts = field(default_factory=_Parts)
    _pending: list[bytes] = field(default_factory=list)
    _inside: bool = False
    _done: bool = False

    def __post_init__(self) -> None:
        self._parser = MultipartParser(boundary_of(self.content_type), self._parts.callbacks())  # type: ignore[arg-type]

    async def open(self) -> str:
        while not self._inside:
            if not await self._feed():
                raise MalformedUpload(
                    Wording(
                        vi=f"nội dung gửi lên không có phần «{self.field_name}» chứa tệp",
                        en=f"the body has no part named {self.field_name!r} with a file",
                    )
                )
        return self._file_name

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            while self._pending:
                yield self._pending.pop(0)
            if self._done or not await self._feed():
                return

    async def _feed(self) -> bool:
        """Parse one more piece of the body; False at its end."""
        try:
            piece = await anext(self.body)
        except StopAsyncIteration:
            self._parser.finalize()
            self._take()
            return False
        self.received += len(piece)
        self._parser.write(piece)
        self._take()
        return True

    def _take(self) -> None:
        for kind, first, second in self._parts.events:
            if kind == "begin" and not self._inside and not self._done and first == self.field_name.encode():
                self._inside = True
                self._file_name = second.decode("utf-8", "replace")
            elif kind == "data" and self._inside and not self._done:
                self._pending.append(first)
            elif kind == "end" and self._inside:
                self._done = True
        self._parts.events.clear()
