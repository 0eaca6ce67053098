"""What every command needs: settings, logging, the database URL and a pool."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

import sqlalchemy.exc
import structlog
import typer
from psycopg_pool import ConnectionPool
from pydantic import SecretStr
from rich.console import Console

from leadflow import logs
from leadflow.db import migrate
from leadflow.db.connection import Connection, create_pool
from leadflow.db.server import database_url
from leadflow.settings import Settings
from leadflow.webhooks.secret_box import SecretBox, SecretKeyError, generate_key

# Under LEADFLOW_HOME: the embedded server's LEADFLOW_SECRET_KEY, made at its first start.
SECRET_KEY_FILE = "secret.key"


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


# A process started while PostgreSQL restarts (a supervisor bringing a worker back) waits this
# long for it before giving up.
DATABASE_WAIT_SECONDS = 60.0


def require_migrated(url: str, *, wait_seconds: float = DATABASE_WAIT_SECONDS) -> None:
    """Exit unless the database is at this code's migration head; a database that does not
    answer yet is waited for (one warning), up to ``wait_seconds``."""
    deadline = time.monotonic() + wait_seconds
    warned = False
    while True:
        try:
            revision = migrate.current_revision(url)
            break
        except sqlalchemy.exc.OperationalError as exc:
            if time.monotonic() >= deadline:
                Console(stderr=True).print(f"[red]the database does not answer: {exc.orig}[/red]")
                raise typer.Exit(1) from exc
            if not warned:
                structlog.get_logger(__name__).warning("database_not_ready_waiting")
                warned = True
            time.sleep(1.0)
    if revision != migrate.head_revision():
        Console(stderr=True).print(
            "[red]the database is not migrated: run `leadflow migrate`[/red]"
        )
        raise typer.Exit(1)


@contextlib.contextmanager
def pool(
    settings: Settings, url: str, *, max_size: int | None = None
) -> Iterator[ConnectionPool[Connection]]:
    p = create_pool(url, settings, max_size=max_size)
    try:
        yield p
    finally:
        p.close()


def with_secret_key(settings: Settings) -> Settings:
    """``settings`` with a usable ``LEADFLOW_SECRET_KEY`` (it seals the webhook secrets).

    As configured, if it is; on the embedded server, the key kept under ``LEADFLOW_HOME`` (made
    at the first start); with an external database (production) a missing key is an error: a
    generated one would be lost with the machine, and every stored secret with it."""
    if settings.secret_key is not None:
        key = settings.secret_key.get_secret_value()
    elif settings.database_url is None:
        key = _embedded_key(settings)
    else:
        Console(stderr=True).print(
            "[red]LEADFLOW_SECRET_KEY is not set. With an external database (DATABASE_URL) it "
            "is required: it encrypts the webhook endpoints' secrets. Make one with "
            "`leadflow secret-key` and keep it with your other secrets.[/red]"
        )
        raise typer.Exit(1)
    try:
        SecretBox.from_setting(key)
    except SecretKeyError as exc:
        Console(stderr=True).print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    return settings.model_copy(update={"secret_key": SecretStr(key)})


def _embedded_key(settings: Settings) -> str:
    path = settings.home / SECRET_KEY_FILE
    if path.exists():
        return path.read_text("ascii").strip()
    settings.home.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    # Created readable by its owner only, before the key is written into it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(key + "\n")
    return key
