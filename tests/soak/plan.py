"""The soak's marketplace and traffic, as data: niches, levels, providers, leads, deposits.

Balances start small and leads cost more per second than deposits bring in, so providers
keep running low (paused for low balance, skipped) and coming back with the next deposit;
one postal code no provider covers gives ``no_eligible`` runs on purpose.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Level:
    name: str
    max_recipients: int
    price_cents: int


@dataclass(frozen=True, slots=True)
class Niche:
    slug: str
    mode: str
    levels: tuple[Level, ...]


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    # (niche slug, level name) pairs it subscribes to.
    subscriptions: tuple[tuple[str, str], ...]
    postal_codes: tuple[str, ...] = ()


NICHES = (
    Niche("movers", "all_levels", (Level("Gold", 2, 300), Level("Silver", 2, 150))),
    Niche("solar", "first_level", (Level("Premium", 1, 500), Level("Basic", 1, 250))),
    Niche("roofing", "all_levels", (Level("Local", 1, 200),)),
)
PROVIDERS = (
    Provider("Movers One", (("movers", "Gold"),)),
    Provider("Movers Two", (("movers", "Gold"), ("movers", "Silver"))),
    Provider("Movers Three", (("movers", "Gold"),)),
    Provider("Movers Four", (("movers", "Silver"),)),
    Provider("Movers Five", (("movers", "Silver"),)),
    Provider("Solar One", (("solar", "Premium"),)),
    Provider("Solar Two", (("solar", "Premium"), ("solar", "Basic"))),
    Provider("Solar Three", (("solar", "Basic"),)),
    Provider("Roofing One", (("roofing", "Local"),), ("10001", "10002")),
    Provider("Roofing Two", (("roofing", "Local"),), ("10001",)),
)
START_BALANCE_CENTS = 2_000
DEPOSIT_AMOUNTS = (500, 1_000, 2_000, 3_000)
# 94105 is covered by nobody in roofing: those leads end no_eligible.
POSTAL_CODES = ("10001", "10002", "94105")


def lead_body(seq: int) -> dict[str, Any]:
    """The ``seq``-th lead of the run; ``attributes.seq`` ties the stored row to its request."""
    return {
        "niche": NICHES[seq % len(NICHES)].slug,
        "name": f"Soak Lead {seq}",
        "email": f"lead{seq}@example.com",
        "phone": f"+1 212 {2_000_000 + seq:07d}",
        "postal_code": POSTAL_CODES[(seq // len(NICHES)) % len(POSTAL_CODES)],
        "attributes": {"seq": seq},
    }


@dataclass(frozen=True, slots=True)
class Deposit:
    key: str
    provider: int  # index into PROVIDERS
    amount_cents: int


def deposits(rng: random.Random) -> Iterator[Deposit]:
    """An endless stream of deposits to random providers, each with its own idempotency key."""
    n = 0
    while True:
        yield Deposit(
            f"soak-deposit-{n}", rng.randrange(len(PROVIDERS)), rng.choice(DEPOSIT_AMOUNTS)
        )
        n += 1
