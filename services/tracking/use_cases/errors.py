"""The use cases' typed errors; each entry point maps `kind` to its own answer (HTTP status, dead letter)."""

from __future__ import annotations


class ActionError(Exception):
    """An action refused; `kind` tells the entry point how to answer (HTTP status, dead letter)."""

    kind: str = "invalid"


class NotFound(ActionError):
    kind = "not_found"


class Forbidden(ActionError):
    kind = "forbidden"


class Conflict(ActionError):
    kind = "conflict"


class Refused(ActionError):
    """The rules forbid it in the current state (illegal transition, unknown period)."""

    kind = "refused"
