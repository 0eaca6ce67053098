"""Indexes in the order the lead lists read: newest first, ties by id (the console's and the
admin API's lists no longer sort every matching lead for each page).

Revision ID: 0012_lead_list_order
Revises: 0011_resale
"""

from __future__ import annotations

from alembic import op

revision = "0012_lead_list_order"
down_revision = "0011_resale"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_leads_created_at_id ON leads (created_at DESC, id)")
    op.execute("CREATE INDEX ix_leads_status_created_at_id ON leads (status, created_at DESC, id)")


def downgrade() -> None:
    op.execute("DROP INDEX ix_leads_status_created_at_id")
    op.execute("DROP INDEX ix_leads_created_at_id")
