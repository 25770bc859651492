"""How the portal groups an agency's assignments and words their state: the four states of tracking's rule, the
most pressing group first, dates in Vietnam's time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from fastapi.testclient import TestClient

from services.web import present
from services.web.config import Settings
from services.web.main import create_app
from tests.unit.web_tracking_fake import FakeTracking, answered, record

NOW = datetime(2027, 6, 1, 3, 0, tzinfo=UTC)


def reported(due: datetime, late_by: int) -> dict[str, object]:
    item = record(f"r{late_by}-{due.day}", "UBND", due)
    item["periods"]["2027-H1"]["reports"] = [{"submitted_at": NOW.isoformat(), "late_by_seconds": late_by}]
    item["state"] = "completed"
    return item


def test_assignments_fall_in_the_four_groups_most_pressing_first() -> None:
    records = [
        reported(NOW - timedelta(days=3), 0),
        record("open", "UBND", NOW + timedelta(days=2)),
        reported(NOW - timedelta(days=3), 3600),
        record("late", "UBND", NOW - timedelta(hours=1)),
        {**record("gone", "UBND", NOW + timedelta(days=1)), "state": "cancelled"},
    ]
    groups = present.grouped([answered(r, NOW) for r in records])
    assert [kind for kind, _, _ in groups] == ["overdue", "open", "done_late", "done_on_time", "cancelled"]
    assert [title for _, title, _ in groups][:2] == ["Quá hạn, chưa báo cáo", "Đang trong hạn"]
    assert groups[0][2][0].id == "late" and groups[0][2][0].periods[0].label == "Quá hạn"


def test_times_read_in_vietnam() -> None:
    assert present.when("2027-06-30T16:59:59.999999Z") == "23:59 ngày 30/06/2027"
    assert present.day("2027-06-30T17:00:00Z") == "01/07/2027"
    assert present.when(None) == "" and present.size(36 * 1024) == "36 KB" and present.size(3 * 1024 * 1024) == "3,0 MB"


def test_the_session_cookie_is_secure_behind_https() -> None:
    fake = FakeTracking()
    settings = Settings(secret_key="k" * 32, public_url="https://dondoc.example")
    with TestClient(create_app(settings, transport=httpx.MockTransport(fake)), follow_redirects=False) as client:
        answer = client.get(f"/l/{fake.link('UBND')}")
    assert answer.status_code == 303 and "Secure" in answer.headers["set-cookie"]
