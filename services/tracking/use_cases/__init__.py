"""Tracking's application layer (a package, not `service.py`: together it is past ~300 lines). One use case per
action — acknowledge, report progress, submit a report, request and decide an extension, issue and revoke
tokens, and the queries (a plan's status, an assignment, an agency's assignments, a history) — each a typed
command in, a typed result out, typed errors out (`NotFound`, `Forbidden`, `Conflict`, `Refused`). Every state
change runs in the unit of work (`shared/platform/unit_of_work.py`): the assignment, its audit row and the event it
causes
are committed together, then the outbox relay is woken. HTTP routes and AMQP consumers only translate and map
errors to status codes or ack decisions.

- `messages.py`  commands, results and the storage protocols
- `decisions.py` the pure decision of each action (the change and the fact)
- `errors.py`    the typed errors
- `service.py`   `TrackingService`, the use cases
"""

from services.tracking.use_cases.decisions import Decision, decide
from services.tracking.use_cases.errors import ActionError, Conflict, Forbidden, NotFound, Refused
from services.tracking.use_cases.messages import (
    ActionResult,
    AgencyQuery,
    Channel,
    DecideExtension,
    ExtensionQuery,
    IssuedToken,
    IssueToken,
    RotatedToken,
    RotateToken,
)
from services.tracking.use_cases.service import FORBIDDEN, TrackingService

__all__ = [
    "FORBIDDEN",
    "ActionError",
    "ActionResult",
    "AgencyQuery",
    "Channel",
    "Conflict",
    "DecideExtension",
    "Decision",
    "ExtensionQuery",
    "Forbidden",
    "IssueToken",
    "IssuedToken",
    "NotFound",
    "Refused",
    "RotateToken",
    "RotatedToken",
    "TrackingService",
    "decide",
]
