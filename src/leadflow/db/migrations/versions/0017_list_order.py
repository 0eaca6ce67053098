"""Indexes in the order the console's long lists read by keyset: subscriptions newest first,
ties by id, overall and for one status (a deep page of a marketplace's subscriptions is read
from its cursor, not sorted and counted off). ``created_at`` and ``id`` never change, so a
sale's update of a subscription stays HOT with these indexes.

Revision ID: 0017_list_order
Revises: 0016_delivery_rules
"""

from __future__ import annotations

from alembic import op

revision = "0017_list_order"
down_revision = "0016_delivery_rules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_subscriptions_created_at_id ON subscriptions (created_at DESC, id)")
    op.execute(
        "CREATE INDEX ix_subscriptions_status_created_at_id"
        " ON subscriptions (status, created_at DESC, id)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_subscriptions_status_created_at_id")
    op.execute("DROP INDEX ix_subscriptions_created_at_id")
