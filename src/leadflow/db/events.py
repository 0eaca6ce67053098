"""The event outbox: facts written in the transaction that caused them, dispatched later."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from leadflow.db import queries
from leadflow.db.connection import Connection
from leadflow.db.rows import record_row
from leadflow.domain.facts import Event

_SQL = queries.load("events.sql")


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    topic: str
    payload: dict[str, Any]
    attempts: int  # including the dispatch this claim starts


def payload(events: Iterable[Event]) -> Jsonb:
    """The JSON array of ``events`` that the event inserts read."""
    return Jsonb([{"topic": e.topic, "payload": dict(e.payload)} for e in events])


def record(conn: Connection, events: Sequence[Event]) -> None:
    """Write ``events`` in the caller's transaction."""
    if events:
        conn.execute(_SQL["record_events"], {"events": payload(events)})


def claim_due(conn: Connection, *, limit: int) -> list[StoredEvent]:
    """Lock up to ``limit`` due events for this transaction, oldest first."""
    with conn.cursor(row_factory=record_row(StoredEvent)) as cur:
        return cur.execute(_SQL["claim_due"], {"limit": limit}).fetchall()


def mark_dispatched(conn: Connection, event_ids: Sequence[int]) -> None:
    conn.execute(_SQL["mark_dispatched"], {"ids": list(event_ids)})


def mark_failed(conn: Connection, event_id: int, *, error: str, retry_in: int | None) -> None:
    conn.execute(_SQL["mark_failed"], {"id": event_id, "error": error[:1000], "retry_in": retry_in})


def prune_dispatched(conn: Connection, *, older_than_seconds: int) -> int:
    return conn.execute(_SQL["prune_dispatched"], {"older_than": older_than_seconds}).rowcount


def has_due(conn: Connection) -> bool:
    row = conn.execute(_SQL["has_due"]).fetchone()
    return bool(row and row["due"])


def assignment_facts(
    conn: Connection, assignment_ids: Sequence[UUID]
) -> dict[UUID, dict[str, Any]]:
    rows = conn.execute(_SQL["assignment_facts"], {"ids": list(assignment_ids)}).fetchall()
    return {row["assignment_id"]: row for row in rows}


def subscription_facts(
    conn: Connection, subscription_ids: Sequence[UUID]
) -> dict[UUID, dict[str, Any]]:
    rows = conn.execute(_SQL["subscription_facts"], {"ids": list(subscription_ids)}).fetchall()
    return {row["subscription_id"]: row for row in rows}
