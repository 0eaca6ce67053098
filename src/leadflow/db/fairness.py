"""SQL for the fairness figures: each subscription of a niche's levels with its sales in a
window of UTC days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from leadflow.db.connection import Connection
from leadflow.db.rows import record_row
from leadflow.domain.model import SubscriptionStatus


@dataclass(frozen=True, slots=True)
class SubscriptionSales:
    level_id: UUID
    subscription_id: UUID
    provider_id: UUID
    provider_name: str
    status: SubscriptionStatus
    sales: int
    weight: int


def subscription_sales(
    conn: Connection, *, niche_id: UUID, level_id: UUID | None, since: date, until: date
) -> list[SubscriptionSales]:
    """The subscriptions that could sell in the window: created before its end and active now,
    or with a sale in it (a subscription's past statuses are not kept). Sales are counted
    returned ones included (a return does not undo the rotation), from the index of caps."""
    with conn.cursor(row_factory=record_row(SubscriptionSales)) as cur:
        return cur.execute(
            """
            WITH bounds AS (
                SELECT (%(since)s::date)::timestamp AT TIME ZONE 'UTC' AS lo,
                       ((%(until)s::date) + 1)::timestamp AT TIME ZONE 'UTC' AS hi
            )
            SELECT s.competition_level_id AS level_id, s.id AS subscription_id, s.provider_id,
                   p.name AS provider_name, s.status, c.n AS sales,
                   s.weight
            FROM bounds, competition_levels cl
            JOIN subscriptions s ON s.competition_level_id = cl.id
            JOIN providers p ON p.id = s.provider_id
            CROSS JOIN LATERAL (
                SELECT count(*) AS n FROM lead_assignments a, bounds b
                WHERE a.subscription_id = s.id AND a.assigned_at >= b.lo AND a.assigned_at < b.hi
            ) c
            WHERE cl.niche_id = %(niche)s AND (%(level)s::uuid IS NULL OR cl.id = %(level)s)
              AND s.created_at < bounds.hi
              AND ((s.status = 'active' AND p.status = 'active') OR c.n > 0)
            ORDER BY p.name, s.id
            """,
            {"niche": niche_id, "level": level_id, "since": since, "until": until},
        ).fetchall()
