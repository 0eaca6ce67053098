"""Procrastinate's job-queue schema (version pinned in pyproject.toml).

Revision ID: 0001_procrastinate
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op
from procrastinate.schema import SchemaManager

revision = "0001_procrastinate"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The schema of the pinned procrastinate release. Upgrading procrastinate means a new
    # migration applying its own migration files, never editing this one.
    # Executed on the driver connection, without parameters, so '%' needs no escaping.
    driver = op.get_bind().connection.driver_connection
    assert driver is not None
    driver.execute(SchemaManager.get_schema())


def downgrade() -> None:
    raise NotImplementedError("the job queue schema is not downgraded")
