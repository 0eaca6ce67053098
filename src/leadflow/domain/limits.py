"""Caps and budgets of a subscription (SPEC §12), counted in calendar windows of its time zone.

Sales and spend are kept per subscription as a tally: for each window (hour, day, week from
Monday, month) the key of the window it was last counted in and the count (and spend) there.
A tally whose key is an earlier window than the current one counts 0; one whose key is the
current window or a later one counts as it stands (a run whose clock lags the last sale's must
not find the window empty). The one sale writer keeps the tallies with the same rule, in the
sale's transaction. Pure: the instant is a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from leadflow.domain.errors import InvalidInput
from leadflow.domain.model import SkipReason
from leadflow.domain.schedule import zone


@dataclass(frozen=True, slots=True)
class Windows:
    """The keys of the windows an instant is in: the hour by its start (epoch seconds, so the
    hour repeated in autumn is two windows), days and weeks by their ordinal (``toordinal`` of
    the day, of the week's Monday), months as ``year * 12 + month - 1``."""

    hour: int
    day: int
    week: int
    month: int


def window_keys(now: datetime, timezone: str) -> Windows:
    """The windows ``now`` is in, on the calendar of ``timezone``."""
    local = now.astimezone(zone(timezone))
    hour_start = local.replace(minute=0, second=0, microsecond=0)
    today = local.date()
    return Windows(
        hour=int(hour_start.timestamp()),
        day=today.toordinal(),
        week=(today - timedelta(days=today.weekday())).toordinal(),
        month=local.year * 12 + local.month - 1,
    )


@dataclass(frozen=True, slots=True)
class Tally:
    """A subscription's stored tally (all zero when it never sold)."""

    hour_key: int = 0
    hour_count: int = 0
    day_key: int = 0
    day_count: int = 0
    day_spend: int = 0
    week_key: int = 0
    week_count: int = 0
    month_key: int = 0
    month_count: int = 0
    month_spend: int = 0


@dataclass(frozen=True, slots=True)
class Limits:
    """A subscription's caps (sales) and budgets (cents); None = no limit."""

    hourly_cap: int | None = None
    daily_cap: int | None = None
    weekly_cap: int | None = None
    monthly_cap: int | None = None
    daily_budget_cents: int | None = None
    monthly_budget_cents: int | None = None

    @property
    def any(self) -> bool:
        return any(
            v is not None
            for v in (
                self.hourly_cap,
                self.daily_cap,
                self.weekly_cap,
                self.monthly_cap,
                self.daily_budget_cents,
                self.monthly_budget_cents,
            )
        )


class HasLimits(Protocol):
    """A stored subscription's caps and budgets, as any row that carries them."""

    @property
    def hourly_cap(self) -> int | None: ...
    @property
    def daily_cap(self) -> int | None: ...
    @property
    def weekly_cap(self) -> int | None: ...
    @property
    def monthly_cap(self) -> int | None: ...
    @property
    def daily_budget_cents(self) -> int | None: ...
    @property
    def monthly_budget_cents(self) -> int | None: ...


def limits_of(row: HasLimits) -> Limits:
    """The ``Limits`` of a row that carries a subscription's caps and budgets."""
    return Limits(
        row.hourly_cap,
        row.daily_cap,
        row.weekly_cap,
        row.monthly_cap,
        row.daily_budget_cents,
        row.monthly_budget_cents,
    )


def current(key: int, value: int, now_key: int) -> int:
    """A tally's value in the window ``now_key``: 0 when it was counted in an earlier one."""
    return value if key >= now_key else 0


def over_cap(count: int, cap: int | None) -> bool:
    """The one cap rule: a window that already has ``cap`` sales takes no more (None: no cap)."""
    return cap is not None and count >= cap


def limit_reached(
    limits: Limits, tally: Tally, windows: Windows, price_cents: int
) -> SkipReason | None:
    """``cap_reached`` when a window already has its cap of sales, ``budget_reached`` when this
    sale's price would take a window's spend past its budget, else None (caps first)."""
    caps = (
        (limits.hourly_cap, current(tally.hour_key, tally.hour_count, windows.hour)),
        (limits.daily_cap, current(tally.day_key, tally.day_count, windows.day)),
        (limits.weekly_cap, current(tally.week_key, tally.week_count, windows.week)),
        (limits.monthly_cap, current(tally.month_key, tally.month_count, windows.month)),
    )
    if any(over_cap(count, cap) for cap, count in caps):
        return SkipReason.CAP_REACHED
    budgets = (
        (limits.daily_budget_cents, current(tally.day_key, tally.day_spend, windows.day)),
        (limits.monthly_budget_cents, current(tally.month_key, tally.month_spend, windows.month)),
    )
    if any(budget is not None and spent + price_cents > budget for budget, spent in budgets):
        return SkipReason.BUDGET_REACHED
    return None


def check_limit(value: object, what: str) -> int | None:
    """A cap or budget as submitted: None (no limit) or an integer of at least 1."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"{what} must be at least 1 (or absent for no limit)")
    return value
