"""The demo marketplace: a movers niche with three levels and a dozen providers, some with
delivery rules (a weight, business hours, an hourly cap and a daily budget).

Used by ``leadflow demo`` (a batch of leads through the engine) and ``leadflow up --demo``.
Seeding is idempotent per slug: an existing niche is reused as it is.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from leadflow.db import audit, leads
from leadflow.db import catalog as catalog_db
from leadflow.db.connection import Connection
from leadflow.domain.model import Actor, LeadStatus
from leadflow.services import billing, catalog

LEVELS = (("Gold", 1, 4900), ("Silver", 3, 2500), ("Bronze", 5, 1000))
POSTAL_CODES = ("10001", "10002", "10003", "10004", "10005")
# name, balance in cents, levels (order positions), postal codes (empty = everywhere), extras
PROVIDERS: tuple[tuple[str, int, tuple[int, ...], tuple[str, ...], dict[str, Any]], ...] = (
    # The biggest buyer pays for a bigger share: its levels are served by weighted rotation.
    ("Atlas Movers", 500_000, (1, 2, 3), (), {"weight": 3}),
    # Takes leads in business hours only (New York time); outside them it is skipped.
    (
        "Brooklyn Haulers",
        250_000,
        (1, 2),
        ("10001", "10002", "10003"),
        {
            "schedule": {
                "timezone": "America/New_York",
                "hours": {day: [["08:00", "20:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
            }
        },
    ),
    ("City Van Lines", 120_000, (1, 3), (), {}),
    ("Downtown Dolly", 15_000, (1,), ("10001", "10004"), {}),
    ("Empire Relocation", 300_000, (2, 3), (), {"hourly_cap": 20, "daily_budget_cents": 60_000}),
    ("Fast Box Co", 40_000, (2,), ("10002", "10003", "10004", "10005"), {}),
    ("Green Moves", 90_000, (2, 3), (), {"filters": [{"field": "rooms", "op": "gte", "value": 2}]}),
    ("Harbor Freight Movers", 8_000, (2, 3), (), {}),
    ("Island Carriers", 60_000, (3,), ("10001", "10002", "10003", "10004", "10005"), {}),
    ("Jolly Lifters", 25_000, (3,), (), {"daily_cap": 25}),
    ("Kings Transfer", 5_000, (3,), ("10003", "10005"), {}),
    ("Liberty Lift", 200_000, (2, 3), (), {}),
)


@dataclass
class DemoMarketplace:
    niche_id: UUID
    niche_name: str
    levels: dict[UUID, str] = field(default_factory=dict)
    providers: dict[UUID, str] = field(default_factory=dict)


def seed(tx: Connection, *, actor: Actor, slug: str = "movers") -> DemoMarketplace:
    """Create the demo niche, levels, funded providers and subscriptions (or reuse them)."""
    existing = catalog_db.get_niche_by_slug(tx, slug)
    if existing is not None:
        return _describe(tx, existing.id, existing.name)
    niche = catalog.create_niche(tx, actor=actor, slug=slug, name="Movers")
    levels = [
        catalog.create_level(
            tx,
            actor=actor,
            niche_id=niche.id,
            name=name,
            order_position=position,
            max_recipients=max_recipients,
            price_per_lead_cents=price,
        )
        for position, (name, max_recipients, price) in enumerate(LEVELS, start=1)
    ]
    for name, balance, positions, codes, extras in PROVIDERS:
        email = name.lower().replace(" ", ".") + "@movers.example"
        provider = catalog.create_provider(tx, actor=actor, name=name, email=email)
        billing.deposit(
            tx,
            actor=actor,
            provider_id=provider.id,
            amount_cents=balance,
            note="demo opening balance",
        )
        for position in positions:
            catalog.create_subscription(
                tx,
                actor=actor,
                provider_id=provider.id,
                competition_level_id=levels[position - 1].id,
                postal_codes=codes,
                **extras,
            )
    return _describe(tx, niche.id, niche.name)


def random_lead(rng: random.Random, n: int) -> dict[str, Any]:
    """Contact details and attributes of a plausible demo lead."""
    return {
        "name": f"Demo Customer {n}",
        "email": f"customer{n}@example.com",
        "phone": f"+1212{rng.randrange(2 * 10**6, 10**7)}",
        "postal_code": rng.choice(POSTAL_CODES),
        "attributes": {
            "rooms": rng.randint(1, 6),
            "move_date": f"2026-12-{rng.randint(1, 28):02d}",
        },
    }


def add_approved_leads(
    tx: Connection,
    *,
    actor: Actor,
    niche_id: UUID,
    count: int,
    rng: random.Random,
) -> list[UUID]:
    """A backlog of already approved leads (as if an operator had approved them)."""
    ids = [
        leads.insert_lead(
            tx, niche_id=niche_id, status=LeadStatus.APPROVED, **random_lead(rng, n)
        ).id
        for n in range(1, count + 1)
    ]
    audit.record_many(
        tx,
        actor,
        [audit.AuditEntry("lead.approved", "lead", str(i), {"demo": True}) for i in ids],
    )
    return ids


def _describe(conn: Connection, niche_id: UUID, niche_name: str) -> DemoMarketplace:
    market = DemoMarketplace(niche_id=niche_id, niche_name=niche_name)
    for level in catalog_db.list_levels(conn, niche_id):
        market.levels[level.id] = level.name
    market.providers = catalog_db.providers_of_niche(conn, niche_id)
    return market
