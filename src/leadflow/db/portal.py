"""SQL for the provider portal: a provider's own subscriptions and purchased leads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from leadflow.db.connection import Connection
from leadflow.db.rows import record_row
from leadflow.domain.model import AssignmentStatus, SubscriptionStatus


@dataclass(frozen=True, slots=True)
class OwnSubscription:
    id: UUID
    competition_level_id: UUID
    level_name: str
    niche_id: UUID
    niche_name: str
    price_per_lead_cents: int
    status: SubscriptionStatus
    postal_codes: list[str]
    filters: list[Any]
    daily_cap: int | None
    monthly_cap: int | None
    last_received_at: datetime | None


@dataclass(frozen=True, slots=True)
class PurchasedLead:
    assignment_id: UUID
    lead_id: UUID
    niche_id: UUID
    niche_name: str
    competition_level_id: UUID
    level_name: str
    price_charged_cents: int
    status: AssignmentStatus
    assigned_at: datetime
    name: str
    email: str
    phone: str
    postal_code: str
    attributes: dict[str, Any]
    phone_e164: str | None
    consent: dict[str, Any] | None


def own_subscriptions(conn: Connection, provider_id: UUID) -> list[OwnSubscription]:
    with conn.cursor(row_factory=record_row(OwnSubscription)) as cur:
        return cur.execute(
            """
            SELECT s.id, s.competition_level_id, l.name AS level_name, n.id AS niche_id, n.name AS niche_name,
                   l.price_per_lead_cents, s.status, s.postal_codes, s.filters, s.daily_cap, s.monthly_cap,
                   s.last_received_at
            FROM subscriptions s
            JOIN competition_levels l ON l.id = s.competition_level_id
            JOIN niches n ON n.id = l.niche_id
            WHERE s.provider_id = %s
            ORDER BY n.name, l.order_position
            """,
            (provider_id,),
        ).fetchall()


def purchased_leads(
    conn: Connection, provider_id: UUID, *, assignment_id: UUID | None, limit: int, offset: int
) -> tuple[int, list[PurchasedLead]]:
    """The provider's assignments with the leads' contact details, newest first.

    ``assignment_id`` narrows to one; the provider condition is always part of the query, so
    another provider's assignment is simply not found.
    """
    params = {"provider": provider_id, "one": assignment_id, "limit": limit, "offset": offset}
    total_row = conn.execute(
        """
        SELECT count(*) AS n FROM lead_assignments
        WHERE provider_id = %(provider)s AND (%(one)s::uuid IS NULL OR id = %(one)s)
        """,
        params,
    ).fetchone()
    assert total_row is not None
    with conn.cursor(row_factory=record_row(PurchasedLead)) as cur:
        rows = cur.execute(
            """
            SELECT a.id AS assignment_id, a.lead_id, n.id AS niche_id, n.name AS niche_name,
                   a.competition_level_id, cl.name AS level_name, a.price_charged_cents, a.status,
                   a.assigned_at, ld.name, ld.email, ld.phone, ld.postal_code, ld.attributes,
                   ld.phone_e164, ld.consent
            FROM lead_assignments a
            JOIN leads ld ON ld.id = a.lead_id
            JOIN niches n ON n.id = ld.niche_id
            JOIN competition_levels cl ON cl.id = a.competition_level_id
            WHERE a.provider_id = %(provider)s AND (%(one)s::uuid IS NULL OR a.id = %(one)s)
            ORDER BY a.assigned_at DESC, a.id
            LIMIT %(limit)s OFFSET %(offset)s
            """,
            params,
        ).fetchall()
    return int(total_row["n"]), rows


_PURCHASED = """
    SELECT a.id AS assignment_id, a.lead_id, n.id AS niche_id, n.name AS niche_name,
           a.competition_level_id, cl.name AS level_name, a.price_charged_cents, a.status,
           a.assigned_at, ld.name, ld.email, ld.phone, ld.postal_code, ld.attributes,
           ld.phone_e164, ld.consent
    FROM lead_assignments a
    JOIN leads ld ON ld.id = a.lead_id
    JOIN niches n ON n.id = ld.niche_id
    JOIN competition_levels cl ON cl.id = a.competition_level_id
    WHERE a.provider_id = %(provider)s
"""
# Newest first, ties by id, along ``ix_lead_assignments_provider_id_assigned_at`` (read
# backwards; only the rows of one instant are sorted by id).
_OLDER = """
      AND a.assigned_at <= %(at)s AND (a.assigned_at < %(at)s OR a.id > %(id)s)
    ORDER BY a.assigned_at DESC, a.id LIMIT %(limit)s
"""
_NEWER = """
      AND a.assigned_at >= %(at)s AND (a.assigned_at > %(at)s OR a.id < %(id)s)
    ORDER BY a.assigned_at, a.id DESC LIMIT %(limit)s
"""
_FIRST = """
    ORDER BY a.assigned_at DESC, a.id LIMIT %(limit)s
"""


def purchased_leads_from(
    conn: Connection,
    provider_id: UUID,
    *,
    after: tuple[datetime, UUID] | None,
    newer: bool,
    limit: int,
) -> list[PurchasedLead]:
    """Up to ``limit`` of the provider's assignments next to the position ``after``
    (``assigned_at``, ``id``; None: from the newest): older ones or, ``newer``, newer ones;
    newest first either way."""
    at, after_id = (None, None) if after is None else after
    tail = _FIRST if at is None else _NEWER if newer else _OLDER
    params = {"provider": provider_id, "at": at, "id": after_id, "limit": limit}
    with conn.cursor(row_factory=record_row(PurchasedLead)) as cur:
        rows = cur.execute(_PURCHASED + tail, params).fetchall()
    return rows[::-1] if at is not None and newer else rows


def count_purchased_leads(conn: Connection, provider_id: UUID) -> int:
    """Every assignment of the provider."""
    row = conn.execute(
        "SELECT count(*) AS n FROM lead_assignments WHERE provider_id = %s", (provider_id,)
    ).fetchone()
    assert row is not None
    return int(row["n"])
