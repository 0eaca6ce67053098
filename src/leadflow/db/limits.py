"""SQL for fixed-window rate-limit counters."""

from __future__ import annotations

from leadflow.db.connection import Connection


def hit(conn: Connection, key: str, window_seconds: int) -> int:
    """Count one hit for ``key`` in the current window; returns the window's hits so far.

    The row stays locked until the caller's transaction ends, so a refused request
    (rolled back) does not count and concurrent hits are counted exactly.
    """
    row = conn.execute(
        """
        INSERT INTO rate_limit_windows AS w (key, window_start, hits)
        VALUES (%(key)s, to_timestamp(floor(extract(epoch FROM now()) / %(w)s) * %(w)s), 1)
        ON CONFLICT (key, window_start) DO UPDATE SET hits = w.hits + 1
        RETURNING hits
        """,
        {"key": key, "w": window_seconds},
    ).fetchone()
    assert row is not None
    return int(row["hits"])


def prune(conn: Connection, *, older_than_seconds: int) -> None:
    conn.execute(
        "DELETE FROM rate_limit_windows WHERE window_start < now() - make_interval(secs => %s)",
        (older_than_seconds,),
    )
