"""Builders for test marketplaces, through the real services (and SQL only for lead backlog)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from leadflow.db import leads
from leadflow.db.catalog import LevelRecord, NicheRecord
from leadflow.db.connection import Connection, transaction
from leadflow.domain.model import Actor
from leadflow.services import billing, catalog
from tests.support.work import committed

ADMIN = Actor.admin("test-admin")
_seq = itertools.count(1)


@dataclass
class Market:
    """A niche, its levels, and providers (by name) with their subscriptions."""

    pool: ConnectionPool[Connection]
    niche: NicheRecord
    levels: list[LevelRecord]
    providers: dict[str, UUID] = field(default_factory=dict)
    subscriptions: dict[tuple[str, int], UUID] = field(default_factory=dict)

    def level(self, order_position: int) -> LevelRecord:
        return next(lv for lv in self.levels if lv.order_position == order_position)

    def add_provider(
        self,
        name: str,
        *,
        balance_cents: int,
        levels: Sequence[int] = (),
        postal_codes: Sequence[str] = (),
        filters: list[Any] | None = None,
        daily_cap: int | None = None,
        monthly_cap: int | None = None,
        **rules: Any,
    ) -> UUID:
        """Add (or reuse) a provider and subscribe it to ``levels``; ``rules``: the delivery
        rules of its subscriptions (SPEC §12: ``schedule``, ``weight``, more caps, budgets)."""
        provider_id = self.providers.get(name)
        if provider_id is None:
            provider = committed(
                self.pool,
                catalog.create_provider,
                actor=ADMIN,
                name=name,
                email=f"{name}@example.com",
            )
            provider_id = self.providers[name] = provider.id
            if balance_cents:
                committed(
                    self.pool,
                    billing.deposit,
                    actor=ADMIN,
                    provider_id=provider_id,
                    amount_cents=balance_cents,
                )
        for position in levels:
            sub = committed(
                self.pool,
                catalog.create_subscription,
                actor=ADMIN,
                provider_id=provider_id,
                competition_level_id=self.level(position).id,
                postal_codes=postal_codes,
                filters=filters,
                daily_cap=daily_cap,
                monthly_cap=monthly_cap,
                **rules,
            )
            self.subscriptions[(name, position)] = sub.id
        return provider_id

    def name_of(self, provider_id: UUID) -> str:
        return next(name for name, pid in self.providers.items() if pid == provider_id)

    def lead(
        self,
        *,
        postal_code: str = "10001",
        attributes: dict[str, Any] | None = None,
        status: str = "approved",
    ) -> UUID:
        with transaction(self.pool) as conn:
            lead = leads.insert_lead(
                conn,
                niche_id=self.niche.id,
                name="Pat Lead",
                email="pat@example.com",
                phone="+15555550100",
                postal_code=postal_code,
                attributes=attributes or {},
                status=status,
            )
        return lead.id


def market(
    pool: ConnectionPool[Connection],
    levels: Sequence[tuple[str, int, int]] = (
        ("Gold", 1, 4900),
        ("Silver", 3, 2500),
        ("Bronze", 5, 1000),
    ),
    *,
    mode: str = "all_levels",
    inactive: Sequence[int] = (),
) -> Market:
    """A niche whose levels are ``(name, max_recipients, price_cents)`` at positions 1, 2, 3..."""
    n = next(_seq)
    niche = committed(
        pool,
        catalog.create_niche,
        actor=ADMIN,
        slug=f"niche-{n}",
        name=f"Niche {n}",
        distribution_mode=mode,
    )
    records = [
        committed(
            pool,
            catalog.create_level,
            actor=ADMIN,
            niche_id=niche.id,
            name=name,
            order_position=position,
            max_recipients=max_recipients,
            price_per_lead_cents=price,
            is_active=position not in inactive,
        )
        for position, (name, max_recipients, price) in enumerate(levels, start=1)
    ]
    return Market(pool=pool, niche=niche, levels=records)
