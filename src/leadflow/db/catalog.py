"""SQL for the catalog aggregate: niches, competition levels, providers, subscriptions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from leadflow.db.connection import Connection
from leadflow.db.rows import record_row
from leadflow.domain.model import DistributionMode, ProviderStatus, SubscriptionStatus


@dataclass(frozen=True, slots=True)
class NicheRecord:
    id: UUID
    slug: str
    name: str
    is_active: bool
    require_confirmation: bool
    distribution_mode: DistributionMode
    next_start_level_order_position: int
    lru_counter: int
    created_at: datetime
    updated_at: datetime
    return_window_hours: int
    return_reasons: list[str]
    auto_approve_returns_under_rate: Decimal | None
    resell_returned: bool
    duplicate_window_days: int
    require_consent: bool
    lead_ttl_hours: int
    default_region: str


@dataclass(frozen=True, slots=True)
class LevelRecord:
    id: UUID
    niche_id: UUID
    name: str
    order_position: int
    max_recipients: int
    price_per_lead_cents: int
    is_active: bool
    created_at: datetime
    updated_at: datetime
    price_overrides: list[Any]


@dataclass(frozen=True, slots=True)
class ProviderRecord:
    id: UUID
    name: str
    email: str
    status: ProviderStatus
    balance_cents: int
    created_at: datetime
    updated_at: datetime
    dedupe_days: int


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    id: UUID
    provider_id: UUID
    competition_level_id: UUID
    status: SubscriptionStatus
    last_received_at: datetime | None
    lru_order: int | None
    postal_codes: list[str]
    filters: list[Any]
    daily_cap: int | None
    monthly_cap: int | None
    created_at: datetime
    updated_at: datetime
    schedule: dict[str, Any] | None
    hourly_cap: int | None
    weekly_cap: int | None
    daily_budget_cents: int | None
    monthly_budget_cents: int | None
    weight: int


def insert_niche(
    conn: Connection,
    *,
    slug: str,
    name: str,
    is_active: bool,
    require_confirmation: bool,
    distribution_mode: str,
    return_window_hours: int,
    return_reasons: Sequence[str],
    auto_approve_returns_under_rate: Decimal | None,
    resell_returned: bool,
    duplicate_window_days: int,
    require_consent: bool,
    lead_ttl_hours: int,
    default_region: str,
) -> NicheRecord:
    with conn.cursor(row_factory=record_row(NicheRecord)) as cur:
        cur.execute(
            """
            INSERT INTO niches (slug, name, is_active, require_confirmation, distribution_mode,
                                return_window_hours, return_reasons,
                                auto_approve_returns_under_rate, resell_returned,
                                duplicate_window_days, require_consent, lead_ttl_hours,
                                default_region)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING *
            """,
            (
                slug,
                name,
                is_active,
                require_confirmation,
                distribution_mode,
                return_window_hours,
                list(return_reasons),
                auto_approve_returns_under_rate,
                resell_returned,
                duplicate_window_days,
                require_consent,
                lead_ttl_hours,
                default_region,
            ),
        )
        row = cur.fetchone()
    assert row is not None
    return row


def get_niche(conn: Connection, niche_id: UUID) -> NicheRecord | None:
    with conn.cursor(row_factory=record_row(NicheRecord)) as cur:
        return cur.execute("SELECT * FROM niches WHERE id = %s", (niche_id,)).fetchone()


def get_niche_by_slug(conn: Connection, slug: str) -> NicheRecord | None:
    with conn.cursor(row_factory=record_row(NicheRecord)) as cur:
        return cur.execute("SELECT * FROM niches WHERE slug = %s", (slug,)).fetchone()


def insert_level(
    conn: Connection,
    *,
    niche_id: UUID,
    name: str,
    order_position: int,
    max_recipients: int,
    price_per_lead_cents: int,
    is_active: bool,
    price_overrides: list[Any] | None = None,
) -> LevelRecord:
    with conn.cursor(row_factory=record_row(LevelRecord)) as cur:
        cur.execute(
            """
            INSERT INTO competition_levels (niche_id, name, order_position, max_recipients,
                                            price_per_lead_cents, is_active, price_overrides)
            VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING *
            """,
            (
                niche_id,
                name,
                order_position,
                max_recipients,
                price_per_lead_cents,
                is_active,
                Jsonb(price_overrides or []),
            ),
        )
        row = cur.fetchone()
    assert row is not None
    return row


def get_level(conn: Connection, level_id: UUID) -> LevelRecord | None:
    with conn.cursor(row_factory=record_row(LevelRecord)) as cur:
        return cur.execute("SELECT * FROM competition_levels WHERE id = %s", (level_id,)).fetchone()


def list_levels(conn: Connection, niche_id: UUID) -> list[LevelRecord]:
    with conn.cursor(row_factory=record_row(LevelRecord)) as cur:
        return cur.execute(
            "SELECT * FROM competition_levels WHERE niche_id = %s ORDER BY order_position",
            (niche_id,),
        ).fetchall()


def insert_provider(
    conn: Connection, *, name: str, email: str, status: str, dedupe_days: int = 30
) -> ProviderRecord:
    with conn.cursor(row_factory=record_row(ProviderRecord)) as cur:
        cur.execute(
            """
            INSERT INTO providers (name, email, status, dedupe_days) VALUES (%s, %s, %s, %s)
            RETURNING *
            """,
            (name, email, status, dedupe_days),
        )
        row = cur.fetchone()
    assert row is not None
    return row


_PROVIDER = "SELECT * FROM providers WHERE id = %s"
_PROVIDER_LOCKED = _PROVIDER + " FOR NO KEY UPDATE"


def get_provider(
    conn: Connection, provider_id: UUID, *, lock: bool = False
) -> ProviderRecord | None:
    # FOR NO KEY UPDATE: serializes balance changes without blocking FK inserts (KEY SHARE).
    query = _PROVIDER_LOCKED if lock else _PROVIDER
    with conn.cursor(row_factory=record_row(ProviderRecord)) as cur:
        return cur.execute(query, (provider_id,)).fetchone()


def insert_subscription(
    conn: Connection,
    *,
    provider_id: UUID,
    competition_level_id: UUID,
    status: str,
    postal_codes: Sequence[str],
    filters: list[Any],
    daily_cap: int | None,
    monthly_cap: int | None,
    rules: Mapping[str, Any] | None = None,
) -> SubscriptionRecord:
    """Insert a subscription; ``rules``: its delivery rules (SPEC §12) by column, validated."""
    rules = dict(rules or {})
    schedule = rules.get("schedule")
    with conn.cursor(row_factory=record_row(SubscriptionRecord)) as cur:
        cur.execute(
            """
            INSERT INTO subscriptions (provider_id, competition_level_id, status, postal_codes,
                                       filters, daily_cap, monthly_cap, schedule, hourly_cap,
                                       weekly_cap, daily_budget_cents, monthly_budget_cents,
                                       weight)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING *
            """,
            (
                provider_id,
                competition_level_id,
                status,
                list(postal_codes),
                Jsonb(filters),
                daily_cap,
                monthly_cap,
                None if schedule is None else Jsonb(schedule),
                rules.get("hourly_cap"),
                rules.get("weekly_cap"),
                rules.get("daily_budget_cents"),
                rules.get("monthly_budget_cents"),
                rules.get("weight", 1),
            ),
        )
        row = cur.fetchone()
    assert row is not None
    return row


def get_subscription(conn: Connection, subscription_id: UUID) -> SubscriptionRecord | None:
    with conn.cursor(row_factory=record_row(SubscriptionRecord)) as cur:
        return cur.execute(
            "SELECT * FROM subscriptions WHERE id = %s", (subscription_id,)
        ).fetchone()


def resume_affordable(conn: Connection, provider_id: UUID) -> list[UUID]:
    """``paused_low_balance`` subscriptions of a (locked) provider whose price is now covered
    become ``active`` again; an admin's ``paused`` stays."""
    rows = conn.execute(
        """
        UPDATE subscriptions s SET status = 'active', updated_at = now()
        FROM competition_levels l, providers p
        WHERE s.provider_id = %s AND s.status = 'paused_low_balance'
          AND l.id = s.competition_level_id AND p.id = s.provider_id
          AND leadflow_affords(p.balance_cents, l.price_per_lead_cents)
        RETURNING s.id
        """,
        (provider_id,),
    ).fetchall()
    return [row["id"] for row in rows]


def providers_of_niche(conn: Connection, niche_id: UUID) -> dict[UUID, str]:
    """Names of the providers subscribed to any level of a niche, by id."""
    rows = conn.execute(
        """
        SELECT DISTINCT p.id, p.name FROM providers p
        JOIN subscriptions s ON s.provider_id = p.id
        JOIN competition_levels l ON l.id = s.competition_level_id
        WHERE l.niche_id = %s
        """,
        (niche_id,),
    ).fetchall()
    return {row["id"]: row["name"] for row in rows}
