"""The event outbox, and balances that move only through the ledger.

- ``outbox_events``: the facts a use case records in its own transaction (``lead.assigned``,
  ``subscription.paused``, ...). A dispatcher in the worker turns each into its consumers'
  work (an e-mail rendered then, later a webhook delivery) in one transaction with marking it
  dispatched, so each consumer's effect happens exactly once per event.
- ``email_outbox.event_id``: the event a mail was made from, unique per template.
- The ledger is the one way a balance moves: ``leadflow_post_entries(postings)`` moves the
  balances and writes their entries (with ``balance_after_cents``) together; a ledger entry
  written, or a balance changed, anywhere else, a provider created with a balance, or an
  update or delete of a ledger entry is refused. "Balance = sum of the ledger" (invariant 1)
  holds by construction.
- ``leadflow_affords(balance, price)``: the one affordability rule in SQL (``domain.money.affords``
  in Python), inlined by the planner.

Revision ID: 0009_event_outbox
Revises: 0008_lighter_sale
Create Date: 2026-12-03 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009_event_outbox"
down_revision = "0008_lighter_sale"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "next_attempt_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("dispatched_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'dispatched', 'failed')", name="ck_outbox_events_status"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_events"),
    )
    op.create_index(
        "ix_outbox_events_pending",
        "outbox_events",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.add_column("email_outbox", sa.Column("event_id", sa.BigInteger(), nullable=True))
    op.create_index(
        "uq_email_outbox_event_id_template",
        "email_outbox",
        ["event_id", "template"],
        unique=True,
        postgresql_where=sa.text("event_id IS NOT NULL"),
    )
    op.execute(
        """
        CREATE FUNCTION leadflow_affords(balance_cents bigint, price_cents bigint)
        RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE
        RETURN balance_cents >= price_cents
        """
    )
    # The one posting primitive: moves the balances and writes their entries in one set-based
    # statement; only inside it (``leadflow.posting``, local to the transaction) may a balance
    # change or a ledger entry be written. The guards are WHEN conditions, evaluated without a
    # function call unless they refuse, so they cost the sale nothing.
    op.execute(
        """
        CREATE FUNCTION leadflow_post_entries(postings jsonb) RETURNS SETOF ledger_entries
        LANGUAGE plpgsql AS $$
        DECLARE
            posted bigint;
        BEGIN
            PERFORM set_config('leadflow.posting', 'on', true);
            RETURN QUERY
            WITH p AS (
                SELECT * FROM jsonb_to_recordset(postings)
                AS p(provider_id uuid, amount_cents bigint, kind text, assignment_id uuid,
                     idempotency_key text, note text, actor_id text)
            ),
            moved AS (
                UPDATE providers SET balance_cents = providers.balance_cents + p.amount_cents,
                                     updated_at = now()
                FROM p WHERE providers.id = p.provider_id
                RETURNING providers.id, providers.balance_cents
            )
            INSERT INTO ledger_entries (provider_id, amount_cents, balance_after_cents, kind,
                                        assignment_id, idempotency_key, note, actor_id)
            SELECT p.provider_id, p.amount_cents, moved.balance_cents, p.kind, p.assignment_id,
                   p.idempotency_key, p.note, p.actor_id
            FROM p JOIN moved ON moved.id = p.provider_id
            RETURNING *;
            GET DIAGNOSTICS posted = ROW_COUNT;
            PERFORM set_config('leadflow.posting', 'off', true);
            IF posted <> jsonb_array_length(postings) THEN
                RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
                    MESSAGE = 'a posting names an unknown provider, or one provider twice';
            END IF;
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION leadflow_refuse_unposted_balance() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION USING ERRCODE = 'LF002',
                MESSAGE = 'a balance changes only through leadflow_post_entries';
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER providers_balance_from_ledger BEFORE UPDATE OF balance_cents ON providers
        FOR EACH ROW WHEN (OLD.balance_cents IS DISTINCT FROM NEW.balance_cents
                           AND current_setting('leadflow.posting', true) IS DISTINCT FROM 'on')
        EXECUTE FUNCTION leadflow_refuse_unposted_balance()
        """
    )
    op.execute(
        """
        CREATE TRIGGER providers_balance_starts_at_zero BEFORE INSERT ON providers
        FOR EACH ROW WHEN (NEW.balance_cents <> 0)
        EXECUTE FUNCTION leadflow_refuse_unposted_balance()
        """
    )
    op.execute(
        """
        CREATE TRIGGER ledger_entries_posted BEFORE INSERT ON ledger_entries
        FOR EACH ROW WHEN (current_setting('leadflow.posting', true) IS DISTINCT FROM 'on')
        EXECUTE FUNCTION leadflow_refuse_unposted_balance()
        """
    )
    op.execute(
        """
        CREATE FUNCTION leadflow_refuse_ledger_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION USING ERRCODE = 'LF002',
                MESSAGE = 'ledger entries are never changed: post a new one';
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER ledger_entries_immutable BEFORE UPDATE OR DELETE ON ledger_entries
        FOR EACH STATEMENT EXECUTE FUNCTION leadflow_refuse_ledger_change()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER ledger_entries_immutable ON ledger_entries")
    op.execute("DROP FUNCTION leadflow_refuse_ledger_change()")
    op.execute("DROP TRIGGER ledger_entries_posted ON ledger_entries")
    op.execute("DROP TRIGGER providers_balance_starts_at_zero ON providers")
    op.execute("DROP TRIGGER providers_balance_from_ledger ON providers")
    op.execute("DROP FUNCTION leadflow_refuse_unposted_balance()")
    op.execute("DROP FUNCTION leadflow_post_entries(jsonb)")
    op.execute("DROP FUNCTION leadflow_affords(bigint, bigint)")
    op.drop_index("uq_email_outbox_event_id_template", table_name="email_outbox")
    op.drop_column("email_outbox", "event_id")
    op.drop_index("ix_outbox_events_pending", table_name="outbox_events")
    op.drop_table("outbox_events")
