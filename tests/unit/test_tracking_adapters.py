"""The pieces of tracking's adapters that need no broker or database: which broker user is which agency, and the
update documents the repository builds from the domain's `Change`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.tracking.consumers import agency_of
from services.tracking.domain import Change
from services.tracking.repository import GuardedChange, per_document_stage, update_document
from shared.platform.deliveries import InvalidMessage

AT = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("user", "prefix", "reason"),
    [
        (None, "agency-", "no user_id"),
        ("chi-bo-khu-1", "", "TRACKING_AGENCY_USER_PREFIX is empty"),
        ("guest", "", "TRACKING_AGENCY_USER_PREFIX is empty"),
        ("chi-bo-khu-1", "agency-", "not an agency user"),
        ("agency-", "agency-", "not an agency user"),
    ],
)
def test_a_broker_user_without_the_prefix_is_no_agency(user: str | None, prefix: str, reason: str) -> None:
    with pytest.raises(InvalidMessage, match=reason) as refused:
        agency_of(user, prefix)
    assert str(refused.value).startswith("forbidden")


def test_a_broker_user_with_the_prefix_is_its_agency() -> None:
    assert agency_of("agency-chi-bo-khu-1", "agency-") == "chi-bo-khu-1"


def test_each_change_becomes_one_update_document() -> None:
    assert update_document(Change({"state": "acknowledged", "acknowledged_at": AT})) == {
        "$set": {"state": "acknowledged", "acknowledged_at": AT}
    }
    report = {"revision": 1}
    assert update_document(Change({"state": "completed"}, period="2027-Q1", report=report)) == {
        "$set": {"state": "completed"},
        "$push": {"periods.2027-Q1.reports": report},
    }
    moved = {"request_id": "r1"}
    assert update_document(Change({}, period="2027-Q1", due_at=AT, extension=moved)) == {
        "$set": {"periods.2027-Q1.due_at": AT},
        "$push": {"periods.2027-Q1.extensions": moved},
    }


def test_the_bulk_stage_shares_a_literal_and_switches_on_what_differs() -> None:
    chunk = [
        GuardedChange("a1", 0, Change({"state": "acknowledged", "acknowledged_at": AT}), "e1"),
        GuardedChange("a2", 0, Change({"state": "acknowledged", "acknowledged_at": AT}), "e2"),
    ]
    stage = per_document_stage(chunk)
    assert stage["state"] == {"$literal": "acknowledged"} and stage["acknowledged_at"] == {"$literal": AT}
    assert stage["version"] == {"$add": ["$version", 1]}
    assert stage["acknowledged_event_id"]["$switch"]["branches"] == [
        {"case": {"$eq": ["$_id", "a1"]}, "then": {"$literal": "e1"}},
        {"case": {"$eq": ["$_id", "a2"]}, "then": {"$literal": "e2"}},
    ]
    with pytest.raises(TypeError):
        per_document_stage([GuardedChange("a3", 0, Change({}, period="2027-Q1", due_at=AT), "e3")])
