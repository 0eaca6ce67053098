"""SQL for the lead aggregate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from leadflow.db.connection import Connection
from leadflow.db.rows import record_row
from leadflow.domain.model import LeadStatus


@dataclass(frozen=True, slots=True)
class LeadRecord:
    id: UUID
    niche_id: UUID
    name: str
    email: str
    phone: str
    postal_code: str
    attributes: dict[str, Any]
    status: LeadStatus
    confirmation_token_hash: str | None
    rejection_reason: str | None
    created_at: datetime
    confirmed_at: datetime | None
    approved_at: datetime | None
    rejected_at: datetime | None
    distributed_at: datetime | None
    distribution_attempts: int
    resold_at: datetime | None
    phone_e164: str | None
    email_normalized: str | None
    duplicate_of: UUID | None
    consent: dict[str, Any] | None
    erased_at: datetime | None
    unsold_at: datetime | None
    expired_at: datetime | None


def insert_lead(
    conn: Connection,
    *,
    niche_id: UUID,
    name: str,
    email: str,
    phone: str,
    postal_code: str,
    attributes: dict[str, Any],
    status: str,
    confirmation_token_hash: str | None = None,
) -> LeadRecord:
    """Insert a lead; an ``approved`` one gets ``approved_at`` now (used for seeded backlogs)."""
    with conn.cursor(row_factory=record_row(LeadRecord)) as cur:
        cur.execute(
            """
            INSERT INTO leads (niche_id, name, email, phone, postal_code, attributes, status,
                               confirmation_token_hash, approved_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, CASE WHEN %s = 'approved' THEN now() END)
            RETURNING *
            """,
            (
                niche_id,
                name,
                email,
                phone,
                postal_code,
                Jsonb(attributes),
                status,
                confirmation_token_hash,
                status,
            ),
        )
        row = cur.fetchone()
    assert row is not None
    return row


_LEAD = "SELECT * FROM leads WHERE id = %s"
_LEAD_LOCKED = _LEAD + " FOR NO KEY UPDATE"


def get_lead(conn: Connection, lead_id: UUID, *, lock: bool = False) -> LeadRecord | None:
    """Read a lead; ``lock`` takes the row lock that serializes every change of its status."""
    query = _LEAD_LOCKED if lock else _LEAD
    with conn.cursor(row_factory=record_row(LeadRecord)) as cur:
        return cur.execute(query, (lead_id,)).fetchone()
