"""Connections and pools with the session settings every leadflow connection carries."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool

# The connection types and the outage tracker are defined beside the pools and used from here.
from leadflow.db.pool import AsyncConnection as AsyncConnection
from leadflow.db.pool import AsyncPool, Pool
from leadflow.db.pool import Connection as Connection
from leadflow.db.pool import Reachability as Reachability
from leadflow.settings import Settings


def connect_kwargs(settings: Settings) -> dict[str, Any]:
    """libpq parameters: timeouts and keepalives so a vanished client frees its locks.

    ``idle_in_transaction_session_timeout`` ends a session whose client stopped talking
    mid-transaction; TCP keepalives (both directions) notice a machine that is gone.
    """
    options = " ".join(
        [
            f"-c lock_timeout={settings.lock_timeout_ms}",
            f"-c idle_in_transaction_session_timeout={settings.idle_in_transaction_timeout_ms}",
            f"-c statement_timeout={settings.statement_timeout_ms}",
            "-c tcp_keepalives_idle=15",
            "-c tcp_keepalives_interval=5",
            "-c tcp_keepalives_count=3",
            # A backend whose client died (kill -9, machine loss) notices it within 5 s even
            # in the middle of a long statement, and its transaction's locks are freed.
            "-c client_connection_check_interval=5000",
            "-c timezone=UTC",
        ]
    )
    return {
        "options": options,
        "keepalives": 1,
        "keepalives_idle": 15,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        # A server that does not answer at all (a host gone, a firewall) fails the attempt in
        # seconds rather than after the system's TCP connect timeout of minutes.
        "connect_timeout": 5,
        "application_name": "leadflow",
    }


def connect(url: str, settings: Settings, *, autocommit: bool = False) -> Connection:
    """Open one connection (for CLI tools and tests); rows come back as dicts."""
    return psycopg.connect(
        url, autocommit=autocommit, row_factory=dict_row, **connect_kwargs(settings)
    )


def create_pool(
    url: str,
    settings: Settings,
    *,
    min_size: int | None = None,
    max_size: int | None = None,
    reachability: Reachability | None = None,
) -> ConnectionPool[Connection]:
    """Create and open a pool (bounds from settings unless given). Call where a process starts,
    never at import. The pools of one process share one ``reachability`` (one warning per
    outage); by default the pool has its own."""
    pool: ConnectionPool[Connection] = Pool(
        url,
        reachability=reachability or Reachability(),
        min_size=settings.pool_min_size if min_size is None else min_size,
        max_size=max_size or settings.pool_max_size,
        kwargs={"row_factory": dict_row, **connect_kwargs(settings)},
        connection_class=psycopg.Connection,
        open=False,
        name="leadflow",
    )
    pool.open(wait=True, timeout=30)
    return pool


async def open_autocommit_pool(
    url: str,
    settings: Settings,
    *,
    min_size: int | None = None,
    max_size: int | None = None,
    name: str = "leadflow-autocommit",
    reachability: Reachability | None = None,
) -> AsyncConnectionPool[AsyncConnection]:
    """Create and open a pool of asyncio connections in autocommit: every statement is its own
    transaction, committed before its result arrives. For writes of one statement on the event
    loop (no threadpool hop, one round trip); call where a process starts, never at import.
    A pool that cannot open in time is closed, not left reconnecting behind the error."""
    pool: AsyncConnectionPool[AsyncConnection] = AsyncPool(
        url,
        reachability=reachability or Reachability(),
        min_size=settings.pool_min_size if min_size is None else min_size,
        max_size=max_size or settings.pool_max_size,
        kwargs={"row_factory": dict_row, **connect_kwargs(settings)},
        connection_class=psycopg.AsyncConnection,
        configure=_set_autocommit,
        open=False,
        name=name,
    )
    try:
        await pool.open(wait=True, timeout=30)
    except BaseException:
        await pool.close()
        raise
    return pool


async def _set_autocommit(conn: AsyncConnection) -> None:
    # Set on each new connection rather than passed to connect: Procrastinate's listener opens
    # its connection with the pool's connect arguments plus an autocommit of its own.
    await conn.set_autocommit(True)


def compact(query: str) -> str:
    """``query`` with its layout whitespace squeezed (to single spaces, and to none beside commas
    and parentheses): psycopg caches the conversion of a query's placeholders only for texts up
    to 4 KiB. For queries without comments and without literals whose whitespace matters."""
    return _BESIDE_PUNCTUATION.sub(r"\1", " ".join(query.split()))


_BESIDE_PUNCTUATION = re.compile(r" ?([,()]) ?")


@contextlib.contextmanager
def transaction(pool: ConnectionPool[Connection]) -> Iterator[Connection]:
    """One unit of work: commits when the block ends normally, rolls back on any error."""
    with pool.connection() as conn, conn.transaction():
        yield conn


@contextlib.contextmanager
def autocommitted(pool: ConnectionPool[Connection]) -> Iterator[Connection]:
    """A connection on which every statement commits by itself: for a write of one statement,
    one round trip where a transaction costs three (BEGIN, the statement, COMMIT)."""
    with pool.connection() as conn:
        conn.autocommit = True
        try:
            yield conn
        finally:
            if not conn.closed:
                conn.autocommit = False
