"""What the use cases raise; the entry points map each to an answer (HTTP status, message disposition)."""

from __future__ import annotations

from shared.platform.deliveries import TransientError


class AlreadyProcessed(Exception):
    """The event was projected before (its id is recorded): a redelivery, nothing to do."""


class NotKnownYet(TransientError):
    """The event refers to an assignment or period not projected yet: messages are processed concurrently and this
    one overtook the one it refers to. Retried (bounded by the delivery limit)."""


class ClaimLost(Exception):
    """A period changed under our claim (a report, an extension, a ladder change, or another replica after our
    lease); the scan's batch is given back and looked at again."""


class LinkUnavailable(TransientError):
    """Tracking could not issue a personal link now (unreachable, overloaded, 5xx): the e-mail waits and is tried
    again with the mailer's backoff, like an SMTP failure. The message never holds a secret."""


class LinkRefused(Exception):
    """Tracking refused to issue a link for this body (it does not know it, say): trying again will not help; the
    e-mail goes out with the page where a body asks for a link instead."""


class SilenceNotFound(LookupError):
    """No silence with this id (never created, or ended already)."""


class MomentWithoutOffset(ValueError):
    """A moment given without its UTC offset cannot be placed in time."""
