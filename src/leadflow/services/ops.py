"""Operational reads: the schema revision the database is at."""

from __future__ import annotations

from psycopg_pool import ConnectionPool

from leadflow.db import ops
from leadflow.db.connection import Connection, transaction


def current_revision(pool: ConnectionPool[Connection]) -> str | None:
    with transaction(pool) as conn:
        return ops.schema_revision(conn)
