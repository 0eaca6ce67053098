"""When the clock alone may return capacity: a schedule opening, a cap or budget window rolling
over in the subscription's zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from leadflow.domain.clock_wakeups import capacity_returns
from leadflow.domain.limits import Limits
from leadflow.domain.schedule import parse_schedule

STEP = timedelta(minutes=5)
NEW_YORK = ZoneInfo("America/New_York")
NINE_TO_FIVE = parse_schedule(
    {"timezone": "America/New_York", "hours": {"fri": [["09:00", "17:00"]]}}
)


def returns(until: datetime, **kwargs: object) -> bool:
    kwargs.setdefault("schedule", None)
    kwargs.setdefault("limits", Limits())
    return capacity_returns(until - STEP, until, **kwargs)  # type: ignore[arg-type]


def test_a_schedule_opening_returns_capacity_once() -> None:
    opening = datetime(2026, 12, 4, 9, 0, tzinfo=NEW_YORK)  # a Friday
    assert returns(opening, schedule=NINE_TO_FIVE)
    assert not returns(opening + STEP, schedule=NINE_TO_FIVE)
    assert not returns(opening - STEP, schedule=NINE_TO_FIVE)
    # Saturday stays closed.
    assert not returns(opening + timedelta(days=1), schedule=NINE_TO_FIVE)


def test_no_rule_no_wakeup() -> None:
    assert not returns(datetime(2026, 12, 4, tzinfo=UTC))


def test_windows_roll_over_in_the_zone_of_the_subscription() -> None:
    utc_midnight = datetime(2026, 12, 4, tzinfo=UTC)
    daily = Limits(daily_cap=5)
    assert returns(utc_midnight, limits=daily)
    assert not returns(utc_midnight + STEP, limits=daily)
    # With a New York schedule the day begins at New York's midnight.
    ny_midnight = datetime(2026, 12, 4, tzinfo=NEW_YORK)
    assert not returns(utc_midnight, limits=daily, schedule=NINE_TO_FIVE)
    assert returns(ny_midnight, limits=daily, schedule=NINE_TO_FIVE)
    assert returns(ny_midnight, limits=Limits(daily_budget_cents=1000), schedule=NINE_TO_FIVE)


def test_each_cap_rolls_with_its_own_window() -> None:
    hour = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)  # a Thursday
    assert returns(hour, limits=Limits(hourly_cap=1))
    assert not returns(hour, limits=Limits(daily_cap=1))
    monday = datetime(2026, 12, 7, tzinfo=UTC)
    assert returns(monday, limits=Limits(weekly_cap=1))
    assert not returns(monday + timedelta(days=1), limits=Limits(weekly_cap=1))
    first = datetime(2027, 1, 1, tzinfo=UTC)
    assert returns(first, limits=Limits(monthly_budget_cents=100))
    assert not returns(datetime(2026, 12, 31, tzinfo=UTC), limits=Limits(monthly_cap=1))
