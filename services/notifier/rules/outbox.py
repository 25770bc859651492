"""Whether a queued e-mail still applies when its turn to be sent comes (issue 18: "a report stops what is queued,
too"). An e-mail waits in the outbox in SMTP retry backoff, for tracking to issue its links, or held for the
sending window; meanwhile what it is about may have moved on. It is dropped, with the reason recorded, when none
of its notices applies any more:

- `reported`: its period's report is in (every step of a report period asks for that report);
- `cancelled`: the assignment was cancelled;
- `acknowledged`: an acknowledgement reminder or escalation, and the assignment is acknowledged (the assignment
  notice itself is not a reminder: once queued it goes, since it says what to deliver and by when);
- `deadline_moved`: the notice was about a deadline since extended (the period's revision moved on; the
  ladder starts again from the new deadline).

An e-mail with at least one notice that still applies goes out, written again without the others when the sender
can (services/notifier/use_cases/scan.py `redigest`; the notices left out are recorded on the row with their
reasons), else as it was queued; one with no notices (a new link) always applies. A period the notifier does not
know leaves its notice applying.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

REPORTED = "reported"
CANCELLED = "cancelled"
ACKNOWLEDGED = "acknowledged"
DEADLINE_MOVED = "deadline_moved"
REASONS = (REPORTED, CANCELLED, ACKNOWLEDGED, DEADLINE_MOVED)


def _ask_of(period: Mapping[str, Any], occurrence: str) -> str | None:
    name = occurrence.rsplit("#", 1)[0]
    return next((str(s.get("ask")) for s in period.get("steps") or [] if s.get("name") == name), None)


def notice_void(key: str, period: Mapping[str, Any] | None) -> str | None:
    """Why the notice `key` (`<period>|r<rev>|<step>#<n>|<address>`) no longer applies, or None if it does."""
    if period is None:
        return None
    parts = key.split("|")
    if len(parts) < 4:
        return None
    revision, occurrence = parts[1], parts[2]
    state = period.get("state")
    if state == "cancelled":
        return CANCELLED
    if state == "submitted":
        return REPORTED
    if state == "acknowledged" and period.get("track") == "acknowledgement":
        return None if _ask_of(period, occurrence) == "notice" else ACKNOWLEDGED
    if revision.startswith("r") and revision[1:].isdigit() and int(revision[1:]) < int(period.get("rev") or 0):
        return DEADLINE_MOVED
    return None


def void_notices(notice_keys: Sequence[str], periods: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """The notices of a queued e-mail that no longer apply, each with its reason."""
    found = {key: notice_void(key, periods.get(key.split("|", 1)[0])) for key in notice_keys}
    return {key: reason for key, reason in found.items() if reason is not None}


def void_reason(notice_keys: Sequence[str], periods: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Why a queued e-mail must not be sent (its notices' reasons, sorted, comma-separated), or None to send it."""
    void = void_notices(notice_keys, periods)
    if not notice_keys or len(void) < len(notice_keys):
        return None
    return ",".join(sorted(set(void.values())))
