"""What every command needs: settings, logging, the database URL and a pool."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from psycopg_pool import ConnectionPool

from leadflow import logs
from leadflow.db import migrate
from leadflow.db.connection import Connection, create_pool
from leadflow.db.server import database_url
from leadflow.settings import Settings


@contextlib.contextmanager
def database(
    settings: Settings, *, migrate_first: bool = False, json_logs_without_tty: bool = False
) -> Iterator[str]:
    """The database URL (embedded server started if needed), migrated when asked. Logs are JSON
    lines when configured so, or with ``json_logs_without_tty`` when stderr is no terminal."""
    logs.configure(settings, json_without_tty=json_logs_without_tty)
    with database_url(settings) as url:
        if migrate_first:
            migrate.upgrade(url)
        yield url


@contextlib.contextmanager
def pool(
    settings: Settings, url: str, *, max_size: int | None = None
) -> Iterator[ConnectionPool[Connection]]:
    p = create_pool(url, settings, max_size=max_size)
    try:
        yield p
    finally:
        p.close()
