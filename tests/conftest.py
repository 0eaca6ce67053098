"""Test database harness: one migrated template per session, a fresh database per test.

``TEST_DATABASE_URL`` (a superuser URL) selects an existing server; otherwise an embedded
PostgreSQL is started under ``.leadflow/test-pg``. Every database a test writes to is checked
against the money and distribution invariants of SPEC §2 when the test ends.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import conninfo, sql

from leadflow.db import migrate
from leadflow.db.connection import create_pool
from leadflow.db.server import embedded_server
from leadflow.settings import Settings
from tests.support.invariants import assert_invariants
from tests.support.keys import TEST_SECRET_KEY

ROOT = Path(__file__).resolve().parent.parent
_counter = itertools.count()


def url_for(server_url: str, dbname: str) -> str:
    """The same server, another database."""
    params = conninfo.conninfo_to_dict(server_url)
    params["dbname"] = dbname
    return conninfo.make_conninfo(**params)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A superuser URL of the PostgreSQL server the tests use."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    with embedded_server(ROOT / ".leadflow" / "test-pg") as uri:
        with psycopg.connect(uri, autocommit=True) as conn:
            # Tests never need durability; this makes creating databases much cheaper.
            conn.execute("ALTER SYSTEM SET fsync = off")
            conn.execute("ALTER SYSTEM SET synchronous_commit = off")
            conn.execute("ALTER SYSTEM SET full_page_writes = off")
            conn.execute("SELECT pg_reload_conf()")
        yield uri


def _admin(server_url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(server_url, autocommit=True)


def _drop(server_url: str, dbname: str) -> None:
    with _admin(server_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )


@pytest.fixture(scope="session")
def template_db(server_url: str) -> Iterator[str]:
    """A database migrated to head, cloned for every test; unique per test session."""
    name = f"lf_tpl_{os.getpid()}"
    _drop(server_url, name)
    with _admin(server_url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    migrate.upgrade(url_for(server_url, name))
    yield name
    _drop(server_url, name)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings as a test process would read them, isolated from the developer's environment."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=None,
        home=tmp_path / "home",
        retry_delays=[0, 0, 0, 0, 0],
        lock_timeout_ms=10_000,
        secret_key=TEST_SECRET_KEY,
        webhook_allow_hosts=["127.0.0.1"],
    )


@pytest.fixture
def db_url(server_url: str, template_db: str) -> Iterator[str]:
    """A fresh database cloned from the template; checked against the invariants at the end."""
    name = f"lf_{os.getpid()}_{next(_counter)}"
    with _admin(server_url) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template_db)
            )
        )
    url = url_for(server_url, name)
    try:
        yield url
        with psycopg.connect(url) as conn:
            assert_invariants(conn)
    finally:
        with contextlib.suppress(psycopg.Error):
            _drop(server_url, name)


@pytest.fixture
def pool(db_url: str, settings: Settings) -> Iterator[object]:
    """An open connection pool on the test's database."""
    p = create_pool(db_url, settings, max_size=8)
    try:
        yield p
    finally:
        p.close()
