"""The use cases' typed errors; each entry point maps `kind` to its own answer (HTTP status, dead letter)."""

from __future__ import annotations


class ActionError(Exception):
    """An action refused; `kind` tells the entry point how to answer (HTTP status, dead letter)."""

    kind: str = "invalid"

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.details: dict[str, object] = {}  # fields an answer carries beside `detail` (a reason, a limit)


class NotFound(ActionError):
    kind = "not_found"


class Forbidden(ActionError):
    kind = "forbidden"


class Conflict(ActionError):
    kind = "conflict"


class Refused(ActionError):
    """The rules forbid it in the current state (illegal transition, unknown period)."""

    kind = "refused"


class Gone(ActionError):
    """A personal link that has expired or been revoked: `reason` says which."""

    kind = "gone"

    def __init__(self, detail: str, reason: str) -> None:
        super().__init__(detail)
        self.details = {"reason": reason}


class TooLarge(ActionError):
    """An uploaded file past the size limit."""

    kind = "too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"the file is larger than the limit of {limit} bytes")
        self.details = {"reason": "too_large", "limit": limit}


class Unsupported(ActionError):
    """An uploaded file of a kind not accepted, or whose content is not what its name says."""

    kind = "unsupported"

    def __init__(self, detail: str, reason: str) -> None:
        super().__init__(detail)
        self.details = {"reason": reason}


class Invalid(ActionError):
    """The request names something it may not use (a file of another assignment)."""

    kind = "invalid"
