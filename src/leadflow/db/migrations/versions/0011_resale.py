"""Resale of a returned lead (SPEC §9): ONE more distribution, recorded as a run like any other.

- ``leads.resold_at``: when an approved return put the lead back to ``approved`` for its
  resale; set once, so a lead is put back at most once.
- ``distribution_runs.trigger``: ``distribution`` (the sale after approval) or ``resale``.
- Invariant 3 as Part II reads it: at most one run with sales per lead and trigger (it was per
  lead), so a lead is sold at most twice: once, and once more after a return.

Revision ID: 0011_resale
Revises: 0010_returns
Create Date: 2026-12-03 13:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011_resale"
down_revision = "0010_returns"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("leads", sa.Column("resold_at", postgresql.TIMESTAMP(timezone=True)))
    op.add_column(
        "distribution_runs",
        sa.Column("trigger", sa.Text(), server_default=sa.text("'distribution'"), nullable=False),
    )
    op.create_check_constraint(
        "ck_distribution_runs_trigger",
        "distribution_runs",
        "trigger IN ('distribution', 'resale')",
    )
    op.create_index(
        "uq_distribution_runs_lead_id_trigger_sold",
        "distribution_runs",
        ["lead_id", "trigger"],
        unique=True,
        postgresql_where=sa.text("assignments_created > 0"),
    )
    op.drop_index("uq_distribution_runs_lead_id_sold", table_name="distribution_runs")


def downgrade() -> None:
    op.create_index(
        "uq_distribution_runs_lead_id_sold",
        "distribution_runs",
        ["lead_id"],
        unique=True,
        postgresql_where=sa.text("assignments_created > 0"),
    )
    op.drop_index("uq_distribution_runs_lead_id_trigger_sold", table_name="distribution_runs")
    op.drop_constraint("ck_distribution_runs_trigger", "distribution_runs", type_="check")
    op.drop_column("distribution_runs", "trigger")
    op.drop_column("leads", "resold_at")
