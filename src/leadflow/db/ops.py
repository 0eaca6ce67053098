"""SQL for operational reads."""

from __future__ import annotations

from leadflow.db.connection import Connection


def schema_revision(conn: Connection) -> str | None:
    """The Alembic revision the database is at."""
    row = conn.execute("SELECT version_num FROM alembic_version LIMIT 1").fetchone()
    return None if row is None else str(row["version_num"])
