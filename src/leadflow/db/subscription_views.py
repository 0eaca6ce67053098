"""SQL for the admin list of subscriptions, with their provider, level and niche by name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from leadflow.db.connection import Connection
from leadflow.db.rows import record_row
from leadflow.domain.model import SubscriptionStatus


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    id: UUID
    provider_id: UUID
    provider_name: str
    competition_level_id: UUID
    level_name: str
    niche_id: UUID
    niche_name: str
    price_per_lead_cents: int
    status: SubscriptionStatus
    last_received_at: datetime | None
    postal_codes: list[str]
    filters: list[Any]
    daily_cap: int | None
    monthly_cap: int | None
    created_at: datetime
    # Delivery rules (SPEC §12).
    schedule: dict[str, Any] | None
    hourly_cap: int | None
    weekly_cap: int | None
    daily_budget_cents: int | None
    monthly_budget_cents: int | None
    weight: int


_SELECT = """
    SELECT s.id, s.provider_id, p.name AS provider_name, s.competition_level_id,
           cl.name AS level_name, cl.niche_id, n.name AS niche_name,
           cl.price_per_lead_cents, s.status, s.last_received_at, s.postal_codes,
           s.filters, s.daily_cap, s.monthly_cap, s.created_at, s.schedule,
           s.hourly_cap, s.weekly_cap, s.daily_budget_cents, s.monthly_budget_cents,
           s.weight
    FROM subscriptions s
    JOIN providers p ON p.id = s.provider_id
    JOIN competition_levels cl ON cl.id = s.competition_level_id
    JOIN niches n ON n.id = cl.niche_id
"""
_FILTERS = """
    WHERE (%(provider)s::uuid IS NULL OR s.provider_id = %(provider)s)
      AND (%(level)s::uuid IS NULL OR s.competition_level_id = %(level)s)
      AND (%(niche)s::uuid IS NULL OR cl.niche_id = %(niche)s)
      AND (%(status)s::text IS NULL OR s.status = %(status)s)
"""
# The console's order, newest first with ties by id, read along ``ix_subscriptions_created_at_id``
# (or ``ix_subscriptions_status_created_at_id`` for one status): a deep page is read from its
# cursor, not counted off from the first row.
_OLDER = """
      AND s.created_at <= %(at)s AND (s.created_at < %(at)s OR s.id > %(id)s)
    ORDER BY s.created_at DESC, s.id LIMIT %(limit)s
"""
_NEWER = """
      AND s.created_at >= %(at)s AND (s.created_at > %(at)s OR s.id < %(id)s)
    ORDER BY s.created_at, s.id DESC LIMIT %(limit)s
"""
_FIRST = """
    ORDER BY s.created_at DESC, s.id LIMIT %(limit)s
"""


def subscription_views_from(
    conn: Connection,
    *,
    provider_id: UUID | None,
    level_id: UUID | None,
    niche_id: UUID | None,
    status: str | None,
    after: tuple[datetime, UUID] | None,
    newer: bool,
    limit: int,
) -> list[SubscriptionView]:
    """Up to ``limit`` matches next to the position ``after`` (``created_at``, ``id``; None:
    from the newest): older ones or, ``newer``, newer ones; newest first either way."""
    at, after_id = (None, None) if after is None else after
    tail = _FIRST if at is None else _NEWER if newer else _OLDER
    params = {
        "provider": provider_id,
        "level": level_id,
        "niche": niche_id,
        "status": status,
        "at": at,
        "id": after_id,
        "limit": limit,
    }
    with conn.cursor(row_factory=record_row(SubscriptionView)) as cur:
        rows = cur.execute(_SELECT + _FILTERS + tail, params).fetchall()
    return rows[::-1] if at is not None and newer else rows


def count_subscription_views(
    conn: Connection,
    *,
    provider_id: UUID | None,
    level_id: UUID | None,
    niche_id: UUID | None,
    status: str | None,
) -> int:
    """Every subscription matching the filters."""
    row = conn.execute(
        """
        SELECT count(*) AS n FROM subscriptions s
        JOIN competition_levels cl ON cl.id = s.competition_level_id
        WHERE (%(provider)s::uuid IS NULL OR s.provider_id = %(provider)s)
          AND (%(level)s::uuid IS NULL OR s.competition_level_id = %(level)s)
          AND (%(niche)s::uuid IS NULL OR cl.niche_id = %(niche)s)
          AND (%(status)s::text IS NULL OR s.status = %(status)s)
        """,
        {"provider": provider_id, "level": level_id, "niche": niche_id, "status": status},
    ).fetchone()
    assert row is not None
    return int(row["n"])


def list_subscription_views(
    conn: Connection,
    *,
    provider_id: UUID | None,
    level_id: UUID | None,
    niche_id: UUID | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[int, list[SubscriptionView]]:
    """Oldest first; the total counts every match."""
    params = {
        "provider": provider_id,
        "level": level_id,
        "niche": niche_id,
        "status": status,
        "limit": limit,
        "offset": offset,
    }
    total = conn.execute(
        """
        SELECT count(*) AS n FROM subscriptions s
        JOIN competition_levels cl ON cl.id = s.competition_level_id
        WHERE (%(provider)s::uuid IS NULL OR s.provider_id = %(provider)s)
          AND (%(level)s::uuid IS NULL OR s.competition_level_id = %(level)s)
          AND (%(niche)s::uuid IS NULL OR cl.niche_id = %(niche)s)
          AND (%(status)s::text IS NULL OR s.status = %(status)s)
        """,
        params,
    ).fetchone()
    assert total is not None
    with conn.cursor(row_factory=record_row(SubscriptionView)) as cur:
        rows = cur.execute(
            """
            SELECT s.id, s.provider_id, p.name AS provider_name, s.competition_level_id,
                   cl.name AS level_name, cl.niche_id, n.name AS niche_name,
                   cl.price_per_lead_cents, s.status, s.last_received_at, s.postal_codes,
                   s.filters, s.daily_cap, s.monthly_cap, s.created_at, s.schedule,
                   s.hourly_cap, s.weekly_cap, s.daily_budget_cents, s.monthly_budget_cents,
                   s.weight
            FROM subscriptions s
            JOIN providers p ON p.id = s.provider_id
            JOIN competition_levels cl ON cl.id = s.competition_level_id
            JOIN niches n ON n.id = cl.niche_id
            WHERE (%(provider)s::uuid IS NULL OR s.provider_id = %(provider)s)
              AND (%(level)s::uuid IS NULL OR s.competition_level_id = %(level)s)
              AND (%(niche)s::uuid IS NULL OR cl.niche_id = %(niche)s)
              AND (%(status)s::text IS NULL OR s.status = %(status)s)
            ORDER BY s.created_at, s.id LIMIT %(limit)s OFFSET %(offset)s
            """,
            params,
        ).fetchall()
    return int(total["n"]), rows
