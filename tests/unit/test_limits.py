"""Caps and budgets (SPEC §12): calendar windows of a zone, tallies, and where they stop a sale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leadflow.domain.limits import Limits, Tally, Windows, limit_reached, window_keys
from leadflow.domain.model import SkipReason

NY = "America/New_York"


def test_a_local_day_ends_at_local_midnight() -> None:
    last = datetime.fromisoformat("2026-12-07T23:59:59-05:00")
    first = datetime.fromisoformat("2026-12-08T00:00:00-05:00")
    a, b = window_keys(last, NY), window_keys(first, NY)
    assert b.day == a.day + 1
    assert b.hour == a.hour + 3600
    assert a.week == b.week  # Monday and Tuesday: one week
    assert a.month == b.month
    # In UTC both instants are the same day (04:59:59 and 05:00:00 on the 8th).
    assert window_keys(last, "UTC").day == window_keys(first, "UTC").day


def test_weeks_start_on_monday_and_months_on_the_first() -> None:
    sunday = datetime.fromisoformat("2026-12-06T23:59:59-05:00")
    monday = sunday + timedelta(seconds=1)
    assert window_keys(monday, NY).week == window_keys(sunday, NY).week + 7
    end_of_month = datetime.fromisoformat("2026-12-31T23:59:59-05:00")
    new_year = end_of_month + timedelta(seconds=1)
    assert window_keys(new_year, NY).month == window_keys(end_of_month, NY).month + 1


def test_the_repeated_autumn_hour_is_two_hourly_windows() -> None:
    first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    second = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST
    assert window_keys(second, NY).hour == window_keys(first, NY).hour + 3600
    assert window_keys(second, NY).day == window_keys(first, NY).day


def _tally(w: Windows, count: int, spend: int) -> Tally:
    return Tally(w.hour, count, w.day, count, spend, w.week, count, w.month, count, spend)


def test_caps_stop_at_the_cap_and_budgets_before_the_price_passes_them() -> None:
    now = datetime(2026, 12, 7, 15, tzinfo=UTC)
    w = window_keys(now, "UTC")
    assert limit_reached(Limits(hourly_cap=2), _tally(w, 1, 100), w, 100) is None
    assert limit_reached(Limits(hourly_cap=2), _tally(w, 2, 200), w, 100) is SkipReason.CAP_REACHED
    assert limit_reached(Limits(weekly_cap=2), _tally(w, 2, 200), w, 100) is SkipReason.CAP_REACHED
    budget = Limits(daily_budget_cents=300)
    assert limit_reached(budget, _tally(w, 2, 200), w, 100) is None  # exactly the budget
    assert limit_reached(budget, _tally(w, 2, 200), w, 101) is SkipReason.BUDGET_REACHED
    monthly = Limits(monthly_budget_cents=1000, daily_cap=5)
    assert limit_reached(monthly, _tally(w, 5, 200), w, 900) is SkipReason.CAP_REACHED


def test_a_tally_of_an_earlier_window_counts_zero_and_of_a_later_one_counts_in_full() -> None:
    evening = datetime.fromisoformat("2026-12-07T23:59:59-05:00")
    midnight = datetime.fromisoformat("2026-12-08T00:00:00-05:00")
    yesterday, today = window_keys(evening, NY), window_keys(midnight, NY)
    capped = Limits(daily_cap=1, daily_budget_cents=100)
    assert limit_reached(capped, _tally(yesterday, 1, 100), yesterday, 100) is (
        SkipReason.CAP_REACHED
    )
    assert limit_reached(capped, _tally(yesterday, 1, 100), today, 100) is None
    # A run whose clock lags the last sale's never finds the window empty.
    assert limit_reached(capped, _tally(today, 1, 100), yesterday, 100) is (SkipReason.CAP_REACHED)
