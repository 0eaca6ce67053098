"""Unsold leads (SPEC §11): the wait of a lead no provider could buy, its resale and its expiry.

- ``leads.unsold_at``: when the lead's latest run sold nothing (the sale writer sets it with the
  run, and clears it with a sale); ``leads.expired_at``: when its ``lead_ttl_hours`` ended the
  wait. A partial index on the waiting leads of a niche, oldest first, is what the resale and
  the expiry read: neither scans a niche's history.
- ``unsold_wakeups``: one row per niche where capacity may have returned (a deposit resumed a
  subscription, a subscription was created or re-activated, a cap window rolled over) while
  leads wait there. ``pass_at`` is stamped by the worker when it starts serving the request:
  a lead whose last run is older than that is offered once more; a later change clears it, so
  changes that come together are served together. ``last_job_id``: the last distribution job
  of the batch in flight; the next batch is queued only once it has run.
- ``distribution_runs.sale_round``: 1 for the lead's sale, 2 for the sale after a return put it
  back (``leads.resold_at``). The unique index of selling runs moves from ``(lead_id,
  trigger)`` to ``(lead_id, sale_round)``: an unsold lead's re-runs are runs with trigger
  ``resale`` too, and one may sell it before a return puts it back for its second sale.
- ``leadflow_redact(text, needles, marker)``: ``text`` with every occurrence of each needle
  (ignoring case) replaced by the marker. An erasure (SPEC §11) runs it over the free text that
  people typed about the lead (a rejection reason, a return's note and decision, their audit
  rows), where the consumer's e-mail or phone may have been copied.

Revision ID: 0015_unsold_leads
Revises: 0014_lead_quality
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015_unsold_leads"
down_revision = "0014_lead_quality"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=True)
TZ = postgresql.TIMESTAMP(timezone=True)


REDACT_FUNCTION = """
CREATE FUNCTION leadflow_redact(t text, needles text[], marker text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    needle text;
    start int;
    pos int;
BEGIN
    IF t IS NULL THEN
        RETURN NULL;
    END IF;
    FOREACH needle IN ARRAY needles LOOP
        CONTINUE WHEN needle IS NULL OR length(needle) < 3;
        -- Literal matches ignoring case, each searched after the marker put in for the last.
        start := 1;
        LOOP
            pos := strpos(lower(substr(t, start)), lower(needle));
            EXIT WHEN pos = 0;
            pos := start + pos - 1;
            t := overlay(t PLACING marker FROM pos FOR length(needle));
            start := pos + length(marker);
        END LOOP;
    END LOOP;
    RETURN t;
END
$$
"""


def upgrade() -> None:
    op.execute(REDACT_FUNCTION)
    op.add_column("leads", sa.Column("unsold_at", TZ, nullable=True))
    op.add_column("leads", sa.Column("expired_at", TZ, nullable=True))
    # Leads approved and waiting after a run that sold nothing (none yet: the column is new).
    op.execute(
        "UPDATE leads l SET unsold_at = r.finished_at FROM ("
        "  SELECT DISTINCT ON (lead_id) lead_id, status, finished_at FROM distribution_runs"
        "  ORDER BY lead_id, started_at DESC) r"
        " WHERE r.lead_id = l.id AND l.status = 'approved' AND r.status = 'no_eligible'"
    )
    op.create_index(
        "ix_leads_unsold",
        "leads",
        ["niche_id", "created_at", "id"],
        postgresql_where=sa.text("status = 'approved' AND unsold_at IS NOT NULL"),
    )
    op.create_table(
        "unsold_wakeups",
        sa.Column("niche_id", UUID, nullable=False),
        sa.Column("requested_at", TZ, nullable=False, server_default=sa.text("now()")),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("pass_at", TZ, nullable=True),
        sa.Column("last_job_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["niche_id"],
            ["niches.id"],
            name=op.f("fk_unsold_wakeups_niche_id_niches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("niche_id", name=op.f("pk_unsold_wakeups")),
    )
    op.add_column(
        "distribution_runs",
        sa.Column("sale_round", sa.SmallInteger(), server_default=sa.text("1"), nullable=False),
    )
    op.execute("UPDATE distribution_runs SET sale_round = 2 WHERE trigger = 'resale'")
    op.create_check_constraint(
        "ck_distribution_runs_sale_round", "distribution_runs", "sale_round IN (1, 2)"
    )
    op.create_index(
        "uq_distribution_runs_lead_id_sale_round_sold",
        "distribution_runs",
        ["lead_id", "sale_round"],
        unique=True,
        postgresql_where=sa.text("assignments_created > 0"),
    )
    op.drop_index("uq_distribution_runs_lead_id_trigger_sold", table_name="distribution_runs")


def downgrade() -> None:
    op.execute("DROP FUNCTION leadflow_redact(text, text[], text)")
    op.create_index(
        "uq_distribution_runs_lead_id_trigger_sold",
        "distribution_runs",
        ["lead_id", "trigger"],
        unique=True,
        postgresql_where=sa.text("assignments_created > 0"),
    )
    op.drop_index("uq_distribution_runs_lead_id_sale_round_sold", table_name="distribution_runs")
    op.drop_constraint("ck_distribution_runs_sale_round", "distribution_runs", type_="check")
    op.drop_column("distribution_runs", "sale_round")
    op.drop_table("unsold_wakeups")
    op.drop_index("ix_leads_unsold", table_name="leads")
    op.drop_column("leads", "expired_at")
    op.drop_column("leads", "unsold_at")
