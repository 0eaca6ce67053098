"""SQL of a lead's erasure (statements in ``sql/erasure.sql``, SPEC §11)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from leadflow.db import queries
from leadflow.db.connection import Connection

_SQL = queries.load("erasure.sql")

# What replaces every personal field of an erased lead.
MARKER = "[erased]"


@dataclass(frozen=True, slots=True)
class Erased:
    """How many rows an erasure redacted, by kind (all zero: the lead was already erased)."""

    leads: int
    mails: int
    webhook_bodies: int
    replies: int
    idempotency_keys: int


def erase_lead(conn: Connection, lead_id: UUID) -> Erased:
    """Redact the lead and every stored copy of its personal data, unless erased already."""
    row = conn.execute(_SQL["erase_lead"], {"lead_id": lead_id, "marker": MARKER}).fetchone()
    assert row is not None, "the counts always come back"
    return Erased(**row)


def erased_at(conn: Connection, lead_id: UUID) -> tuple[bool, datetime | None]:
    """Whether the lead exists, and when it was erased (None: not erased)."""
    row = conn.execute(_SQL["lead_erased_at"], (lead_id,)).fetchone()
    return (row is not None, None if row is None else row["erased_at"])


def due_for_retention(conn: Connection, *, days: int, limit: int) -> list[UUID]:
    """The oldest leads created more than ``days`` ago and not erased, at most ``limit``."""
    rows = conn.execute(_SQL["due_for_retention"], {"days": days, "limit": limit}).fetchall()
    return [row["id"] for row in rows]
