"""SQL for the admin's reads and partial updates of the catalog, and provider ledgers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, LiteralString, TypeVar
from uuid import UUID

from psycopg import sql
from psycopg.types.json import Jsonb

from leadflow.db.catalog import LevelRecord, NicheRecord, ProviderRecord, SubscriptionRecord
from leadflow.db.connection import Connection
from leadflow.db.ledger import LedgerEntryRecord
from leadflow.db.rows import record_row

R = TypeVar("R")

# Which columns an admin may change, per table; anything else never reaches SQL.
UPDATABLE: Mapping[str, frozenset[str]] = {
    "niches": frozenset(
        {
            "name",
            "is_active",
            "require_confirmation",
            "distribution_mode",
            "return_window_hours",
            "return_reasons",
            "auto_approve_returns_under_rate",
            "resell_returned",
            "duplicate_window_days",
            "require_consent",
            "lead_ttl_hours",
            "default_region",
        }
    ),
    "competition_levels": frozenset(
        {
            "name",
            "order_position",
            "max_recipients",
            "price_per_lead_cents",
            "is_active",
            "price_overrides",
        }
    ),
    "providers": frozenset({"name", "email", "status", "dedupe_days"}),
    "subscriptions": frozenset(
        {
            "status",
            "postal_codes",
            "filters",
            "daily_cap",
            "monthly_cap",
            "schedule",
            "hourly_cap",
            "weekly_cap",
            "daily_budget_cents",
            "monthly_budget_cents",
            "weight",
        }
    ),
}


# Columns whose values are JSON documents (sent as jsonb).
_JSON_COLUMNS = frozenset({"filters", "price_overrides", "schedule"})


def update(
    conn: Connection, table: str, row_id: UUID, changes: Mapping[str, Any], record: type[R]
) -> R | None:
    """``UPDATE table SET <changes> WHERE id``; returns the new row, None if there is none."""
    allowed = UPDATABLE[table]
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"not updatable on {table}: {sorted(unknown)}")
    values = {
        k: Jsonb(v) if k in _JSON_COLUMNS and v is not None else v for k, v in changes.items()
    }
    assignments: list[sql.Composable] = [
        sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in values
    ]
    assignments.append(sql.SQL("updated_at = now()"))
    query = sql.SQL("UPDATE {} SET {} WHERE id = {} RETURNING *").format(
        sql.Identifier(table), sql.SQL(", ").join(assignments), sql.Placeholder("_id")
    )
    with conn.cursor(row_factory=record_row(record)) as cur:
        return cur.execute(query, {**values, "_id": row_id}).fetchone()


def list_niches(conn: Connection, *, limit: int, offset: int) -> tuple[int, list[NicheRecord]]:
    total = _count(conn, "SELECT count(*) AS n FROM niches", ())
    with conn.cursor(row_factory=record_row(NicheRecord)) as cur:
        rows = cur.execute(
            "SELECT * FROM niches ORDER BY created_at, id LIMIT %s OFFSET %s", (limit, offset)
        ).fetchall()
    return total, rows


def get_level(conn: Connection, level_id: UUID, *, lock: bool = False) -> LevelRecord | None:
    query = (
        "SELECT * FROM competition_levels WHERE id = %s FOR NO KEY UPDATE"
        if lock
        else "SELECT * FROM competition_levels WHERE id = %s"
    )
    with conn.cursor(row_factory=record_row(LevelRecord)) as cur:
        return cur.execute(query, (level_id,)).fetchone()


def list_providers(
    conn: Connection, *, status: str | None, limit: int, offset: int
) -> tuple[int, list[ProviderRecord]]:
    params = {"status": status, "limit": limit, "offset": offset}
    total = _count(
        conn,
        "SELECT count(*) AS n FROM providers WHERE (%(status)s::text IS NULL OR status = %(status)s)",
        params,
    )
    with conn.cursor(row_factory=record_row(ProviderRecord)) as cur:
        rows = cur.execute(
            """
            SELECT * FROM providers WHERE (%(status)s::text IS NULL OR status = %(status)s)
            ORDER BY created_at, id LIMIT %(limit)s OFFSET %(offset)s
            """,
            params,
        ).fetchall()
    return total, rows


def provider_subscriptions(conn: Connection, provider_id: UUID) -> list[SubscriptionRecord]:
    with conn.cursor(row_factory=record_row(SubscriptionRecord)) as cur:
        return cur.execute(
            "SELECT * FROM subscriptions WHERE provider_id = %s ORDER BY created_at, id",
            (provider_id,),
        ).fetchall()


def get_subscription(
    conn: Connection, subscription_id: UUID, *, lock: bool = False
) -> SubscriptionRecord | None:
    query = (
        "SELECT * FROM subscriptions WHERE id = %s FOR NO KEY UPDATE"
        if lock
        else "SELECT * FROM subscriptions WHERE id = %s"
    )
    with conn.cursor(row_factory=record_row(SubscriptionRecord)) as cur:
        return cur.execute(query, (subscription_id,)).fetchone()


def list_ledger(
    conn: Connection, provider_id: UUID, *, limit: int, offset: int
) -> tuple[int, list[LedgerEntryRecord]]:
    """A provider's ledger, newest entry first."""
    total = _count(
        conn, "SELECT count(*) AS n FROM ledger_entries WHERE provider_id = %s", (provider_id,)
    )
    with conn.cursor(row_factory=record_row(LedgerEntryRecord)) as cur:
        rows = cur.execute(
            "SELECT * FROM ledger_entries WHERE provider_id = %s ORDER BY seq DESC LIMIT %s OFFSET %s",
            (provider_id, limit, offset),
        ).fetchall()
    return total, rows


def ledger_from(
    conn: Connection, provider_id: UUID, *, after: int | None, newer: bool, limit: int
) -> list[LedgerEntryRecord]:
    """Up to ``limit`` entries of a provider next to the position ``after`` (a ``seq``; None:
    from the newest): older ones or, ``newer``, newer ones; newest first (``seq DESC``) either
    way, along ``ix_ledger_entries_provider_id_seq``."""
    if after is None:
        query: LiteralString = (
            "SELECT * FROM ledger_entries WHERE provider_id = %(p)s ORDER BY seq DESC LIMIT %(n)s"
        )
    elif newer:
        query = (
            "SELECT * FROM ledger_entries WHERE provider_id = %(p)s AND seq > %(seq)s"
            " ORDER BY seq LIMIT %(n)s"
        )
    else:
        query = (
            "SELECT * FROM ledger_entries WHERE provider_id = %(p)s AND seq < %(seq)s"
            " ORDER BY seq DESC LIMIT %(n)s"
        )
    with conn.cursor(row_factory=record_row(LedgerEntryRecord)) as cur:
        rows = cur.execute(query, {"p": provider_id, "seq": after, "n": limit}).fetchall()
    return rows[::-1] if after is not None and newer else rows


def count_ledger(conn: Connection, provider_id: UUID) -> int:
    """Every entry of a provider."""
    return _count(
        conn, "SELECT count(*) AS n FROM ledger_entries WHERE provider_id = %s", (provider_id,)
    )


def _count(conn: Connection, query: LiteralString, params: Any) -> int:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return int(row["n"])
