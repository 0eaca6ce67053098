"""Return rules (SPEC §9): the window, the niche's reasons and rate, auto-approval. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow.domain.errors import InvalidInput
from leadflow.domain.returns import (
    DEFAULT_RETURN_REASONS,
    auto_approvable,
    check_window_hours,
    clean_rate,
    clean_reasons,
    within_window,
)

SOLD = datetime(2026, 12, 1, 12, tzinfo=UTC)


def test_the_window_includes_its_last_moment_and_zero_means_never() -> None:
    assert within_window(SOLD, SOLD + timedelta(hours=72), 72)
    assert not within_window(SOLD, SOLD + timedelta(hours=72, microseconds=1), 72)
    assert not within_window(SOLD, SOLD, 0)


@pytest.mark.parametrize("hours", [-1, 24 * 366 + 1, True])
def test_window_hours_out_of_range_are_refused(hours: int) -> None:
    with pytest.raises(InvalidInput):
        check_window_hours(hours)


@pytest.mark.parametrize(
    "reasons", [[], ["Bad"], ["a b"], ["other", "other"], ["x" * 41], ["r"] * 21]
)
def test_bad_reason_lists_are_refused(reasons: list[str]) -> None:
    with pytest.raises(InvalidInput):
        clean_reasons(reasons)


def test_default_reasons_are_valid() -> None:
    assert clean_reasons(list(DEFAULT_RETURN_REASONS)) == list(DEFAULT_RETURN_REASONS)


@pytest.mark.parametrize("rate", [-0.01, 1.01, float("nan"), float("inf"), True])
def test_rates_outside_0_1_are_refused(rate: float) -> None:
    with pytest.raises(InvalidInput):
        clean_rate(rate)


def test_a_rate_is_kept_to_four_places() -> None:
    assert clean_rate(0.1) == Decimal("0.1000")
    assert clean_rate(None) is None


def test_auto_approval_follows_the_rate() -> None:
    rate = Decimal("0.10")
    assert auto_approvable(approved=0, assignments=10, rate=rate)
    assert not auto_approvable(approved=1, assignments=10, rate=rate)
    assert auto_approvable(approved=1, assignments=11, rate=rate)
    assert not auto_approvable(approved=0, assignments=10, rate=Decimal(0))
    assert not auto_approvable(approved=0, assignments=10, rate=None)
    # A sale older than the period still counts as one: a first return under any rate > 0.
    assert auto_approvable(approved=0, assignments=0, rate=rate)


@given(assignments=st.integers(1, 1000), rate=st.decimals(0, 1, places=4))
def test_auto_approval_approves_at_most_the_rate_of_the_assignments(
    assignments: int, rate: Decimal
) -> None:
    """Requests approved at once, one after another, stop at the first count reaching
    ``rate * assignments``: never more than the niche's share (rounded up)."""
    approved = 0
    while auto_approvable(approved=approved, assignments=assignments, rate=rate):
        approved += 1
    assert approved - 1 < rate * assignments <= approved
