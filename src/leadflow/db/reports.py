"""SQL for the operator's reports: leads by status, sales and revenue per UTC day, paused
providers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from leadflow.db.connection import Connection
from leadflow.db.rows import record_row


@dataclass(frozen=True, slots=True)
class DayRow:
    day: date
    leads: int
    sales: int
    revenue_cents: int
    refunds_cents: int


@dataclass(frozen=True, slots=True)
class PausedProvider:
    id: UUID
    name: str
    balance_cents: int
    paused_subscriptions: int


# The reports are planned for their window each time (``prepare=False``): once psycopg has
# prepared a statement, PostgreSQL may settle on a generic plan made without the window's
# dates, which reads the leads of a 30-day window about three times slower (P8's dashboard:
# 27 ms with custom plans, 76 ms from the ninth request on).


def lead_counts(
    conn: Connection, *, since: date, until: date, niche_id: UUID | None
) -> list[tuple[date, str, int]]:
    """Leads that arrived on the UTC days ``since``..``until``, per day and current status."""
    rows = conn.execute(
        """
        SELECT (created_at AT TIME ZONE 'UTC')::date AS day, status, count(*) AS n FROM leads
        WHERE created_at >= (%(since)s::date)::timestamp AT TIME ZONE 'UTC'
          AND created_at < ((%(until)s::date) + 1)::timestamp AT TIME ZONE 'UTC'
          AND (%(niche)s::uuid IS NULL OR niche_id = %(niche)s)
        GROUP BY 1, 2
        """,
        {"since": since, "until": until, "niche": niche_id},
        prepare=False,
    ).fetchall()
    return [(row["day"], str(row["status"]), int(row["n"])) for row in rows]


def money_days(
    conn: Connection, *, since: date, until: date, niche_id: UUID | None
) -> list[DayRow]:
    """One row per UTC day ``since``..``until``: sales, revenue and refunds (``leads`` is 0
    here; the caller adds them from ``lead_counts``)."""
    with conn.cursor(row_factory=record_row(DayRow)) as cur:
        return cur.execute(
            """
            WITH days AS (
                SELECT d::date AS day FROM generate_series(%(since)s::date, %(until)s::date,
                                                           interval '1 day') AS d
            ), bounds AS (
                SELECT (%(since)s::date)::timestamp AT TIME ZONE 'UTC' AS lo,
                       ((%(until)s::date) + 1)::timestamp AT TIME ZONE 'UTC' AS hi
            ), sale_days AS (
                SELECT (a.assigned_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n,
                       sum(a.price_charged_cents) AS cents
                FROM lead_assignments a
                JOIN competition_levels cl ON cl.id = a.competition_level_id, bounds
                WHERE a.assigned_at >= bounds.lo AND a.assigned_at < bounds.hi
                  AND (%(niche)s::uuid IS NULL OR cl.niche_id = %(niche)s)
                GROUP BY 1
            ), refund_days AS (
                SELECT (e.created_at AT TIME ZONE 'UTC')::date AS day, sum(e.amount_cents) AS cents
                FROM ledger_entries e
                LEFT JOIN lead_assignments a ON a.id = e.assignment_id
                LEFT JOIN competition_levels cl ON cl.id = a.competition_level_id, bounds
                WHERE e.kind = 'refund' AND e.created_at >= bounds.lo AND e.created_at < bounds.hi
                  AND (%(niche)s::uuid IS NULL OR cl.niche_id = %(niche)s)
                GROUP BY 1
            )
            SELECT days.day, 0 AS leads, COALESCE(sale_days.n, 0) AS sales,
                   COALESCE(sale_days.cents, 0)::bigint AS revenue_cents,
                   COALESCE(refund_days.cents, 0)::bigint AS refunds_cents
            FROM days
            LEFT JOIN sale_days USING (day)
            LEFT JOIN refund_days USING (day)
            ORDER BY days.day
            """,
            {"since": since, "until": until, "niche": niche_id},
            prepare=False,
        ).fetchall()


def paused_for_balance(conn: Connection, *, limit: int) -> list[PausedProvider]:
    """Providers with subscriptions paused for a low balance, most paused first."""
    with conn.cursor(row_factory=record_row(PausedProvider)) as cur:
        return cur.execute(
            """
            SELECT p.id, p.name, p.balance_cents, count(*) AS paused_subscriptions
            FROM subscriptions s JOIN providers p ON p.id = s.provider_id
            WHERE s.status = 'paused_low_balance'
            GROUP BY p.id ORDER BY count(*) DESC, p.name LIMIT %s
            """,
            (limit,),
        ).fetchall()
