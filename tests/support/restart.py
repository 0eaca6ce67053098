"""A PostgreSQL server of a test's own, that it can stop and start again like an operator."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from pgserver import _commands, get_server  # type: ignore[attr-defined]
from psycopg import conninfo

from leadflow.db import migrate


@contextlib.contextmanager
def own_server() -> Iterator[Any]:
    """An embedded server of its own, migrated, deleted at the end (whatever TEST_DATABASE_URL
    says: the shared server must not go down under other tests).

    Its data lives outside pytest's temporary folders: the server runs as another user, and a
    pytest session starting meanwhile on the machine makes their root private again."""
    folder = Path(tempfile.mkdtemp(prefix="leadflow-pg-"))
    try:
        server = get_server(folder / "pg", cleanup_mode="delete")
        try:
            migrate.upgrade(server.get_uri())
            yield server
        finally:
            server.cleanup()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def stop(server: Any, *, mode: str = "fast") -> None:
    """``pg_ctl stop``: ``fast`` ends every session (as a minor upgrade does), ``immediate``
    crashes out (recovery on the next start)."""
    _commands.pg_ctl(["-w", "-m", mode, "stop"], pgdata=server.pgdata, user=server.system_user)


def start(server: Any) -> None:
    """Start the stopped server again, on the same socket, as pgserver first started it."""
    socket_dir = conninfo.conninfo_to_dict(server.get_uri())["host"]
    _commands.pg_ctl(
        ["-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(server.log), "start"],
        pgdata=server.pgdata,
        user=server.system_user,
    )


def answers(url: str) -> bool:
    """Whether the server accepts a new session now."""
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True
