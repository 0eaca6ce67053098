"""Money is integer cents; dollars are only for people (SPEC §5 ``price_charged``, §8 mails)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.domain.money import MAX_DEPOSIT_CENTS, cents_to_dollars, format_dollars


@pytest.mark.parametrize(
    ("cents", "dollars"),
    [
        (4900, 49.0),
        (2500, 25.0),
        (1, 0.01),
        (10, 0.1),
        (0, 0.0),
        (1999, 19.99),
        (-150, -1.5),
        (MAX_DEPOSIT_CENTS, 1_000_000_000.0),
    ],
)
def test_cents_to_dollars(cents: int, dollars: float) -> None:
    assert cents_to_dollars(cents) == dollars
    assert isinstance(cents_to_dollars(cents), float)


@pytest.mark.parametrize(
    ("cents", "text"),
    [
        (4900, "$49.00"),
        (1000, "$10.00"),
        (5, "$0.05"),
        (0, "$0.00"),
        (99, "$0.99"),
        (-150, "-$1.50"),
        (-1, "-$0.01"),
        (123_456_789, "$1,234,567.89"),
        (MAX_DEPOSIT_CENTS, "$1,000,000,000.00"),
    ],
)
def test_format_dollars(cents: int, text: str) -> None:
    assert format_dollars(cents) == text


ledger_amounts = st.integers(min_value=-(10**15), max_value=10**15)


@settings(max_examples=200)
@given(cents=ledger_amounts)
def test_dollars_are_exact_to_the_cent(cents: int) -> None:
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    # The nearest float to the decimal amount, so JSON shows e.g. 19.99, never 19.989999.
    assert cents_to_dollars(cents) == float(f"{sign}{whole}.{rest:02d}")
    assert round(cents_to_dollars(cents) * 100) == cents


@settings(max_examples=200)
@given(cents=ledger_amounts)
def test_format_dollars_reads_back_to_the_same_cents(cents: int) -> None:
    text = format_dollars(cents)
    negative = text.startswith("-")
    assert negative == (cents < 0)
    digits = text.removeprefix("-")
    assert digits.startswith("$")
    whole, _, rest = digits[1:].partition(".")
    assert len(rest) == 2
    # Thousands separators every three digits.
    groups = whole.split(",")
    assert all(len(g) == 3 for g in groups[1:]) and 1 <= len(groups[0]) <= 3
    value = int(whole.replace(",", "")) * 100 + int(rest)
    assert (-value if negative else value) == cents
