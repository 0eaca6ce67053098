"""When a cap window rolls over (the worker wakes the capped niches then)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from leadflow.domain.cap_windows import day_started

QUARTER = timedelta(minutes=15)


def test_a_day_starts_at_midnight_of_the_zone() -> None:
    midnight = datetime(2026, 12, 4, tzinfo=UTC)
    assert day_started(midnight - QUARTER, midnight, UTC)
    assert not day_started(midnight, midnight + QUARTER, UTC)
    assert not day_started(midnight - 2 * QUARTER, midnight - QUARTER, UTC)


def test_the_zone_decides_when_its_day_starts() -> None:
    new_york = ZoneInfo("America/New_York")
    local_midnight = datetime(2026, 12, 4, tzinfo=new_york)
    assert day_started(local_midnight - QUARTER, local_midnight, new_york)
    assert not day_started(local_midnight - QUARTER, local_midnight, UTC)
    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+05:30: its midnight is on a half hour of UTC
    assert day_started(
        datetime(2026, 12, 3, 18, 15, tzinfo=UTC),
        datetime(2026, 12, 3, 18, 30, tzinfo=UTC),
        kolkata,
    )
