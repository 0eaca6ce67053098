"""SQL for reading the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from leadflow.db.connection import Connection
from leadflow.db.rows import record_row


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: UUID
    at: datetime
    actor_id: str | None
    actor_role: str
    action: str
    entity_type: str
    entity_id: str | None
    metadata: dict[str, Any]


def list_entries(
    conn: Connection,
    *,
    entity_type: str | None,
    entity_id: str | None,
    action: str | None,
    limit: int,
    offset: int,
) -> tuple[int, list[AuditRow]]:
    """Newest first, optionally narrowed by entity and action."""
    params = {
        "type": entity_type,
        "eid": entity_id,
        "action": action,
        "limit": limit,
        "offset": offset,
    }
    total_row = conn.execute(
        """
        SELECT count(*) AS n FROM audit_log
        WHERE (%(type)s::text IS NULL OR entity_type = %(type)s)
          AND (%(eid)s::text IS NULL OR entity_id = %(eid)s)
          AND (%(action)s::text IS NULL OR action = %(action)s)
        """,
        params,
    ).fetchone()
    assert total_row is not None
    with conn.cursor(row_factory=record_row(AuditRow)) as cur:
        rows = cur.execute(
            """
            SELECT id, at, actor_id, actor_role, action, entity_type, entity_id, metadata FROM audit_log
            WHERE (%(type)s::text IS NULL OR entity_type = %(type)s)
              AND (%(eid)s::text IS NULL OR entity_id = %(eid)s)
              AND (%(action)s::text IS NULL OR action = %(action)s)
            ORDER BY at DESC, id
            LIMIT %(limit)s OFFSET %(offset)s
            """,
            params,
        ).fetchall()
    return int(total_row["n"]), rows
