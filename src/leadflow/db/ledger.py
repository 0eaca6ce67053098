"""The ledger: every change of a provider balance is a posting, written by ``post`` alone.

The database applies each entry to its provider's balance (migration 0009) and refuses any
other change of a balance, so "balance = sum of the ledger" holds by construction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from leadflow.db import queries
from leadflow.db.connection import Connection
from leadflow.db.rows import record_row
from leadflow.domain.facts import Posting
from leadflow.domain.model import LedgerKind

_SQL = queries.load("ledger.sql")


@dataclass(frozen=True, slots=True)
class LedgerEntryRecord:
    id: UUID
    seq: int
    provider_id: UUID
    amount_cents: int
    balance_after_cents: int
    kind: LedgerKind
    assignment_id: UUID | None
    idempotency_key: str | None
    note: str | None
    actor_id: str | None
    created_at: datetime


def payload(postings: Iterable[Posting]) -> Jsonb:
    """The ``%(postings)s`` parameter of ``post_entries``."""
    rows = [
        {
            "provider_id": str(p.provider_id),
            "amount_cents": p.amount_cents,
            "kind": str(p.kind),
            "assignment_id": None if p.assignment_id is None else str(p.assignment_id),
            "idempotency_key": p.idempotency_key,
            "note": p.note,
            "actor_id": p.actor_id,
        }
        for p in postings
    ]
    assert len({r["provider_id"] for r in rows}) == len(rows), "one posting per provider"
    return Jsonb(rows)


def post(conn: Connection, postings: Sequence[Posting]) -> list[LedgerEntryRecord]:
    """Write ``postings`` (at most one per provider) in the caller's transaction; the balances
    move with them. Callers lock the providers first (``FOR NO KEY UPDATE``, in id order)."""
    with conn.cursor(row_factory=record_row(LedgerEntryRecord)) as cur:
        return cur.execute(_SQL["post_entries"], {"postings": payload(postings)}).fetchall()


def send_postings(conn: Connection, postings: Sequence[Posting]) -> None:
    """``post`` without waiting for its rows: on a connection in pipeline mode it goes out with
    the statements around it (the sale)."""
    conn.execute(_SQL["post_entries"], {"postings": payload(postings)})


def find_by_idempotency_key(
    conn: Connection, provider_id: UUID, key: str
) -> LedgerEntryRecord | None:
    with conn.cursor(row_factory=record_row(LedgerEntryRecord)) as cur:
        return cur.execute(_SQL["find_by_idempotency_key"], (provider_id, key)).fetchone()


def mismatches(conn: Connection) -> list[UUID]:
    """Providers whose balance is not the sum of their ledger entries (always empty, if all is well)."""
    rows: list[dict[str, Any]] = conn.execute(_SQL["mismatches"]).fetchall()
    return [row["id"] for row in rows]
