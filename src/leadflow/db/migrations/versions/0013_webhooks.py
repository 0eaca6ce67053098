"""Webhooks (SPEC §10): delivery endpoints per provider, the deliveries outbox and its attempts.

- ``webhook_endpoints``: a provider's URL, optionally for one niche, with its signing secret
  encrypted at rest (Fernet), the previous secret while a rotation's grace period lasts, the
  count of consecutive failed deliveries (20 disable it) and a soft delete (deliveries keep
  their endpoint). The sale finds a provider's active endpoints through a partial index.
- ``webhook_deliveries``: one row per (endpoint, assignment, event), written in the sale's own
  transaction for ``lead.assigned`` (invariant 6) and by the dispatcher for ``lead.returned``.
  The body is fixed at the first attempt, so every retry and redelivery sends the same bytes.
- ``webhook_attempts``: every HTTP attempt, with its status code, latency and the first 1 KiB
  of the reply.

Revision ID: 0013_webhooks
Revises: 0012_lead_list_order
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013_webhooks"
down_revision = "0012_lead_list_order"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=True)
TZ = postgresql.TIMESTAMP(timezone=True)


def _id() -> sa.Column[object]:
    return sa.Column("id", UUID, server_default=sa.text("gen_random_uuid()"), nullable=False)


def _now(name: str) -> sa.Column[object]:
    return sa.Column(name, TZ, server_default=sa.text("now()"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        _id(),
        sa.Column("provider_id", UUID, nullable=False),
        sa.Column("niche_id", UUID, nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("secret_ciphertext", sa.Text(), nullable=False),
        sa.Column("previous_secret_ciphertext", sa.Text(), nullable=True),
        sa.Column("previous_secret_expires_at", TZ, nullable=True),
        sa.Column(
            "consecutive_failures", sa.Integer(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("disabled_at", TZ, nullable=True),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("deleted_at", TZ, nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.CheckConstraint("length(url) <= 2048", name=op.f("ck_webhook_endpoints_url_length")),
        sa.CheckConstraint(
            "deleted_at IS NULL OR NOT is_active",
            name=op.f("ck_webhook_endpoints_deleted_inactive"),
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_webhook_endpoints_provider_id_providers"),
        ),
        sa.ForeignKeyConstraint(
            ["niche_id"], ["niches.id"], name=op.f("fk_webhook_endpoints_niche_id_niches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_index(
        "ix_webhook_endpoints_active_provider_id",
        "webhook_endpoints",
        ["provider_id"],
        postgresql_where=sa.text("is_active"),
    )
    op.create_index(
        "ix_webhook_endpoints_provider_id_created_at",
        "webhook_endpoints",
        ["provider_id", "created_at"],
    )

    # Time-ordered ids for the deliveries the sale writes (see ``domain.ids``): a version-4
    # UUID with the time in milliseconds over its first 48 bits and the version set to 7.
    op.execute(
        """
        CREATE FUNCTION leadflow_uuid7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
            SELECT encode(
                set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING
                    substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint)
                              FROM 3)
                    FROM 1 FOR 6), 52, 1), 53, 1),
                'hex')::uuid
        $$
        """
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", UUID, server_default=sa.text("leadflow_uuid7()"), nullable=False),
        sa.Column("endpoint_id", UUID, nullable=False),
        sa.Column("provider_id", UUID, nullable=False),
        sa.Column("lead_id", UUID, nullable=False),
        sa.Column("assignment_id", UUID, nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("return_id", UUID, nullable=True),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("round_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _now("next_attempt_at"),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("buyer_reason", sa.Text(), nullable=True),
        sa.Column("filed_return_id", UUID, nullable=True),
        _now("created_at"),
        sa.Column("delivered_at", TZ, nullable=True),
        _now("updated_at"),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed', 'rejected_by_buyer')",
            name=op.f("ck_webhook_deliveries_status"),
        ),
        sa.CheckConstraint(
            "event IN ('lead.assigned', 'lead.returned')", name=op.f("ck_webhook_deliveries_event")
        ),
        sa.CheckConstraint(
            "(event = 'lead.returned') = (return_id IS NOT NULL)",
            name=op.f("ck_webhook_deliveries_returned_has_return"),
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_deliveries_endpoint_id_webhook_endpoints"),
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_webhook_deliveries_provider_id_providers"),
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_webhook_deliveries_lead_id_leads")
        ),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["lead_assignments.id"],
            name=op.f("fk_webhook_deliveries_assignment_id_lead_assignments"),
        ),
        sa.ForeignKeyConstraint(
            ["return_id"],
            ["lead_returns.id"],
            name=op.f("fk_webhook_deliveries_return_id_lead_returns"),
        ),
        sa.ForeignKeyConstraint(
            ["filed_return_id"],
            ["lead_returns.id"],
            name=op.f("fk_webhook_deliveries_filed_return_id_lead_returns"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        # Leading with the assignment: it also serves the lookups by assignment.
        sa.UniqueConstraint(
            "assignment_id",
            "endpoint_id",
            "event",
            name=op.f("uq_webhook_deliveries_assignment_id_endpoint_id_event"),
        ),
    )
    # The claim: an endpoint's due deliveries, oldest first.
    op.create_index(
        "ix_webhook_deliveries_pending",
        "webhook_deliveries",
        ["endpoint_id", "next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_webhook_deliveries_created_at_id",
        "webhook_deliveries",
        [sa.text("created_at DESC"), "id"],
    )
    op.create_index(
        "ix_webhook_deliveries_provider_id_created_at",
        "webhook_deliveries",
        ["provider_id", "created_at"],
    )

    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("delivery_id", UUID, nullable=False),
        _now("attempted_at"),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("response_excerpt", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('delivered', 'rejected_by_buyer', 'retry', 'failed')",
            name=op.f("ck_webhook_attempts_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name=op.f("fk_webhook_attempts_delivery_id_webhook_deliveries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    op.create_index(
        "ix_webhook_attempts_delivery_id_attempted_at",
        "webhook_attempts",
        ["delivery_id", "attempted_at"],
    )


def downgrade() -> None:
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
    op.execute("DROP FUNCTION leadflow_uuid7()")
