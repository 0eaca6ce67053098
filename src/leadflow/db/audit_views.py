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


_COLUMNS = "SELECT id, at, actor_id, actor_role, action, entity_type, entity_id, metadata"
_FILTERS = """
    FROM audit_log
    WHERE (%(type)s::text IS NULL OR entity_type = %(type)s)
      AND (%(eid)s::text IS NULL OR entity_id = %(eid)s)
      AND (%(action)s::text IS NULL OR action = %(action)s)
"""
# Next to a cursor: the older rows, or the newer ones read upwards (then turned round).
_OLDER = """
      AND at <= %(at)s AND (at < %(at)s OR id > %(id)s)
    ORDER BY at DESC, id LIMIT %(limit)s
"""
_NEWER = """
      AND at >= %(at)s AND (at > %(at)s OR id < %(id)s)
    ORDER BY at, id DESC LIMIT %(limit)s
"""
_FIRST = " ORDER BY at DESC, id LIMIT %(limit)s"


def _filters(entity_type: str | None, entity_id: str | None, action: str | None) -> dict[str, Any]:
    return {"type": entity_type, "eid": entity_id, "action": action}


def count_entries(
    conn: Connection, *, entity_type: str | None, entity_id: str | None, action: str | None
) -> int:
    row = conn.execute(
        "SELECT count(*) AS n" + _FILTERS, _filters(entity_type, entity_id, action)
    ).fetchone()
    assert row is not None
    return int(row["n"])


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
    params = {**_filters(entity_type, entity_id, action), "limit": limit, "offset": offset}
    total = count_entries(conn, entity_type=entity_type, entity_id=entity_id, action=action)
    with conn.cursor(row_factory=record_row(AuditRow)) as cur:
        rows = cur.execute(
            _COLUMNS + _FILTERS + " ORDER BY at DESC, id LIMIT %(limit)s OFFSET %(offset)s",
            params,
        ).fetchall()
    return total, rows


def entries_from(
    conn: Connection,
    *,
    entity_type: str | None,
    entity_id: str | None,
    action: str | None,
    after: tuple[datetime, UUID] | None,
    newer: bool,
    limit: int,
) -> list[AuditRow]:
    """Up to ``limit`` entries next to the cursor ``after`` (``created_at``, ``id``) in the list's
    order (newest first): the older ones, or with ``newer`` the newer ones; no cursor, the
    first."""
    at, after_id = (None, None) if after is None else after
    tail = _FIRST if at is None else _NEWER if newer else _OLDER
    params = {**_filters(entity_type, entity_id, action), "at": at, "id": after_id}
    with conn.cursor(row_factory=record_row(AuditRow)) as cur:
        rows = cur.execute(_COLUMNS + _FILTERS + tail, {**params, "limit": limit}).fetchall()
    return rows[::-1] if at is not None and newer else rows
