"""Delivery rules (SPEC §12): schedules, more caps, budgets, weights and prices by geography.

- ``subscriptions``: ``schedule`` (``{timezone, hours}``, validated by the service),
  ``hourly_cap`` and ``weekly_cap`` beside the daily and monthly ones, ``daily_budget_cents``
  and ``monthly_budget_cents`` (spend), ``weight`` 1..100 (default 1).
- ``competition_levels``: ``price_overrides`` (``[{postal_prefix, price_cents}]``).
- ``subscription_tallies``: one narrow row per subscription with its sales and spend in the
  current hour, day, week and month of its time zone, each with the key of its window; the sale
  writer keeps it in the sale transaction and the engine reads it with the candidates, so caps
  and budgets cost one primary-key lookup per candidate, however many sales there were. It
  replaces the cap counts the engine took from ``lead_assignments`` (backfilled here for the
  current UTC windows: no subscription had a time zone before).
- ``subscription_credits``: the smooth weighted round-robin credit of each subscription of a
  level whose weights differ, with the level's credit epoch it belongs to. Narrow and with no
  index beside its primary key, so the sale's updates are HOT and touch no GIN index.
- ``level_rotations``: per level, whether its last run used weighted order and its credit
  epoch (a switch to weighted order starts a new epoch: every credit counts as 0).
- Trigger ``subscriptions_reset_credit``: a subscription that becomes ``active`` again starts
  with credit 0 (SPEC §12), whoever re-activates it.
- ``ix_subscriptions_level_weight``: the engine reads a level's smallest and largest active
  weight (are they equal?) from its two ends.
- ``distribution_runs.level_rules``: per level of the run, its order (``lru`` or ``weighted``)
  and whether it switched, for the trace.

Revision ID: 0016_delivery_rules
Revises: 0015_unsold_leads
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016_delivery_rules"
down_revision = "0015_unsold_leads"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=True)

_CAPS = ("hourly_cap", "weekly_cap")
_BUDGETS = ("daily_budget_cents", "monthly_budget_cents")


def upgrade() -> None:
    op.add_column("subscriptions", sa.Column("schedule", postgresql.JSONB(), nullable=True))
    for cap in _CAPS:
        op.add_column("subscriptions", sa.Column(cap, sa.Integer(), nullable=True))
        op.create_check_constraint(
            op.f(f"ck_subscriptions_{cap}_positive"),
            "subscriptions",
            f"{cap} IS NULL OR {cap} >= 1",
        )
    for budget in _BUDGETS:
        op.add_column("subscriptions", sa.Column(budget, sa.BigInteger(), nullable=True))
        op.create_check_constraint(
            op.f(f"ck_subscriptions_{budget}_positive"),
            "subscriptions",
            f"{budget} IS NULL OR {budget} >= 1",
        )
    op.add_column(
        "subscriptions",
        sa.Column("weight", sa.Integer(), server_default=sa.text("1"), nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_subscriptions_weight_range"), "subscriptions", "weight BETWEEN 1 AND 100"
    )
    op.create_check_constraint(
        op.f("ck_subscriptions_schedule_object"),
        "subscriptions",
        "schedule IS NULL OR jsonb_typeof(schedule) = 'object'",
    )
    op.create_index(
        "ix_subscriptions_level_weight",
        "subscriptions",
        ["competition_level_id", "weight"],
        postgresql_where=sa.text("status = 'active'"),
    )

    op.add_column(
        "competition_levels",
        sa.Column(
            "price_overrides",
            postgresql.JSONB(),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )
    op.create_check_constraint(
        op.f("ck_competition_levels_price_overrides_array"),
        "competition_levels",
        "jsonb_typeof(price_overrides) = 'array'",
    )

    op.add_column(
        "distribution_runs",
        sa.Column(
            "level_rules", postgresql.JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
    )

    op.create_table(
        "subscription_tallies",
        sa.Column("subscription_id", UUID, nullable=False),
        sa.Column("hour_key", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("hour_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("day_key", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("day_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("day_spend", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("week_key", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("week_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("month_key", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("month_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("month_spend", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_subscription_tallies_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("subscription_id", name=op.f("pk_subscription_tallies")),
    )
    op.create_table(
        "subscription_credits",
        sa.Column("subscription_id", UUID, nullable=False),
        sa.Column("credit", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("epoch", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_subscription_credits_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("subscription_id", name=op.f("pk_subscription_credits")),
    )
    op.create_table(
        "level_rotations",
        sa.Column("level_id", UUID, nullable=False),
        sa.Column("weighted", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("credit_epoch", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["level_id"],
            ["competition_levels.id"],
            name=op.f("fk_level_rotations_level_id_competition_levels"),
        ),
        sa.PrimaryKeyConstraint("level_id", name=op.f("pk_level_rotations")),
    )

    # The current UTC windows' sales and spend, keyed as ``domain.limits.window_keys`` keys
    # them: the hour by its start in epoch seconds, days and weeks (from Monday) by their
    # proleptic Gregorian ordinal (Python's ``date.toordinal``), months as year * 12 + month - 1.
    op.execute(
        """
        WITH w AS (
            SELECT date_trunc('hour', now(), 'UTC') AS hour_start,
                   date_trunc('day', now(), 'UTC') AS day_start,
                   date_trunc('week', now(), 'UTC') AS week_start,
                   date_trunc('month', now(), 'UTC') AS month_start
        )
        INSERT INTO subscription_tallies (subscription_id, hour_key, hour_count, day_key,
                                          day_count, day_spend, week_key, week_count, month_key,
                                          month_count, month_spend)
        SELECT a.subscription_id,
               extract(epoch FROM w.hour_start)::bigint,
               count(*) FILTER (WHERE a.assigned_at >= w.hour_start),
               ((w.day_start AT TIME ZONE 'UTC')::date - DATE '0001-01-01') + 1,
               count(*) FILTER (WHERE a.assigned_at >= w.day_start),
               COALESCE(sum(a.price_charged_cents) FILTER (WHERE a.assigned_at >= w.day_start), 0),
               ((w.week_start AT TIME ZONE 'UTC')::date - DATE '0001-01-01') + 1,
               count(*) FILTER (WHERE a.assigned_at >= w.week_start),
               (extract(year FROM w.month_start AT TIME ZONE 'UTC') * 12
                + extract(month FROM w.month_start AT TIME ZONE 'UTC') - 1)::int,
               count(*) FILTER (WHERE a.assigned_at >= w.month_start),
               COALESCE(
                   sum(a.price_charged_cents) FILTER (WHERE a.assigned_at >= w.month_start), 0
               )
        FROM lead_assignments a CROSS JOIN w
        WHERE a.assigned_at >= least(w.week_start, w.month_start)
        GROUP BY a.subscription_id, w.hour_start, w.day_start, w.week_start, w.month_start
        """
    )

    op.execute(
        """
        CREATE FUNCTION leadflow_reset_credit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM subscription_credits WHERE subscription_id = NEW.id;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER subscriptions_reset_credit AFTER UPDATE OF status ON subscriptions
        FOR EACH ROW WHEN (OLD.status <> 'active' AND NEW.status = 'active')
        EXECUTE FUNCTION leadflow_reset_credit()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER subscriptions_reset_credit ON subscriptions")
    op.execute("DROP FUNCTION leadflow_reset_credit()")
    op.drop_table("level_rotations")
    op.drop_table("subscription_credits")
    op.drop_table("subscription_tallies")
    op.drop_column("distribution_runs", "level_rules")
    op.drop_constraint(
        op.f("ck_competition_levels_price_overrides_array"), "competition_levels", type_="check"
    )
    op.drop_column("competition_levels", "price_overrides")
    op.drop_index("ix_subscriptions_level_weight", table_name="subscriptions")
    for name in ("schedule_object", "weight_range"):
        op.drop_constraint(op.f(f"ck_subscriptions_{name}"), "subscriptions", type_="check")
    op.drop_column("subscriptions", "weight")
    for column in (*_BUDGETS, *_CAPS):
        op.drop_constraint(
            op.f(f"ck_subscriptions_{column}_positive"), "subscriptions", type_="check"
        )
        op.drop_column("subscriptions", column)
    op.drop_column("subscriptions", "schedule")
