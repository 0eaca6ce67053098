"""Indexes in the order the console's long lists read by keyset, so that a deep page is read
from its cursor, not sorted and counted off:

- subscriptions newest first, ties by id, overall and for one status;
- a provider's ledger by ``seq`` (read ``seq DESC``): before, a provider's page walked the
  whole ledger's ``seq`` index or sorted the provider's entries. It replaces
  ``(provider_id, created_at)``, whose only users read its ``provider_id`` prefix (a
  provider's count and sum), so every ledger write still makes as many index entries.

The subscriptions' two indexes are not free: a sale's update of a subscription moves its
``lru_order``, which another index holds, so it is never a HOT update and adds an entry to
every index of the table, these two included.

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
    op.execute("DROP INDEX ix_ledger_entries_provider_id_created_at")


def downgrade() -> None:
    op.execute(
        "CREATE INDEX ix_ledger_entries_provider_id_created_at"
        " ON ledger_entries (provider_id, created_at)"
    )
    op.execute("DROP INDEX ix_ledger_entries_provider_id_seq")
    op.execute("DROP INDEX ix_subscriptions_status_created_at_id")
    op.execute("DROP INDEX ix_subscriptions_created_at_id")
