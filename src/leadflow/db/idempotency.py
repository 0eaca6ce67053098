"""SQL for the ``Idempotency-Key`` of ``POST /leads`` (SPEC §11): a key, the SHA-256 of the
body it came with, and the first answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from leadflow.db.connection import Connection
from leadflow.db.rows import record_row

# A key answers its first request for this long; the maintenance task deletes it after.
KEEP_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    body_sha256: str
    status_code: int | None
    response: dict[str, Any] | None


def claim(conn: Connection, key: str, body_sha256: str) -> bool:
    """Take ``key`` for this transaction's request: True if it was free (or older than 24 h).

    A key held by a transaction in flight makes this wait for its end (the primary key's
    insertion lock), so of two requests at once the second finds the first's answer committed,
    or the key free again if the first was refused and rolled back."""
    row = conn.execute(
        """
        INSERT INTO intake_idempotency AS k (key, body_sha256) VALUES (%(key)s, %(sha)s)
        ON CONFLICT (key) DO UPDATE
            SET body_sha256 = EXCLUDED.body_sha256, created_at = now(), lead_id = NULL,
                status_code = NULL, response = NULL
            WHERE k.created_at <= now() - make_interval(secs => %(keep)s)
        RETURNING key
        """,
        {"key": key, "sha": body_sha256, "keep": KEEP_SECONDS},
    ).fetchone()
    return row is not None


def stored_answer(conn: Connection, key: str) -> StoredAnswer | None:
    """The committed answer of a key taken by another request (a fresh statement sees it)."""
    with conn.cursor(row_factory=record_row(StoredAnswer)) as cur:
        return cur.execute(
            """
            SELECT body_sha256, status_code, response FROM intake_idempotency
            WHERE key = %s AND created_at > now() - make_interval(secs => %s)
            """,
            (key, KEEP_SECONDS),
        ).fetchone()


def record_answer(
    conn: Connection, key: str, *, lead_id: UUID, status_code: int, response: dict[str, Any]
) -> None:
    """The first answer of a claimed key, in the transaction that stored its lead."""
    conn.execute(
        """
        UPDATE intake_idempotency SET lead_id = %s, status_code = %s, response = %s
        WHERE key = %s
        """,
        (lead_id, status_code, Jsonb(response), key),
    )


def prune(conn: Connection, *, older_than_seconds: int = KEEP_SECONDS) -> int:
    """Delete the keys older than ``older_than_seconds``; returns how many."""
    return conn.execute(
        "DELETE FROM intake_idempotency WHERE created_at <= now() - make_interval(secs => %s)",
        (older_than_seconds,),
    ).rowcount
