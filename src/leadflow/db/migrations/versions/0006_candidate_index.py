"""Read a level's everywhere-subscriptions in LRU order from their own index.

Revision ID: 0006_candidate_index
Revises: 0005_lock_release_notify
Create Date: 2026-11-29 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_candidate_index"
down_revision = "0005_lock_release_notify"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_subscriptions_everywhere",
        "subscriptions",
        ["competition_level_id", sa.literal_column("COALESCE(lru_order, 0)"), "provider_id"],
        unique=False,
        postgresql_where=sa.text("status = 'active' AND postal_codes = '{}'::text[]"),
    )


def downgrade() -> None:
    op.drop_index("ix_subscriptions_everywhere", table_name="subscriptions")
