"""The only errors a document can cause: each says, in Vietnamese for the clerk, what to do about it."""

from __future__ import annotations


class DocumentError(ValueError):
    """A document intake cannot read; `code` is stable for programs, the message is for people."""

    code = "unreadable"
    http_status = 422

    def __init__(self, message: str, problems: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "problems": self.problems}

    def __reduce__(self) -> tuple[type[DocumentError], tuple[str, list[dict[str, str]]]]:
        # Raised in a reader process and re-raised here: the default pickling would drop `problems`.
        return type(self), (self.message, self.problems)


class EmptyDocument(DocumentError):
    code = "empty"


class BinaryDocument(DocumentError):
    code = "binary"


class DocumentTooLarge(DocumentError):
    code = "too_large"
    http_status = 413


class DocumentTooSlow(DocumentError):
    """Not read within the time a document may take (a hostile or pathological file)."""

    code = "too_slow"


class UnknownFormat(DocumentError):
    code = "unknown_format"
    http_status = 415


class InvalidStructuredPlan(DocumentError):
    code = "invalid_json"


class NotAPlan(DocumentError):
    """Readable text, but nothing in it looks like a plan (no number, no organisation section)."""

    code = "not_a_plan"


class ReaderUnavailable(DocumentError):
    """A format intake reads with a Debian tool (PDF, scans) that is not installed on this server."""

    code = "reader_unavailable"
    http_status = 415
