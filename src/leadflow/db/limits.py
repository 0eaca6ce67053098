"""SQL for fixed-window rate-limit counters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import sql

from leadflow.db.connection import Connection


@dataclass(frozen=True, slots=True)
class Hit:
    """One hit to count for ``key``, refused once its window holds ``limit`` hits."""

    key: str
    limit: int
    window_seconds: int


# A hit as a data-modifying CTE of the caller's statement, which adds ``FROM ...`` (no row
# there: nothing counted). Counts one hit in the key's current window unless the window already
# holds %(hit_limit)s hits, and returns the new count: no row means refused, and a refused hit
# is not counted. The row stays locked until the transaction ends, so concurrent hits are
# counted exactly.
HIT_UNDER_LIMIT = sql.SQL("""
    INSERT INTO rate_limit_windows AS w (key, window_start, hits)
    SELECT %(hit_key)s,
           to_timestamp(floor(extract(epoch FROM now()) / %(hit_window)s) * %(hit_window)s), 1
    {source}
    ON CONFLICT (key, window_start) DO UPDATE SET hits = w.hits + 1 WHERE w.hits < %(hit_limit)s
    RETURNING hits
""")


def hit_params(hit: Hit | None) -> dict[str, Any]:
    """The parameters of ``HIT_UNDER_LIMIT``; all None when there is no limit."""
    if hit is None:
        return {"hit_key": None, "hit_limit": None, "hit_window": None}
    return {"hit_key": hit.key, "hit_limit": hit.limit, "hit_window": hit.window_seconds}


def prune(conn: Connection, *, older_than_seconds: int) -> None:
    conn.execute(
        "DELETE FROM rate_limit_windows WHERE window_start < now() - make_interval(secs => %s)",
        (older_than_seconds,),
    )
