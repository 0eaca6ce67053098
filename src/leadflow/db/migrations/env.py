"""Alembic environment: runs on the connection ``leadflow.db.migrate`` hands it."""

from __future__ import annotations

from alembic import context

from leadflow.db.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - always called through leadflow.db.migrate
    raise RuntimeError("run migrations with `leadflow migrate`")


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Leave Procrastinate's own tables out of schema comparisons."""
    return not (name or "").startswith("procrastinate_")


context.configure(
    connection=connection,
    target_metadata=metadata,
    compare_server_default=True,
    include_object=include_object,
)
with context.begin_transaction():
    context.run_migrations()
