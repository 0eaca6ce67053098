"""A small marketplace for job tests: one niche, levels, funded providers, leads."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from leadflow.db import leads
from leadflow.db.connection import Connection, transaction
from leadflow.domain.model import Actor
from leadflow.services import billing, catalog
from tests.support.work import committed

ADMIN = Actor.admin("test-admin")
_names = itertools.count()


@dataclass
class Market:
    niche_id: UUID
    niche_name: str
    level_ids: list[UUID] = field(default_factory=list)
    provider_ids: list[UUID] = field(default_factory=list)


def market(
    pool: ConnectionPool[Connection],
    *,
    providers: int = 2,
    max_recipients: int = 1,
    price_cents: int = 1000,
    balance_cents: int = 100_000,
) -> Market:
    """A niche with one level of ``max_recipients``, and funded subscribed providers."""
    n = next(_names)
    niche = committed(
        pool, catalog.create_niche, actor=ADMIN, slug=f"movers-{n}", name=f"Movers {n}"
    )
    level = committed(
        pool,
        catalog.create_level,
        actor=ADMIN,
        niche_id=niche.id,
        name="Gold",
        order_position=1,
        max_recipients=max_recipients,
        price_per_lead_cents=price_cents,
    )
    result = Market(niche_id=niche.id, niche_name=niche.name, level_ids=[level.id])
    for i in range(providers):
        provider = committed(
            pool,
            catalog.create_provider,
            actor=ADMIN,
            name=f"Provider {n}-{i}",
            email=f"p{n}-{i}@example.com",
        )
        if balance_cents:
            committed(
                pool,
                billing.deposit,
                actor=ADMIN,
                provider_id=provider.id,
                amount_cents=balance_cents,
            )
        committed(
            pool,
            catalog.create_subscription,
            actor=ADMIN,
            provider_id=provider.id,
            competition_level_id=level.id,
        )
        result.provider_ids.append(provider.id)
    return result


def lead(
    pool: ConnectionPool[Connection],
    niche_id: UUID,
    *,
    status: str = "pending_approval",
    **attrs: Any,
) -> UUID:
    """A lead in ``status``."""
    with transaction(pool) as conn:
        record = leads.insert_lead(
            conn,
            niche_id=niche_id,
            name="Jane Doe",
            email="jane@example.com",
            phone="+1 555 0100",
            postal_code="10001",
            attributes=dict(attrs),
            status=status,
        )
    return record.id
