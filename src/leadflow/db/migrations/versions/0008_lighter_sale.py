"""Fewer index entries per sale: indexes the engine no longer reads, or that only some rows need.

- ``ix_subscriptions_fairness`` is gone: a level's candidates are read from
  ``ix_subscriptions_everywhere`` and the postal-code GIN index (0006), and nothing else walks
  a level in LRU order. Every LRU move (not a HOT update: the order key is indexed) wrote an
  entry into it.
- The idempotency key of ledger entries is unique per provider through a partial index: only
  deposits carry a key, and every lead charge wrote a NULL key into the full one.
- The confirmation-mail throttle's index covers confirmation mails only, not every
  ``lead_assigned`` mail.

Revision ID: 0008_lighter_sale
Revises: 0007_plan_check
Create Date: 2026-12-02 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_lighter_sale"
down_revision = "0007_plan_check"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_subscriptions_fairness", table_name="subscriptions")
    op.create_index(
        "uq_ledger_entries_provider_id_idempotency_key_given",
        "ledger_entries",
        ["provider_id", "idempotency_key"],
        unique=True,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    op.drop_constraint(
        "uq_ledger_entries_provider_id_idempotency_key", "ledger_entries", type_="unique"
    )
    op.drop_index("ix_email_outbox_to_address_template_created_at", table_name="email_outbox")
    op.create_index(
        "ix_email_outbox_confirmations",
        "email_outbox",
        ["to_address", "created_at"],
        postgresql_where=sa.text("template = 'lead_confirmation'"),
    )


def downgrade() -> None:
    op.drop_index("ix_email_outbox_confirmations", table_name="email_outbox")
    op.create_index(
        "ix_email_outbox_to_address_template_created_at",
        "email_outbox",
        ["to_address", "template", "created_at"],
    )
    op.create_unique_constraint(
        "uq_ledger_entries_provider_id_idempotency_key",
        "ledger_entries",
        ["provider_id", "idempotency_key"],
    )
    op.drop_index(
        "uq_ledger_entries_provider_id_idempotency_key_given", table_name="ledger_entries"
    )
    op.create_index(
        "ix_subscriptions_fairness",
        "subscriptions",
        ["competition_level_id", sa.literal_column("COALESCE(lru_order, 0)"), "provider_id"],
        postgresql_where=sa.text("status = 'active'"),
    )
