"""Indexes in the order the console's long lists read by keyset, so that a deep page is read
from its cursor, not sorted and counted off:

- subscriptions newest first, ties by id, overall and for one status. ``created_at`` and
  ``id`` never change, so a sale's update of a subscription stays HOT with these indexes;
- a provider's ledger by ``seq`` (read ``seq DESC``): before, a provider's page walked the
  whole ledger's ``seq`` index or sorted the provider's entries.

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
    op.execute(
        "CREATE INDEX ix_ledger_entries_provider_id_seq ON ledger_entries (provider_id, seq)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_ledger_entries_provider_id_seq")
    op.execute("DROP INDEX ix_subscriptions_status_created_at_id")
    op.execute("DROP INDEX ix_subscriptions_created_at_id")
