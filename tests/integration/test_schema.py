"""The migrated schema is exactly the declared one, and migrating again changes nothing."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from leadflow.db import migrate
from leadflow.db.schema import metadata


def _not_procrastinate(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    return not (name or "").startswith("procrastinate_")


def test_migrations_match_declared_metadata(db_url: str) -> None:
    engine = migrate.engine_for(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_server_default": True, "include_object": _not_procrastinate}
            )
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_migrate_is_idempotent_and_at_head(db_url: str) -> None:
    migrate.upgrade(db_url)
    migrate.upgrade(db_url)
    assert migrate.current_revision(db_url) == migrate.head_revision()
