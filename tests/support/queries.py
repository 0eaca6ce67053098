"""Read-only helpers for asserting on what the engine stored."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from leadflow.db.connection import Connection
from leadflow.services import dispatch


def rows(pool: ConnectionPool[Connection], query: str, *params: Any) -> list[dict[str, Any]]:
    with pool.connection() as conn:
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


def mails(pool: ConnectionPool[Connection], query: str, *params: Any) -> list[dict[str, Any]]:
    """``query`` over the email outbox once the dispatcher (as the worker runs it after every
    distribution) has made the mails of the events recorded so far."""
    dispatch.dispatch_due(pool, retry_delays=[0])
    return rows(pool, query, *params)


def one(pool: ConnectionPool[Connection], query: str, *params: Any) -> dict[str, Any]:
    found = rows(pool, query, *params)
    assert len(found) == 1, found
    return found[0]


def balance(pool: ConnectionPool[Connection], provider_id: UUID) -> int:
    return int(
        one(pool, "SELECT balance_cents FROM providers WHERE id = %s", provider_id)["balance_cents"]
    )


def lead(pool: ConnectionPool[Connection], lead_id: UUID) -> dict[str, Any]:
    return one(pool, "SELECT * FROM leads WHERE id = %s", lead_id)


def pointer(pool: ConnectionPool[Connection], niche_id: UUID) -> int:
    return int(
        one(
            pool, "SELECT next_start_level_order_position AS p FROM niches WHERE id = %s", niche_id
        )["p"]
    )


def counts(pool: ConnectionPool[Connection]) -> dict[str, int]:
    """Row counts of every table a distribution writes, to prove that nothing was written."""
    tables = [
        "distribution_runs",
        "lead_assignments",
        "ledger_entries",
        "audit_log",
        "email_outbox",
        "outbox_events",
    ]
    with pool.connection() as conn:
        return {t: conn.execute(f"SELECT count(*) AS n FROM {t}").fetchone()["n"] for t in tables}  # type: ignore[index]


def state(pool: ConnectionPool[Connection]) -> list[Any]:
    """A fingerprint of everything mutable, for 'nothing changed' assertions."""
    with pool.connection() as conn:
        return [
            conn.execute(q).fetchall()
            for q in (
                "SELECT id, balance_cents, status FROM providers ORDER BY id",
                "SELECT id, status, lru_order, last_received_at FROM subscriptions ORDER BY id",
                "SELECT id, status, distribution_attempts, distributed_at FROM leads ORDER BY id",
                "SELECT id, next_start_level_order_position, lru_counter FROM niches ORDER BY id",
                "SELECT count(*) FROM distribution_runs",
                "SELECT count(*) FROM lead_assignments",
                "SELECT count(*) FROM ledger_entries",
                "SELECT count(*) FROM audit_log",
                "SELECT count(*) FROM email_outbox",
                "SELECT count(*) FROM outbox_events",
            )
        ]
