"""The fake clock only moves when told to, always answers in UTC, and refuses instants without an offset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.clock import VIETNAM, FakeClock, SystemClock, as_utc


def test_a_fake_clock_starts_where_it_is_told_in_utc() -> None:
    clock = FakeClock(datetime(2027, 7, 1, 8, 0, tzinfo=VIETNAM))
    assert clock.now() == datetime(2027, 7, 1, 1, 0, tzinfo=UTC)
    assert clock.now().tzinfo is UTC
    assert clock.now() == clock.now()  # it does not move by itself


def test_a_fake_clock_moves_only_when_advanced_or_set() -> None:
    clock = FakeClock(datetime(2027, 7, 1, tzinfo=UTC))
    clock.advance(timedelta(days=3, hours=2))
    assert clock.now() == datetime(2027, 7, 4, 2, 0, tzinfo=UTC)
    clock.set(datetime(2027, 12, 31, 23, 59, tzinfo=VIETNAM))
    assert clock.now() == datetime(2027, 12, 31, 16, 59, tzinfo=UTC)
    assert clock.now().tzinfo is UTC
    clock.advance(timedelta(seconds=-60))
    assert clock.now() == datetime(2027, 12, 31, 16, 58, tzinfo=UTC)


def test_a_fake_clock_needs_an_aware_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FakeClock(datetime(2027, 7, 1))


def test_setting_a_fake_clock_to_a_naive_instant_is_refused() -> None:
    clock = FakeClock(datetime(2027, 7, 1, tzinfo=UTC))
    with pytest.raises(ValueError):
        clock.set(datetime(2027, 7, 2, 8, 0))


def test_the_system_clock_is_aware_and_current() -> None:
    now = SystemClock().now()
    assert now.tzinfo is UTC
    assert abs(datetime.now(UTC) - now) < timedelta(seconds=5)


def test_as_utc_reads_naive_instants_as_utc_and_converts_aware_ones() -> None:
    assert as_utc(datetime(2027, 7, 1, 8, 0)) == datetime(2027, 7, 1, 8, 0, tzinfo=UTC)
    converted = as_utc(datetime(2027, 7, 1, 8, 0, tzinfo=VIETNAM))
    assert converted == datetime(2027, 7, 1, 1, 0, tzinfo=UTC) and converted.tzinfo is UTC
