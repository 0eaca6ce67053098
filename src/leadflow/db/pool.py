"""Connection pools that ride out a database outage: stale connections are replaced on checkout,
and while the server does not answer a request fails within a second instead of waiting.

psycopg_pool on its own lends a connection the server has closed (a restart, a failover) and
retries connecting in the background with a growing backoff, holding the pool's slots meanwhile:
after an outage, requests met broken connections or waited for a retry tens of seconds away.
Here, once open, a pool never retries in the background; a request that needs a connection
makes the pool connect now, and ``Reachability`` remembers whether the last attempt failed.
"""

from __future__ import annotations

import select
import threading
import time
from typing import Any

import psycopg
import structlog
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

log = structlog.get_logger(__name__)

Connection = psycopg.Connection[dict[str, Any]]
AsyncConnection = psycopg.AsyncConnection[dict[str, Any]]

# A request waits for a connection in slices of this long; after a slice in which an attempt to
# connect failed, the database is down and the request fails now (a 503 for the API). A pool
# that is only busy, or a connection that is on its way, is waited for up to the pool's timeout.
FAIL_FAST_SECONDS = 0.5


class Reachability:
    """Whether this process can reach PostgreSQL, shared by its pools: one warning when it
    stops answering, one line when it answers again, whichever pool notices first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down_since: float | None = None
        # Failed attempts so far: a waiting request compares it with what it saw at the start.
        self.failures = 0

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def failed(self, noticed_by: str) -> None:
        """A connection attempt (or a whole unit of work) failed for want of the database."""
        with self._lock:
            self.failures += 1
            if self._down_since is not None:
                return
            self._down_since = time.monotonic()
        log.warning("database_unreachable", noticed_by=noticed_by)

    def answered(self) -> None:
        """A new connection was opened: the server answers."""
        with self._lock:
            since, self._down_since = self._down_since, None
        if since is not None:
            log.info("database_reachable", down_seconds=round(time.monotonic() - since, 1))


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) says the database could not be used: a broken
    connection, a pool timeout, the server shutting down. Libraries wrap these (Procrastinate's
    ``ConnectorException``), so the chain of causes is searched."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, psycopg.OperationalError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _readable(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool:
    """Whether bytes (or end of file) wait on the socket of an idle connection: nothing should,
    unless the server said goodbye (the FATAL of a shutdown or a terminated backend)."""
    if conn.closed or conn.pgconn.transaction_status == TransactionStatus.UNKNOWN:
        return True
    poller = select.poll()
    poller.register(conn.pgconn.socket, select.POLLIN)
    return bool(poller.poll(0))


class Pool(ConnectionPool[Connection]):
    """``ConnectionPool`` that replaces connections the server dropped and fails fast while the
    database is down (``PoolTimeout``, a ``psycopg.OperationalError``)."""

    def __init__(self, *args: Any, reachability: Reachability, **kwargs: Any) -> None:
        self.reachability = reachability
        self._configure_next = kwargs.pop("configure", None)
        super().__init__(*args, configure=self._configured, **kwargs)

    def open(self, wait: bool = False, timeout: float = 30.0) -> None:
        # Patient while starting (the server may still be coming up), then no background retry.
        super().open(wait=wait, timeout=timeout)
        self.reconnect_timeout = 0.0

    def getconn(self, timeout: float | None = None) -> Connection:
        """A live connection; ``PoolTimeout`` soon if the server does not answer."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        failures = self.reachability.failures
        while True:
            left = deadline - time.monotonic()
            try:
                conn = super().getconn(min(left, FAIL_FAST_SECONDS))
            except PoolTimeout:
                if self.reachability.failures != failures or left <= FAIL_FAST_SECONDS:
                    raise
                continue
            if not _readable(conn):
                return conn
            # Readable is the exception (a stray notice would be one): a round trip decides.
            try:
                self.check_connection(conn)
            except psycopg.Error:
                conn.close()  # returned closed, it is discarded and replaced
                self.putconn(conn)
                continue
            return conn

    def reconnect_failed(self) -> None:
        self.reachability.failed(noticed_by=self.name)
        super().reconnect_failed()

    def _configured(self, conn: Connection) -> None:
        self.reachability.answered()
        if self._configure_next is not None:
            self._configure_next(conn)


class AsyncPool(AsyncConnectionPool[AsyncConnection]):
    """``Pool`` for asyncio connections."""

    def __init__(self, *args: Any, reachability: Reachability, **kwargs: Any) -> None:
        self.reachability = reachability
        self._configure_next = kwargs.pop("configure", None)
        super().__init__(*args, configure=self._configured, **kwargs)

    async def open(self, wait: bool = False, timeout: float = 30.0) -> None:
        await super().open(wait=wait, timeout=timeout)
        self.reconnect_timeout = 0.0

    async def getconn(self, timeout: float | None = None) -> AsyncConnection:
        """A live connection; ``PoolTimeout`` soon if the server does not answer."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        failures = self.reachability.failures
        while True:
            left = deadline - time.monotonic()
            try:
                conn = await super().getconn(min(left, FAIL_FAST_SECONDS))
            except PoolTimeout:
                if self.reachability.failures != failures or left <= FAIL_FAST_SECONDS:
                    raise
                continue
            if not _readable(conn):
                return conn
            try:
                await self.check_connection(conn)
            except psycopg.Error:
                await conn.close()
                await self.putconn(conn)
                continue
            return conn

    async def reconnect_failed(self) -> None:
        self.reachability.failed(noticed_by=self.name)
        await super().reconnect_failed()

    async def _configured(self, conn: AsyncConnection) -> None:
        self.reachability.answered()
        if self._configure_next is not None:
            await self._configure_next(conn)
