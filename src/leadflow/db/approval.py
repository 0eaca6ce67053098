"""SQL for an operator's decision on a lead: approve or reject."""

from __future__ import annotations

from typing import LiteralString
from uuid import UUID

from leadflow.db.connection import Connection
from leadflow.db.leads import LeadRecord
from leadflow.db.rows import record_row


def approve(conn: Connection, lead_id: UUID) -> LeadRecord:
    """Mark a (locked) lead ``approved`` now."""
    return _update(
        conn,
        "UPDATE leads SET status = 'approved', approved_at = now() WHERE id = %s RETURNING *",
        (lead_id,),
    )


def reject(conn: Connection, lead_id: UUID, reason: str) -> LeadRecord:
    """Mark a (locked) lead ``rejected`` now, with the operator's reason; an unsold lead stops
    waiting."""
    return _update(
        conn,
        """
        UPDATE leads SET status = 'rejected', rejected_at = now(), rejection_reason = %s,
                         unsold_at = NULL
        WHERE id = %s RETURNING *
        """,
        (reason, lead_id),
    )


def _update(conn: Connection, query: LiteralString, params: tuple[object, ...]) -> LeadRecord:
    with conn.cursor(row_factory=record_row(LeadRecord)) as cur:
        row = cur.execute(query, params).fetchone()
    assert row is not None
    return row
