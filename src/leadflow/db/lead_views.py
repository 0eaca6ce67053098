"""SQL for the lead reads and writes of intake and the admin API: intake insert, confirmation,
lead and assignment views."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg.types.json import Jsonb

from leadflow.db import limits
from leadflow.db.connection import AsyncConnection, Connection
from leadflow.db.rows import record_row
from leadflow.domain.model import AssignmentStatus, LeadStatus


@dataclass(frozen=True, slots=True)
class IntakeRow:
    """The active niche found by slug, and the lead stored in it: ``id`` and ``status`` are None
    when the lead was not stored: the rate limit refused it, the niche requires consent it did
    not carry, its phone was read in another region than the niche's (``region_matches``), or
    the statement was told to leave a niche requiring confirmation alone."""

    niche_name: str
    require_confirmation: bool
    default_region: str
    region_matches: bool
    consent_missing: bool
    id: UUID | None
    status: str | None
    duplicate_of: UUID | None
    rate_limited: bool


# One statement: the rate-limit hit (when there is a limit), the duplicate check and the lead
# (with an audit row when it is a duplicate), or none of them. The niche decides the status; the
# token hash is kept only when a confirmation is to be mailed. ``leadflow_duplicate_of``
# (migration 0014) locks the consumer's keys until this statement commits and looks up the
# earliest lead of either key in the niche's window with a fresh snapshot, so two leads of one
# consumer at the same instant give exactly one that is not a duplicate. No row: no such niche.
_INSERT_INTAKE_LEAD = sql.SQL("""
    WITH n AS (
        SELECT id, name, require_confirmation, require_consent, duplicate_window_days,
               default_region,
               %(region)s::text IS NULL OR default_region = %(region)s AS region_matches,
               require_consent AND %(consent)s::jsonb IS NULL AS consent_missing
        FROM niches WHERE slug = %(slug)s AND is_active
    ), taken AS (
        SELECT * FROM n
        WHERE (%(confirmable)s OR NOT n.require_confirmation) AND n.region_matches
          AND NOT n.consent_missing
    ), hit AS ({hit}), dup AS (
        SELECT leadflow_duplicate_of(taken.id, %(phone_e164)s, %(email_normalized)s,
                                     taken.duplicate_window_days) AS original
        FROM taken
        WHERE %(hit_key)s::text IS NULL OR EXISTS (SELECT FROM hit)
    ), lead AS (
        INSERT INTO leads (niche_id, name, email, phone, postal_code, attributes, status,
                           confirmation_token_hash, phone_e164, email_normalized, duplicate_of,
                           consent)
        SELECT taken.id, %(name)s, %(email)s, %(phone)s, %(postal_code)s, %(attributes)s,
               CASE WHEN dup.original IS NOT NULL THEN 'duplicate'
                    WHEN taken.require_confirmation THEN 'pending_confirmation'
                    ELSE 'pending_approval' END,
               CASE WHEN dup.original IS NULL AND taken.require_confirmation THEN %(token_hash)s END,
               %(phone_e164)s, %(email_normalized)s, dup.original, %(consent)s
        FROM taken CROSS JOIN dup
        RETURNING id, status, duplicate_of
    ), noted AS (
        INSERT INTO audit_log (actor_role, action, entity_type, entity_id, metadata)
        SELECT 'public', 'lead.duplicate', 'lead', lead.id::text,
               jsonb_build_object('duplicate_of', lead.duplicate_of)
        FROM lead WHERE lead.duplicate_of IS NOT NULL
    )
    SELECT n.name AS niche_name, n.require_confirmation, n.default_region, n.region_matches,
           n.consent_missing, lead.id, lead.status, lead.duplicate_of,
           lead.id IS NULL AND EXISTS (SELECT FROM taken) AS rate_limited
    FROM n LEFT JOIN lead ON true
""").format(
    hit=limits.HIT_UNDER_LIMIT.format(
        source=sql.SQL("FROM taken WHERE %(hit_key)s::text IS NOT NULL")
    )
)


@dataclass(frozen=True, slots=True)
class IntakeLead:
    """A submitted lead as intake stores it. ``region`` is the region its phone was read in, or
    None when the phone carried its country code (then any niche's region reads it alike)."""

    niche_slug: str
    name: str
    email: str
    phone: str
    postal_code: str
    attributes: dict[str, Any]
    confirmation_token_hash: str
    phone_e164: str
    email_normalized: str
    region: str | None
    consent: dict[str, Any] | None


def _intake_params(
    lead: IntakeLead, hit: limits.Hit | None, *, confirmable: bool
) -> dict[str, Any]:
    return {
        "slug": lead.niche_slug,
        "name": lead.name,
        "email": lead.email,
        "phone": lead.phone,
        "postal_code": lead.postal_code,
        "attributes": Jsonb(lead.attributes),
        "token_hash": lead.confirmation_token_hash,
        "confirmable": confirmable,
        "phone_e164": lead.phone_e164,
        "email_normalized": lead.email_normalized,
        "region": lead.region,
        "consent": None if lead.consent is None else Jsonb(lead.consent),
        **limits.hit_params(hit),
    }


def insert_intake_lead(
    conn: Connection, lead: IntakeLead, *, hit: limits.Hit | None
) -> IntakeRow | None:
    """Count ``hit`` and insert a lead into an active niche, in one statement; None if no such
    active niche."""
    with conn.cursor(row_factory=record_row(IntakeRow)) as cur:
        return cur.execute(
            _INSERT_INTAKE_LEAD, _intake_params(lead, hit, confirmable=True)
        ).fetchone()


async def insert_intake_lead_unless_confirmation(
    conn: AsyncConnection, lead: IntakeLead, *, hit: limits.Hit | None
) -> IntakeRow | None:
    """The same statement, storing nothing and counting no hit for a niche that requires
    confirmation (whose lead needs its mail in the same transaction)."""
    async with conn.cursor(row_factory=record_row(IntakeRow)) as cur:
        await cur.execute(_INSERT_INTAKE_LEAD, _intake_params(lead, hit, confirmable=False))
        return await cur.fetchone()


def confirm_by_token(
    conn: Connection, token_hash: str, *, valid_seconds: int
) -> tuple[UUID, str] | None:
    """Move the lead holding this confirmation token to ``pending_approval``; the token dies.
    A token older than ``valid_seconds`` (counted from the lead's intake) confirms nothing."""
    row = conn.execute(
        """
        UPDATE leads SET status = 'pending_approval', confirmed_at = now(), confirmation_token_hash = NULL
        WHERE confirmation_token_hash = %s AND status = 'pending_confirmation'
          AND created_at > now() - make_interval(secs => %s)
        RETURNING id, status
        """,
        (token_hash, valid_seconds),
    ).fetchone()
    return None if row is None else (row["id"], row["status"])


def niche_region(conn: Connection, slug: str) -> str | None:
    """The ``default_region`` of the active niche ``slug`` (None: no such niche)."""
    row = conn.execute(
        "SELECT default_region FROM niches WHERE slug = %s AND is_active", (slug,)
    ).fetchone()
    return None if row is None else str(row["default_region"])


async def niche_region_async(conn: AsyncConnection, slug: str) -> str | None:
    """``niche_region`` for the event loop."""
    cur = await conn.execute(
        "SELECT default_region FROM niches WHERE slug = %s AND is_active", (slug,)
    )
    row = await cur.fetchone()
    return None if row is None else str(row["default_region"])


def lock_recipient(conn: Connection, address: str) -> None:
    """Serialize confirmation mails to one recipient (the 10-minute throttle)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(lower(%s), 11))", (address,))


def recent_confirmation_count(conn: Connection, *, to_address: str, within_seconds: int) -> int:
    """Confirmation mails to ``to_address`` in the last ``within_seconds`` (the template is a
    literal, so that the partial index ``ix_email_outbox_confirmations`` serves the count)."""
    row = conn.execute(
        """
        SELECT count(*) AS n FROM email_outbox
        WHERE to_address = %s AND template = 'lead_confirmation'
          AND created_at > now() - make_interval(secs => %s)
        """,
        (to_address, within_seconds),
    ).fetchone()
    assert row is not None
    return int(row["n"])


@dataclass(frozen=True, slots=True)
class LeadView:
    """A lead as the admin API shows it: every field, with the niche's slug."""

    id: UUID
    niche_id: UUID
    niche: str
    name: str
    email: str
    phone: str
    postal_code: str
    attributes: dict[str, Any]
    status: LeadStatus
    rejection_reason: str | None
    created_at: datetime
    confirmed_at: datetime | None
    approved_at: datetime | None
    rejected_at: datetime | None
    distributed_at: datetime | None
    distribution_attempts: int
    phone_e164: str | None
    email_normalized: str | None
    duplicate_of: UUID | None
    consent: dict[str, Any] | None
    erased_at: datetime | None
    unsold_at: datetime | None
    expired_at: datetime | None


# A ``LeadView``'s columns, for every read of one.
_SELECT = """
    SELECT l.id, l.niche_id, n.slug AS niche, l.name, l.email, l.phone, l.postal_code,
           l.attributes, l.status, l.rejection_reason, l.created_at, l.confirmed_at,
           l.approved_at, l.rejected_at, l.distributed_at, l.distribution_attempts,
           l.phone_e164, l.email_normalized, l.duplicate_of, l.consent, l.erased_at,
           l.unsold_at, l.expired_at
    FROM leads l JOIN niches n ON n.id = l.niche_id
"""


def get_lead_view(conn: Connection, lead_id: UUID) -> LeadView | None:
    with conn.cursor(row_factory=record_row(LeadView)) as cur:
        return cur.execute(_SELECT + " WHERE l.id = %s", (lead_id,)).fetchone()


_FILTERS = """
    WHERE (%(status)s::text IS NULL OR l.status = %(status)s)
      AND (%(niche)s::uuid IS NULL OR l.niche_id = %(niche)s)
"""
# After a cursor (older rows) and before one (newer, read upwards, then turned round): both
# walk ``ix_leads_created_at_id`` (or the status one) from the cursor, skipping nothing.
_OLDER = """
      AND l.created_at <= %(at)s AND (l.created_at < %(at)s OR l.id > %(id)s)
    ORDER BY l.created_at DESC, l.id LIMIT %(limit)s
"""
_NEWER = """
      AND l.created_at >= %(at)s AND (l.created_at > %(at)s OR l.id < %(id)s)
    ORDER BY l.created_at, l.id DESC LIMIT %(limit)s
"""
_FIRST = """
    ORDER BY l.created_at DESC, l.id LIMIT %(limit)s
"""


def lead_views_from(
    conn: Connection,
    *,
    status: str | None,
    niche_id: UUID | None,
    after: tuple[datetime, UUID] | None,
    newer: bool,
    limit: int,
) -> list[LeadView]:
    """Up to ``limit`` leads next to the cursor ``after`` (``created_at``, ``id``) in the list's
    order (newest first): the older ones, or with ``newer`` the newer ones; no cursor, the
    first."""
    at, after_id = (None, None) if after is None else after
    tail = _FIRST if at is None else _NEWER if newer else _OLDER
    params = {"status": status, "niche": niche_id, "at": at, "id": after_id, "limit": limit}
    with conn.cursor(row_factory=record_row(LeadView)) as cur:
        rows = cur.execute(_SELECT + _FILTERS + tail, params).fetchall()
    return rows[::-1] if at is not None and newer else rows


def count_lead_views(conn: Connection, *, status: str | None, niche_id: UUID | None) -> int:
    row = conn.execute(
        """
        SELECT count(*) AS n FROM leads l
        WHERE (%(status)s::text IS NULL OR l.status = %(status)s)
          AND (%(niche)s::uuid IS NULL OR l.niche_id = %(niche)s)
        """,
        {"status": status, "niche": niche_id},
    ).fetchone()
    assert row is not None
    return int(row["n"])


def list_lead_views(
    conn: Connection, *, status: str | None, niche_id: UUID | None, limit: int, offset: int
) -> tuple[int, list[LeadView]]:
    """Newest first; the total counts every match."""
    params = {"status": status, "niche": niche_id, "limit": limit, "offset": offset}
    total_row = conn.execute(
        """
        SELECT count(*) AS n FROM leads l
        WHERE (%(status)s::text IS NULL OR l.status = %(status)s)
          AND (%(niche)s::uuid IS NULL OR l.niche_id = %(niche)s)
        """,
        params,
    ).fetchone()
    assert total_row is not None
    with conn.cursor(row_factory=record_row(LeadView)) as cur:
        rows = cur.execute(
            _SELECT
            + _FILTERS
            + " ORDER BY l.created_at DESC, l.id LIMIT %(limit)s OFFSET %(offset)s",
            params,
        ).fetchall()
    return int(total_row["n"]), rows


@dataclass(frozen=True, slots=True)
class AssignmentView:
    assignment_id: UUID
    lead_id: UUID
    provider_id: UUID
    provider_name: str
    subscription_id: UUID
    competition_level_id: UUID
    level_name: str
    price_charged_cents: int
    assigned_at: datetime
    status: AssignmentStatus


def list_lead_assignments(
    conn: Connection, lead_id: UUID, *, limit: int, offset: int
) -> tuple[int, list[AssignmentView]]:
    """A lead's assignments, newest first."""
    total_row = conn.execute(
        "SELECT count(*) AS n FROM lead_assignments WHERE lead_id = %s", (lead_id,)
    ).fetchone()
    assert total_row is not None
    with conn.cursor(row_factory=record_row(AssignmentView)) as cur:
        rows = cur.execute(
            """
            SELECT a.id AS assignment_id, a.lead_id, a.provider_id, p.name AS provider_name,
                   a.subscription_id, a.competition_level_id, cl.name AS level_name,
                   a.price_charged_cents, a.assigned_at, a.status
            FROM lead_assignments a
            JOIN providers p ON p.id = a.provider_id
            JOIN competition_levels cl ON cl.id = a.competition_level_id
            WHERE a.lead_id = %s
            ORDER BY a.assigned_at DESC, a.id
            LIMIT %s OFFSET %s
            """,
            (lead_id, limit, offset),
        ).fetchall()
    return int(total_row["n"]), rows


def lead_exists(conn: Connection, lead_id: UUID) -> bool:
    return conn.execute("SELECT 1 FROM leads WHERE id = %s", (lead_id,)).fetchone() is not None
