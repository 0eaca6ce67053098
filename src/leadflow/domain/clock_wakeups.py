"""When the clock alone may return a subscription's capacity (SPEC §11, §12): its schedule
opens, or a window one of its caps or budgets counts in rolls over, on its zone's calendar.
Pure: the instants are parameters."""

from __future__ import annotations

from datetime import datetime

from leadflow.domain.limits import Limits, window_keys
from leadflow.domain.schedule import Schedule, is_open, timezone_of


def capacity_returns(
    since: datetime, until: datetime, *, schedule: Schedule | None, limits: Limits
) -> bool:
    """Whether, between the instants ``since`` and ``until`` (aware, a few minutes apart), the
    schedule opened (closed at ``since``, open at ``until``) or a new hour, day, week or month
    began for a cap or budget that counts in it."""
    if schedule is not None and is_open(schedule, until) and not is_open(schedule, since):
        return True
    if not limits.any:
        return False
    zone = timezone_of(schedule)
    before, after = window_keys(since, zone), window_keys(until, zone)
    return (
        (limits.hourly_cap is not None and before.hour != after.hour)
        or (
            (limits.daily_cap is not None or limits.daily_budget_cents is not None)
            and before.day != after.day
        )
        or (limits.weekly_cap is not None and before.week != after.week)
        or (
            (limits.monthly_cap is not None or limits.monthly_budget_cents is not None)
            and before.month != after.month
        )
    )
