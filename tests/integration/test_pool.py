"""The pools' outage rules against a real server: a connection the server ended is never lent,
a busy pool is waited for as long as its timeout (only a failing server makes a request give up
early), and reachability follows what the pool last found."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from leadflow.db.connection import Reachability, create_pool, transaction
from leadflow.db.pool import FAIL_FAST_SECONDS, Pool, is_unavailable
from leadflow.settings import Settings


def _end_sessions(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_connection_the_server_ended_is_replaced_not_lent(
    db_url: str, settings: Settings
) -> None:
    pool = create_pool(db_url, settings, min_size=4, max_size=4)
    try:
        pids = set()
        for _ in range(4):
            with transaction(pool) as conn:
                pids.add(conn.info.backend_pid)
        assert _end_sessions(db_url) >= 1
        for _ in range(8):
            with transaction(pool) as conn:
                assert conn.execute("SELECT 1 AS one").fetchone() == {"one": 1}
                assert conn.info.backend_pid not in pids
    finally:
        pool.close()


def test_a_busy_pool_is_waited_for_beyond_the_fail_fast_bound(
    db_url: str, settings: Settings
) -> None:
    pool = create_pool(db_url, settings, min_size=1, max_size=1)
    try:
        held = threading.Event()
        release = threading.Event()

        def hold() -> None:
            with pool.connection():
                held.set()
                release.wait(10)

        holder = threading.Thread(target=hold)
        holder.start()
        held.wait(10)
        # Freed only after the fail-fast bound: the waiting request must still get it.
        threading.Timer(FAIL_FAST_SECONDS * 2, release.set).start()
        with transaction(pool) as conn:
            assert conn.execute("SELECT 1 AS one").fetchone() == {"one": 1}
        holder.join(10)
        assert not pool.reachability.down  # type: ignore[attr-defined]
    finally:
        pool.close()


def test_a_server_that_is_gone_fails_fast_and_is_reported_once(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    reachability = Reachability()
    # Nothing listens on this socket: every attempt is refused at once.
    url = f"host={tmp_path} port=1 dbname=nothing connect_timeout=2"
    pool = Pool(url, reachability=reachability, min_size=0, max_size=2, open=False)
    pool.open()
    try:
        for _ in range(3):
            with pytest.raises(psycopg.OperationalError) as raised, pool.connection():
                pass
            assert is_unavailable(raised.value)
        assert reachability.down
    finally:
        pool.close()
    out, err = capfd.readouterr()
    assert (out + err).count("database_unreachable") == 1
