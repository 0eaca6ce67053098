"""Money back (SPEC §9): niche return settings, return requests, refunds and adjustments.

- ``niches``: ``return_window_hours`` (0 = no returns), ``return_reasons``,
  ``auto_approve_returns_under_rate`` (NULL = never automatic) and ``resell_returned``.
- ``lead_returns``: a provider's request to return one assignment and its decision; one
  request per assignment. The 30-day approved-return count per provider and niche comes from a
  partial index of approved returns.
- ``ledger_entries``: a ``refund`` references its assignment and is never negative, at most one
  per assignment (invariant 5); an ``adjustment`` is never zero.

Revision ID: 0010_returns
Revises: 0009_event_outbox
Create Date: 2026-12-03 13:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010_returns"
down_revision = "0009_event_outbox"
branch_labels = None
depends_on = None

REASONS = "'{bad_contact,duplicate,out_of_area,not_interested,other}'::text[]"


def upgrade() -> None:
    op.add_column(
        "niches",
        sa.Column(
            "return_window_hours", sa.Integer(), server_default=sa.text("72"), nullable=False
        ),
    )
    op.add_column(
        "niches",
        sa.Column(
            "return_reasons",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text(REASONS),
            nullable=False,
        ),
    )
    op.add_column(
        "niches",
        sa.Column("auto_approve_returns_under_rate", sa.Numeric(5, 4), nullable=True),
    )
    op.add_column(
        "niches",
        sa.Column("resell_returned", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.create_check_constraint(
        "ck_niches_return_window_not_negative", "niches", "return_window_hours >= 0"
    )
    op.create_check_constraint(
        "ck_niches_auto_approve_rate_share",
        "niches",
        "auto_approve_returns_under_rate IS NULL"
        " OR auto_approve_returns_under_rate BETWEEN 0 AND 1",
    )

    op.create_table(
        "lead_returns",
        sa.Column(
            "id",
            postgresql.UUID(as_uuid=True),
            server_default=sa.text("gen_random_uuid()"),
            nullable=False,
        ),
        sa.Column("assignment_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("provider_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("niche_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default=sa.text("'requested'"), nullable=False),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("decided_by_role", sa.Text(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("refund_ledger_entry_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("decided_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('requested', 'approved', 'denied')", name="ck_lead_returns_status"
        ),
        sa.CheckConstraint(
            "(status = 'requested') = (decided_at IS NULL)", name="ck_lead_returns_decided"
        ),
        sa.CheckConstraint(
            "(status = 'approved') = (refund_ledger_entry_id IS NOT NULL)",
            name="ck_lead_returns_approved_has_refund",
        ),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["lead_assignments.id"],
            name="fk_lead_returns_assignment_id_lead_assignments",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name="fk_lead_returns_provider_id_providers"
        ),
        sa.ForeignKeyConstraint(
            ["niche_id"], ["niches.id"], name="fk_lead_returns_niche_id_niches"
        ),
        sa.ForeignKeyConstraint(
            ["refund_ledger_entry_id"],
            ["ledger_entries.id"],
            name="fk_lead_returns_refund_ledger_entry_id_ledger_entries",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_lead_returns"),
        sa.UniqueConstraint("assignment_id", name="uq_lead_returns_assignment_id"),
    )
    op.create_index("ix_lead_returns_status_created_at", "lead_returns", ["status", "created_at"])
    op.create_index(
        "ix_lead_returns_provider_id_created_at", "lead_returns", ["provider_id", "created_at"]
    )
    op.create_index(
        "ix_lead_returns_niche_id_created_at", "lead_returns", ["niche_id", "created_at"]
    )
    op.create_index(
        "ix_lead_returns_approved",
        "lead_returns",
        ["provider_id", "niche_id", "decided_at"],
        postgresql_where=sa.text("status = 'approved'"),
    )

    op.create_check_constraint(
        "ck_ledger_entries_refund_has_assignment",
        "ledger_entries",
        "kind <> 'refund' OR (assignment_id IS NOT NULL AND amount_cents >= 0)",
    )
    op.create_check_constraint(
        "ck_ledger_entries_adjustment_not_zero",
        "ledger_entries",
        "kind <> 'adjustment' OR (assignment_id IS NULL AND amount_cents <> 0)",
    )
    op.create_index(
        "uq_ledger_entries_assignment_id_refund",
        "ledger_entries",
        ["assignment_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'refund'"),
    )


def downgrade() -> None:
    op.drop_index("uq_ledger_entries_assignment_id_refund", table_name="ledger_entries")
    op.drop_constraint("ck_ledger_entries_adjustment_not_zero", "ledger_entries", type_="check")
    op.drop_constraint("ck_ledger_entries_refund_has_assignment", "ledger_entries", type_="check")
    op.drop_table("lead_returns")
    op.drop_constraint("ck_niches_auto_approve_rate_share", "niches", type_="check")
    op.drop_constraint("ck_niches_return_window_not_negative", "niches", type_="check")
    for column in (
        "resell_returned",
        "auto_approve_returns_under_rate",
        "return_reasons",
        "return_window_hours",
    ):
        op.drop_column("niches", column)
