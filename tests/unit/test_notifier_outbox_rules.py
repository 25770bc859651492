"""Whether a queued e-mail still applies when its turn comes (services/notifier/rules/outbox.py)."""

from __future__ import annotations

from typing import Any

import pytest

from services.notifier.rules.outbox import notice_void, void_notices, void_reason

STEPS = [
    {"name": "assignment-notice", "ask": "notice"},
    {"name": "ack-reminder", "ask": "acknowledge"},
    {"name": "overdue", "ask": "report"},
]
OVERDUE = "a1:2026-FY|r0|overdue#1|chi-bo-khu-1@hoa-an.example"
NOTICE = "a1:ack|r0|assignment-notice#1|chi-bo-khu-1@hoa-an.example"
REMINDER = "a1:ack|r0|ack-reminder#1|chi-bo-khu-1@hoa-an.example"


def period(state: str, track: str = "report", rev: int = 0) -> dict[str, Any]:
    return {"state": state, "track": track, "rev": rev, "steps": STEPS}


@pytest.mark.parametrize(
    ("key", "row", "reason"),
    [
        (OVERDUE, period("open"), None),
        (OVERDUE, period("submitted"), "reported"),
        (OVERDUE, period("cancelled"), "cancelled"),
        (OVERDUE, period("open", rev=1), "deadline_moved"),  # the deadline was extended after it was queued
        (REMINDER, period("acknowledged", "acknowledgement"), "acknowledged"),
        (REMINDER, period("open", "acknowledgement"), None),
        (NOTICE, period("acknowledged", "acknowledgement"), None),  # the notice is not a reminder: it goes
        (NOTICE, period("cancelled", "acknowledgement"), "cancelled"),
        (OVERDUE, None, None),  # a period this notifier does not know: sent as queued
        ("not-a-notice-key", period("submitted"), None),
    ],
)
def test_each_notice_applies_until_its_period_moved_on(
    key: str, row: dict[str, Any] | None, reason: str | None
) -> None:
    assert notice_void(key, row) == reason


def test_an_e_mail_is_dropped_only_when_none_of_its_notices_applies() -> None:
    other = "a2:2026-FY|r0|overdue#1|thuong-truc@hoa-an.example"
    reported, still_open = {"a1:2026-FY": period("submitted"), "a2:2026-FY": period("open")}, {}
    assert void_reason([OVERDUE, other], reported) is None  # one digest: a2 is still overdue, it goes whole
    both = {"a1:2026-FY": period("submitted"), "a2:2026-FY": period("cancelled")}
    assert void_reason([OVERDUE, other], both) == "cancelled,reported"
    assert void_reason([OVERDUE], {"a1:2026-FY": period("submitted")}) == "reported"
    assert void_reason([], reported) is None  # a new-link e-mail is about no period
    assert void_reason([OVERDUE], still_open) is None


def test_the_notices_that_no_longer_apply_are_named_with_their_reasons() -> None:
    other = "a2:2026-FY|r0|overdue#1|thuong-truc@hoa-an.example"
    periods = {"a1:2026-FY": period("submitted"), "a2:2026-FY": period("open")}
    assert void_notices([OVERDUE, other], periods) == {OVERDUE: "reported"}
    assert void_notices([other], periods) == {}
