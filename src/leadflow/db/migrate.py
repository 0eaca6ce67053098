"""Apply Alembic migrations (ours and Procrastinate's) to a database, idempotently."""

from __future__ import annotations

from pathlib import Path

import psycopg
import sqlalchemy
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).parent / "migrations"
# Serializes concurrent `leadflow migrate` runs (several workers starting at once).
_ADVISORY_LOCK_KEY = 0x1EAD_F10E


def engine_for(url: str) -> sqlalchemy.Engine:
    """A throwaway SQLAlchemy engine for Alembic (it speaks SQLAlchemy, the app speaks psycopg)."""
    return sqlalchemy.create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(url), poolclass=sqlalchemy.NullPool
    )


def alembic_config() -> Config:
    """The Alembic configuration, built in code so no ini file is needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` to ``revision``."""
    engine = engine_for(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sqlalchemy.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_KEY}
            )
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def head_revision() -> str:
    """The newest migration shipped with this code."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at (None when never migrated)."""
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
