"""Audit log rows: who did what to which entity."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from psycopg.types.json import Jsonb

from leadflow.db.connection import Connection
from leadflow.domain.model import Actor


@dataclass(frozen=True, slots=True)
class AuditEntry:
    action: str
    entity_type: str
    entity_id: str | None
    metadata: Mapping[str, Any] = field(default_factory=dict)


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


def record_many(conn: Connection, actor: Actor, entries: Iterable[AuditEntry]) -> None:
    """Write several audit rows of one actor in one round trip."""
    rows = list(entries)
    if not rows:
        return
    conn.execute(
        """
        INSERT INTO audit_log (actor_id, actor_role, action, entity_type, entity_id, metadata)
        SELECT %(actor_id)s, %(actor_role)s, a, t, i, m
        FROM unnest(%(actions)b::text[], %(types)b::text[], %(ids)b::text[], %(metas)b::jsonb[]) AS x(a, t, i, m)
        """,
        {
            "actor_id": actor.id,
            "actor_role": str(actor.role),
            "actions": [r.action for r in rows],
            "types": [r.entity_type for r in rows],
            "ids": [r.entity_id for r in rows],
            "metas": [Jsonb(dict(r.metadata)) for r in rows],
        },
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)
