"""Audit log rows: who did what to which entity."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from psycopg.types.json import Jsonb

from leadflow.db.connection import Connection
from leadflow.domain.facts import AuditEntry
from leadflow.domain.model import Actor

__all__ = ["AuditEntry", "payload", "record", "record_many"]


def record(
    conn: Connection,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: object,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Write one audit row in the caller's transaction."""
    record_many(conn, actor, [AuditEntry(action, entity_type, _text(entity_id), metadata or {})])


# Rows from one JSON array parameter, ``%(audit)s`` (``payload``): one value to send however
# many rows.
_INSERT_FROM_PAYLOAD = """
    INSERT INTO audit_log (actor_id, actor_role, action, entity_type, entity_id, metadata)
    SELECT x.actor_id, x.actor_role, x.action, x.entity_type, x.entity_id, x.metadata
    FROM jsonb_to_recordset(%(audit)s::jsonb)
         AS x(actor_id text, actor_role text, action text, entity_type text, entity_id text,
              metadata jsonb)
"""


def payload(actor: Actor, entries: Iterable[AuditEntry]) -> Jsonb:
    """The ``%(audit)s`` parameter of ``INSERT_FROM_PAYLOAD``: ``entries`` by ``actor``."""
    role = str(actor.role)
    return Jsonb(
        [
            {
                "actor_id": actor.id,
                "actor_role": role,
                "action": e.action,
                "entity_type": e.entity_type,
                "entity_id": e.entity_id,
                "metadata": dict(e.metadata),
            }
            for e in entries
        ]
    )


def record_many(conn: Connection, actor: Actor, entries: Iterable[AuditEntry]) -> None:
    """Write several audit rows of one actor in one round trip."""
    rows = list(entries)
    if rows:
        conn.execute(_INSERT_FROM_PAYLOAD, {"audit": payload(actor, rows)})


def _text(value: object) -> str | None:
    return None if value is None else str(value)
