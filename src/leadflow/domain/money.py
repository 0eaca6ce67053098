"""Money is integer cents; these turn cents into the two forms people read."""

from __future__ import annotations

from decimal import Decimal

MAX_DEPOSIT_CENTS = 100_000_000_000
# An adjustment is a correction, not a funding: at most this much either way.
MAX_ADJUSTMENT_CENTS = 1_000_000_000


def affords(balance_cents: int, price_cents: int) -> bool:
    """Whether a balance pays for a lead at this price: the one affordability rule (SPEC §3
    step 5, §8). SQL states it as ``leadflow_affords`` (migration 0009); a test keeps the two
    equal."""
    return balance_cents >= price_cents


def cents_to_dollars(cents: int) -> float:
    """49_00 -> 49.0, exact to the cent for any amount a ledger can hold."""
    return float(Decimal(cents) / 100)


def format_dollars(cents: int) -> str:
    """4900 -> '$49.00'; negative amounts keep their sign in front: '-$1.50'."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}${whole:,}.{rest:02d}"
