"""One override table per deployment: intake (deadlines counted in working days) and the notifier (its sending
window) read the same unprefixed setting, CALENDAR_OVERRIDES_PATH, so they cannot disagree about a day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from services.intake.config import Settings as IntakeSettings
from services.intake.domain import AfterReceipt, DeadlineIn
from services.notifier.config import Settings as NotifierSettings
from shared.domain import calendar
from shared.domain.calendar import DEFAULT_OVERRIDES, deployment_calendar, end_of_day

# Monday 2027-03-15 is an ordinary working day, made a day off by this table.
MONDAY = date(2027, 3, 15)
TABLE = f"overrides:\n  - date: {MONDAY.isoformat()}\n    working: false\n    reason: thử\n"
VARIABLES = ("CALENDAR_OVERRIDES_PATH", "NOTIFIER_CALENDAR_OVERRIDES_PATH", "INTAKE_CALENDAR_OVERRIDES_PATH")


@pytest.fixture
def table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "calendar-overrides.yaml"
    path.write_text(TABLE, encoding="utf-8")
    yield path
    calendar._deployment.clear()  # the next test's composition root sets its own


def test_both_services_read_the_one_unprefixed_setting(table: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert IntakeSettings().calendar_overrides_path == NotifierSettings().calendar_overrides_path == DEFAULT_OVERRIDES
    monkeypatch.setenv("CALENDAR_OVERRIDES_PATH", str(table))
    assert IntakeSettings().calendar_overrides_path == NotifierSettings().calendar_overrides_path == table


def test_the_notifiers_old_name_is_still_read_by_both(table: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFIER_CALENDAR_OVERRIDES_PATH", str(table))
    assert IntakeSettings().calendar_overrides_path == NotifierSettings().calendar_overrides_path == table
    monkeypatch.setenv("CALENDAR_OVERRIDES_PATH", str(DEFAULT_OVERRIDES))
    assert NotifierSettings().calendar_overrides_path == DEFAULT_OVERRIDES  # the shared name wins


def test_intake_counts_working_days_by_the_configured_table(table: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from services.intake.main import create_app

    deadline = DeadlineIn(period="2027-Q1", after_receipt=AfterReceipt(days=1, working_days=True))
    friday = date(2027, 3, 12)
    assert deadline.to_contract(friday).due_at == end_of_day(MONDAY)  # the bundled table: Monday works
    monkeypatch.setenv("CALENDAR_OVERRIDES_PATH", str(table))
    create_app(IntakeSettings())  # builds no connection: the broker and the database are reached on start-up
    assert not deployment_calendar().is_working_day(MONDAY)
    assert deadline.to_contract(friday).due_at == end_of_day(date(2027, 3, 16))
