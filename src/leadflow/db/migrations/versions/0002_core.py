"""Core schema: catalog, leads, distribution, billing, audit, outbox, users and sessions.

Revision ID: 0002_core
Revises: 0001_procrastinate
Create Date: 2026-11-29 02:13:11.435716
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_core"
down_revision = "0001_procrastinate"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column(
            "at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("actor_id", sa.Text(), nullable=True),
        sa.Column("actor_role", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("entity_type", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.Text(), nullable=True),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_action_at", "audit_log", ["action", "at"], unique=False)
    op.create_index("ix_audit_log_at", "audit_log", ["at"], unique=False)
    op.create_index(
        "ix_audit_log_entity_type_entity_id_at",
        "audit_log",
        ["entity_type", "entity_id", "at"],
        unique=False,
    )
    op.create_table(
        "niches",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "require_confirmation", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column(
            "distribution_mode", sa.Text(), server_default=sa.text("'all_levels'"), nullable=False
        ),
        sa.Column(
            "next_start_level_order_position",
            sa.Integer(),
            server_default=sa.text("1"),
            nullable=False,
        ),
        sa.Column("lru_counter", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "distribution_mode IN ('all_levels', 'first_level')",
            name=op.f("ck_niches_distribution_mode"),
        ),
        sa.CheckConstraint(
            "next_start_level_order_position >= 1", name=op.f("ck_niches_pointer_positive")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_niches")),
        sa.UniqueConstraint("slug", name=op.f("uq_niches_slug")),
    )
    op.create_table(
        "providers",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'active'"), nullable=False),
        sa.Column("balance_cents", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("status IN ('active', 'suspended')", name=op.f("ck_providers_status")),
        sa.CheckConstraint("balance_cents >= 0", name=op.f("ck_providers_balance_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_providers")),
    )
    op.create_table(
        "competition_levels",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("niche_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("order_position", sa.Integer(), nullable=False),
        sa.Column("max_recipients", sa.Integer(), nullable=False),
        sa.Column("price_per_lead_cents", sa.BigInteger(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "max_recipients >= 1", name=op.f("ck_competition_levels_max_recipients_positive")
        ),
        sa.CheckConstraint(
            "order_position >= 1", name=op.f("ck_competition_levels_order_position_positive")
        ),
        sa.CheckConstraint(
            "price_per_lead_cents >= 0", name=op.f("ck_competition_levels_price_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["niche_id"], ["niches.id"], name=op.f("fk_competition_levels_niche_id_niches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_competition_levels")),
        sa.UniqueConstraint(
            "niche_id", "order_position", name=op.f("uq_competition_levels_niche_id_order_position")
        ),
    )
    op.create_table(
        "leads",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("niche_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=False),
        sa.Column("postal_code", sa.Text(), nullable=False),
        sa.Column(
            "attributes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("confirmation_token_hash", sa.Text(), nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("confirmed_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("approved_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("rejected_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("distributed_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column(
            "distribution_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False
        ),
        sa.CheckConstraint(
            "jsonb_typeof(attributes) = 'object'", name=op.f("ck_leads_attributes_object")
        ),
        sa.CheckConstraint(
            "status IN ('pending_confirmation', 'pending_approval', 'approved', 'distributed', 'rejected')",
            name=op.f("ck_leads_status"),
        ),
        sa.ForeignKeyConstraint(["niche_id"], ["niches.id"], name=op.f("fk_leads_niche_id_niches")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
        sa.UniqueConstraint(
            "confirmation_token_hash", name=op.f("uq_leads_confirmation_token_hash")
        ),
    )
    op.create_index(
        "ix_leads_niche_id_created_at", "leads", ["niche_id", "created_at"], unique=False
    )
    op.create_index("ix_leads_status_created_at", "leads", ["status", "created_at"], unique=False)
    op.create_table(
        "users",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("provider_id", sa.UUID(), nullable=True),
        sa.Column("mfa_secret", sa.Text(), nullable=True),
        sa.Column("last_totp_step", sa.BigInteger(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "role <> 'provider' OR provider_id IS NOT NULL",
            name=op.f("ck_users_provider_user_has_provider"),
        ),
        sa.CheckConstraint("role IN ('admin', 'provider')", name=op.f("ck_users_role")),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_users_provider_id_providers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_index(
        "uq_users_email_lower", "users", [sa.literal_column("lower(email)")], unique=True
    )
    op.create_table(
        "distribution_runs",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("lead_id", sa.UUID(), nullable=False),
        sa.Column("niche_id", sa.UUID(), nullable=False),
        sa.Column("triggered_by_actor_id", sa.Text(), nullable=True),
        sa.Column("triggered_by_role", sa.Text(), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("start_level_order_position", sa.Integer(), nullable=True),
        sa.Column(
            "traversal_order",
            postgresql.ARRAY(sa.UUID()),
            server_default=sa.text("'{}'::uuid[]"),
            nullable=False,
        ),
        sa.Column("assignments_created", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "skipped",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("skipped_total", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "started_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finished_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'success', 'partial', 'no_eligible', 'failed')",
            name=op.f("ck_distribution_runs_status"),
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_distribution_runs_lead_id_leads")
        ),
        sa.ForeignKeyConstraint(
            ["niche_id"], ["niches.id"], name=op.f("fk_distribution_runs_niche_id_niches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_distribution_runs")),
    )
    op.create_index(
        "ix_distribution_runs_lead_id_started_at",
        "distribution_runs",
        ["lead_id", "started_at"],
        unique=False,
    )
    op.create_index(
        "uq_distribution_runs_lead_id_sold",
        "distribution_runs",
        ["lead_id"],
        unique=True,
        postgresql_where=sa.text("assignments_created > 0"),
    )
    op.create_table(
        "email_outbox",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("to_address", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("provider_id", sa.UUID(), nullable=True),
        sa.Column("lead_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "next_attempt_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sent_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name=op.f("ck_email_outbox_status")
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_email_outbox_lead_id_leads")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_email_outbox_provider_id_providers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_outbox")),
        sa.UniqueConstraint("message_id", name=op.f("uq_email_outbox_message_id")),
    )
    op.create_index(
        "ix_email_outbox_pending",
        "email_outbox",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_email_outbox_to_address_template_created_at",
        "email_outbox",
        ["to_address", "template", "created_at"],
        unique=False,
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("revoked_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_sessions_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sessions_token_hash")),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"], unique=False)
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("provider_id", sa.UUID(), nullable=False),
        sa.Column("competition_level_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'active'"), nullable=False),
        sa.Column("last_received_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("lru_order", sa.BigInteger(), nullable=True),
        sa.Column(
            "postal_codes",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
        ),
        sa.Column(
            "filters",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("daily_cap", sa.Integer(), nullable=True),
        sa.Column("monthly_cap", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "jsonb_typeof(filters) = 'array'", name=op.f("ck_subscriptions_filters_array")
        ),
        sa.CheckConstraint(
            "status IN ('active', 'paused', 'paused_low_balance', 'cancelled')",
            name=op.f("ck_subscriptions_status"),
        ),
        sa.CheckConstraint(
            "daily_cap IS NULL OR daily_cap >= 1", name=op.f("ck_subscriptions_daily_cap_positive")
        ),
        sa.CheckConstraint(
            "monthly_cap IS NULL OR monthly_cap >= 1",
            name=op.f("ck_subscriptions_monthly_cap_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["competition_level_id"],
            ["competition_levels.id"],
            name=op.f("fk_subscriptions_competition_level_id_competition_levels"),
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_subscriptions_provider_id_providers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint(
            "provider_id",
            "competition_level_id",
            name=op.f("uq_subscriptions_provider_id_competition_level_id"),
        ),
    )
    op.create_index(
        "ix_subscriptions_fairness",
        "subscriptions",
        ["competition_level_id", sa.literal_column("COALESCE(lru_order, 0)"), "provider_id"],
        unique=False,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_index(
        "ix_subscriptions_postal_codes",
        "subscriptions",
        ["postal_codes"],
        unique=False,
        postgresql_using="gin",
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "lead_assignments",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("lead_id", sa.UUID(), nullable=False),
        sa.Column("provider_id", sa.UUID(), nullable=False),
        sa.Column("subscription_id", sa.UUID(), nullable=False),
        sa.Column("competition_level_id", sa.UUID(), nullable=False),
        sa.Column("distribution_run_id", sa.UUID(), nullable=False),
        sa.Column("price_charged_cents", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'active'"), nullable=False),
        sa.Column(
            "assigned_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('active', 'returned')", name=op.f("ck_lead_assignments_status")
        ),
        sa.CheckConstraint(
            "price_charged_cents >= 0", name=op.f("ck_lead_assignments_price_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["competition_level_id"],
            ["competition_levels.id"],
            name=op.f("fk_lead_assignments_competition_level_id_competition_levels"),
        ),
        sa.ForeignKeyConstraint(
            ["distribution_run_id"],
            ["distribution_runs.id"],
            name=op.f("fk_lead_assignments_distribution_run_id_distribution_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_lead_assignments_lead_id_leads")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_lead_assignments_provider_id_providers"),
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_lead_assignments_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_assignments")),
        sa.UniqueConstraint(
            "lead_id", "provider_id", name=op.f("uq_lead_assignments_lead_id_provider_id")
        ),
    )
    op.create_index(
        "ix_lead_assignments_provider_id_assigned_at",
        "lead_assignments",
        ["provider_id", "assigned_at"],
        unique=False,
    )
    op.create_index(
        "ix_lead_assignments_subscription_id_assigned_at",
        "lead_assignments",
        ["subscription_id", "assigned_at"],
        unique=False,
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("provider_id", sa.UUID(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("balance_after_cents", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("assignment_id", sa.UUID(), nullable=True),
        sa.Column("idempotency_key", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("actor_id", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind <> 'deposit' OR amount_cents > 0", name=op.f("ck_ledger_entries_deposit_positive")
        ),
        sa.CheckConstraint(
            "kind <> 'lead_charge' OR (assignment_id IS NOT NULL AND amount_cents <= 0)",
            name=op.f("ck_ledger_entries_charge_has_assignment"),
        ),
        sa.CheckConstraint(
            "kind IN ('deposit', 'lead_charge', 'refund', 'adjustment')",
            name=op.f("ck_ledger_entries_kind"),
        ),
        sa.CheckConstraint(
            "balance_after_cents >= 0", name=op.f("ck_ledger_entries_balance_after_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["lead_assignments.id"],
            name=op.f("fk_ledger_entries_assignment_id_lead_assignments"),
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_ledger_entries_provider_id_providers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint(
            "provider_id",
            "idempotency_key",
            name=op.f("uq_ledger_entries_provider_id_idempotency_key"),
        ),
        sa.UniqueConstraint("seq", name=op.f("uq_ledger_entries_seq")),
    )
    op.create_index(
        "ix_ledger_entries_provider_id_created_at",
        "ledger_entries",
        ["provider_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "uq_ledger_entries_assignment_id_charge",
        "ledger_entries",
        ["assignment_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'lead_charge'"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_ledger_entries_assignment_id_charge",
        table_name="ledger_entries",
        postgresql_where=sa.text("kind = 'lead_charge'"),
    )
    op.drop_index("ix_ledger_entries_provider_id_created_at", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_index("ix_lead_assignments_subscription_id_assigned_at", table_name="lead_assignments")
    op.drop_index("ix_lead_assignments_provider_id_assigned_at", table_name="lead_assignments")
    op.drop_table("lead_assignments")
    op.drop_index(
        "ix_subscriptions_postal_codes",
        table_name="subscriptions",
        postgresql_using="gin",
        postgresql_where=sa.text("status = 'active'"),
    )
    op.drop_index(
        "ix_subscriptions_fairness",
        table_name="subscriptions",
        postgresql_where=sa.text("status = 'active'"),
    )
    op.drop_table("subscriptions")
    op.drop_index("ix_sessions_user_id", table_name="sessions")
    op.drop_table("sessions")
    op.drop_index("ix_email_outbox_to_address_template_created_at", table_name="email_outbox")
    op.drop_index(
        "ix_email_outbox_pending",
        table_name="email_outbox",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_table("email_outbox")
    op.drop_index(
        "uq_distribution_runs_lead_id_sold",
        table_name="distribution_runs",
        postgresql_where=sa.text("assignments_created > 0"),
    )
    op.drop_index("ix_distribution_runs_lead_id_started_at", table_name="distribution_runs")
    op.drop_table("distribution_runs")
    op.drop_index("uq_users_email_lower", table_name="users")
    op.drop_table("users")
    op.drop_index("ix_leads_status_created_at", table_name="leads")
    op.drop_index("ix_leads_niche_id_created_at", table_name="leads")
    op.drop_table("leads")
    op.drop_table("competition_levels")
    op.drop_table("providers")
    op.drop_table("niches")
    op.drop_index("ix_audit_log_entity_type_entity_id_at", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_index("ix_audit_log_action_at", table_name="audit_log")
    op.drop_table("audit_log")
