"""The typed errors intake's use cases raise; the routes map each to one status code. Messages are shown to
clerks as they are."""

from __future__ import annotations

from services.intake.domain import PlanRejected

__all__ = [
    "AmendmentRefused",
    "Conflict",
    "Forbidden",
    "IntakeError",
    "Invalid",
    "NotFound",
    "Overtaken",
    "PlanRejected",
    "VersionMismatch",
]


class IntakeError(Exception):
    """A request intake refuses; `str(error)` says why and what to do."""


class NotFound(IntakeError):
    """The plan, agency or group named does not exist."""


class Forbidden(IntakeError):
    """The caller may not act on this plan (an issuer acts only on the plans it issues)."""


class Invalid(IntakeError):
    """The request contradicts itself or the directory's rules."""


class Conflict(IntakeError):
    """The change cannot be made in the present state (work still assigned, a reference still held …)."""


class AmendmentRefused(Conflict):
    """A plan submitted again changes something that cannot be applied as a difference."""


class Overtaken(Conflict):
    """Another change was stored between reading and writing: read again and retry."""


class VersionMismatch(IntakeError):
    """The change was made from a version (If-Match) that is no longer the current one."""
