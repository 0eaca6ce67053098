"""SQL for the billing aggregate: provider balances and their ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from psycopg.rows import class_row

from leadflow.db.connection import Connection


@dataclass(frozen=True, slots=True)
class LedgerEntryRecord:
    id: UUID
    seq: int
    provider_id: UUID
    amount_cents: int
    balance_after_cents: int
    kind: str
    assignment_id: UUID | None
    idempotency_key: str | None
    note: str | None
    actor_id: str | None
    created_at: datetime


def find_by_idempotency_key(
    conn: Connection, provider_id: UUID, key: str
) -> LedgerEntryRecord | None:
    with conn.cursor(row_factory=class_row(LedgerEntryRecord)) as cur:
        return cur.execute(
            "SELECT * FROM ledger_entries WHERE provider_id = %s AND idempotency_key = %s",
            (provider_id, key),
        ).fetchone()


def credit(
    conn: Connection,
    *,
    provider_id: UUID,
    amount_cents: int,
    kind: str,
    idempotency_key: str | None,
    note: str | None,
    actor_id: str | None,
) -> LedgerEntryRecord:
    """Add ``amount_cents`` to a (locked) provider's balance and write its ledger entry."""
    with conn.cursor(row_factory=class_row(LedgerEntryRecord)) as cur:
        cur.execute(
            """
            WITH updated AS (
                UPDATE providers SET balance_cents = balance_cents + %(amount)s, updated_at = now()
                WHERE id = %(provider_id)s RETURNING balance_cents
            )
            INSERT INTO ledger_entries (provider_id, amount_cents, balance_after_cents, kind,
                                        idempotency_key, note, actor_id)
            SELECT %(provider_id)s, %(amount)s, updated.balance_cents, %(kind)s, %(key)s, %(note)s, %(actor_id)s
            FROM updated
            RETURNING *
            """,
            {
                "provider_id": provider_id,
                "amount": amount_cents,
                "kind": kind,
                "key": idempotency_key,
                "note": note,
                "actor_id": actor_id,
            },
        )
        row = cur.fetchone()
    assert row is not None
    return row


def ledger_mismatches(conn: Connection) -> list[UUID]:
    """Providers whose balance is not the sum of their ledger entries (always empty, if all is well)."""
    rows = conn.execute(
        """
        SELECT p.id FROM providers p
        LEFT JOIN (SELECT provider_id, sum(amount_cents) AS total FROM ledger_entries GROUP BY provider_id) l
               ON l.provider_id = p.id
        WHERE p.balance_cents <> COALESCE(l.total, 0) OR p.balance_cents < 0
        """
    ).fetchall()
    return [row["id"] for row in rows]
