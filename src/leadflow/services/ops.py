"""Operational reads: the schema revision the database is at."""

from __future__ import annotations

from leadflow.db import ops
from leadflow.db.connection import Connection


def current_revision(tx: Connection) -> str | None:
    return ops.schema_revision(tx)
