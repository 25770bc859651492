"""The only errors a document can cause: each says what to do about it, in Vietnamese for the clerk and in
English for an integrator who asks for it (`Accept-Language: en`).

An error is raised with a `Wording` (and problems whose `problem` may be one). Only `as_dict()`, what the HTTP
answer is made of, holds the Wordings: there the caller's language is chosen (shared/platform/problems.py).
Everything else keeps the language it has always had, Vietnamese, as plain strings: `str(exc)`, `message` and
`problems` (the CLI, the preview's list of problems, anything logged or stored)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from shared.domain.wording import Wording

Said = str | Wording  # a text in both languages, or one that reads the same in both (a line number, a code)


def vietnamese(text: Said) -> str:
    return text.vi if isinstance(text, Wording) else text


class DocumentError(ValueError):
    """A document intake cannot read; `code` is stable for programs, the message is for people."""

    code = "unreadable"
    http_status = 422

    def __init__(self, message: Said, problems: Sequence[Mapping[str, Said]] | None = None) -> None:
        super().__init__(message)
        self.wording = message
        self.said_problems = [dict(problem) for problem in problems or ()]
        self.message = vietnamese(message)
        self.problems = [{key: vietnamese(text) for key, text in problem.items()} for problem in self.said_problems]

    def __str__(self) -> str:
        return self.message

    def as_dict(self) -> dict[str, object]:
        """The HTTP answer's members: `message` (the detail) and each problem in both languages."""
        return {"code": self.code, "message": self.wording, "problems": self.said_problems}

    def __reduce__(self) -> tuple[type[DocumentError], tuple[Said, list[dict[str, Said]]]]:
        # Raised in a reader process and re-raised here: the default pickling would drop `problems`.
        return type(self), (self.wording, self.said_problems)


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
