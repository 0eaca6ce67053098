"""The event outbox, and balances that move only through the ledger.

- ``outbox_events``: the facts a use case records in its own transaction (``lead.assigned``,
  ``subscription.paused``, ...). A dispatcher in the worker turns each into its consumers'
  work (an e-mail rendered then, later a webhook delivery) in one transaction with marking it
  dispatched, so each consumer's effect happens exactly once per event.
- ``email_outbox.event_id``: the event a mail was made from, unique per template.
- The ledger is the one way a balance moves: inserting a ledger entry applies its amount to
  the provider's balance (and sets ``balance_after_cents``) in a trigger; any other change of
  ``providers.balance_cents``, a provider created with a balance, or an update or delete of a
  ledger entry is refused. "Balance = sum of the ledger" (invariant 1) holds by construction.
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
    op.execute(
        """
        CREATE FUNCTION leadflow_post_ledger_entry() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE providers SET balance_cents = balance_cents + NEW.amount_cents,
                                 updated_at = now()
            WHERE id = NEW.provider_id
            RETURNING balance_cents INTO NEW.balance_after_cents;
            IF NOT FOUND THEN
                RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
                    MESSAGE = 'ledger entry for an unknown provider';
            END IF;
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER ledger_entries_post BEFORE INSERT ON ledger_entries
        FOR EACH ROW EXECUTE FUNCTION leadflow_post_ledger_entry()
        """
    )
    # Nested in the posting trigger (depth 2) the balance may move; anywhere else it may not.
    op.execute(
        """
        CREATE FUNCTION leadflow_refuse_unposted_balance() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF pg_trigger_depth() < 2 THEN
                RAISE EXCEPTION USING ERRCODE = 'LF002',
                    MESSAGE = 'a balance changes only through a ledger entry';
            END IF;
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER providers_balance_from_ledger BEFORE UPDATE OF balance_cents ON providers
        FOR EACH ROW WHEN (OLD.balance_cents IS DISTINCT FROM NEW.balance_cents)
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
    op.execute("DROP TRIGGER providers_balance_starts_at_zero ON providers")
    op.execute("DROP TRIGGER providers_balance_from_ledger ON providers")
    op.execute("DROP FUNCTION leadflow_refuse_unposted_balance()")
    op.execute("DROP TRIGGER ledger_entries_post ON ledger_entries")
    op.execute("DROP FUNCTION leadflow_post_ledger_entry()")
    op.execute("DROP FUNCTION leadflow_affords(bigint, bigint)")
    op.drop_index("uq_email_outbox_event_id_template", table_name="email_outbox")
    op.drop_column("email_outbox", "event_id")
    op.drop_index("ix_outbox_events_pending", table_name="outbox_events")
    op.drop_table("outbox_events")
