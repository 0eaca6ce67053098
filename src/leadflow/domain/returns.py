"""Returns (SPEC §9): the return window, the reasons a niche accepts, auto-approval. Pure."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from leadflow.domain.errors import InvalidInput

DEFAULT_RETURN_WINDOW_HOURS = 72
DEFAULT_RETURN_REASONS = ("bad_contact", "duplicate", "out_of_area", "not_interested", "other")
MAX_RETURN_WINDOW_HOURS = 24 * 366
MAX_REASONS = 20
REASON = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# Auto-approval looks at this much of a provider's history in the niche.
AUTO_APPROVAL_PERIOD = timedelta(days=30)
RATE_PLACES = Decimal("0.0001")


def check_window_hours(hours: int) -> int:
    if isinstance(hours, bool) or not 0 <= hours <= MAX_RETURN_WINDOW_HOURS:
        raise InvalidInput(f"return_window_hours must be 0..{MAX_RETURN_WINDOW_HOURS}")
    return hours


def clean_reasons(reasons: Sequence[str]) -> list[str]:
    """The niche's reasons as given (order kept), each a short snake_case word, no repeats."""
    if not 1 <= len(reasons) <= MAX_REASONS:
        raise InvalidInput(f"return_reasons must list 1..{MAX_REASONS} reasons")
    if any(not REASON.match(r) for r in reasons):
        raise InvalidInput("each return reason must be lowercase letters, digits and _ (1..40)")
    if len(set(reasons)) != len(reasons):
        raise InvalidInput("return_reasons must not repeat a reason")
    return list(reasons)


def clean_rate(rate: float | Decimal | None) -> Decimal | None:
    """A share 0..1 kept to four decimal places; None = never approved automatically."""
    if rate is None:
        return None
    if isinstance(rate, bool):
        raise InvalidInput("auto_approve_returns_under_rate must be a number 0..1")
    value = Decimal(str(rate))
    if not value.is_finite() or not Decimal(0) <= value <= Decimal(1):
        raise InvalidInput("auto_approve_returns_under_rate must be a number 0..1")
    return value.quantize(RATE_PLACES)


def within_window(assigned_at: datetime, now: datetime, window_hours: int) -> bool:
    """Whether a sale made at ``assigned_at`` may still be returned at ``now``; 0 = never."""
    return window_hours > 0 and now <= assigned_at + timedelta(hours=window_hours)


def auto_approvable(*, approved: int, assignments: int, rate: Decimal | None) -> bool:
    """A request is approved at once when the provider's approved returns in the niche over
    the period are below ``rate`` of its assignments there (the request's own sale counts as
    one of them even when it is older than the period)."""
    if rate is None:
        return False
    return Decimal(approved) < rate * max(assignments, 1)
