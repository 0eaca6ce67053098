"""SQL of the distribution engine's reads: the lead, niche and provider locks and the candidate
snapshot. The write of a run is in ``runs``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any
from uuid import UUID

from psycopg.rows import args_row, tuple_row

from leadflow.db.catalog import LevelRecord
from leadflow.db.connection import Connection
from leadflow.db.leads import LeadRecord


@dataclass(frozen=True, slots=True)
class NicheState:
    id: UUID
    name: str
    distribution_mode: str
    next_start_level_order_position: int
    lru_counter: int


# Built from the candidate query's columns by position (``args_row``): the fields are in the
# order of its SELECT list, which a test checks.
@dataclass(frozen=True, slots=True)
class CandidateRow:
    level_id: UUID
    subscription_id: UUID
    provider_id: UUID
    provider_name: str
    provider_email: str
    lru_order: int | None
    # The codes of the subscription's list that decide for this lead: none when it covers every
    # code, else the lead's own code, which the index matched (see ``_CANDIDATES_OF``).
    postal_codes: list[str]
    # The stored filter rules; None when there are none (most subscriptions: no JSON to parse).
    filters: Any
    balance_cents: int
    daily_cap: int | None
    daily_count: int
    monthly_cap: int | None
    monthly_count: int


@dataclass(frozen=True, slots=True)
class LockedProvider:
    id: UUID
    balance_cents: int
    active: bool


def niche_state(conn: Connection, niche_id: UUID) -> NicheState:
    """Read the niche without locking it (the preview); a distribution locks it with its lead."""
    row = conn.execute(
        "SELECT id, name, distribution_mode, next_start_level_order_position, lru_counter"
        " FROM niches WHERE id = %s",
        (niche_id,),
    ).fetchone()
    assert row is not None, "a lead's niche always exists (foreign key)"
    return NicheState(**row)


# The approved lead's niche. Every lookup of "this lead, if approved" reads the lead by id in a
# fenced subquery (OFFSET 0: the status test cannot be pushed into it). Otherwise a generic plan
# made while few leads were approved (the usual state: they are sold within milliseconds) walks
# the status index and filters by id, which costs as many rows as the backlog once one builds
# (4,500 approved leads: 2-3 ms per lookup instead of 0.06 ms), just when the engine must
# catch up.
_APPROVED_NICHE = """
    SELECT d.niche_id FROM (SELECT niche_id, status FROM leads WHERE id = %s OFFSET 0) d
    WHERE d.status = 'approved'"""
# The approved lead's niche, locked, with its levels: one row per level (the niche's columns,
# then the level's), or one row with no level. The levels come from the statement's snapshot,
# which it took before waiting for the niche lock; the niche row itself is read again once
# locked, so its rotation pointer and LRU counter are current. Distributions never change
# levels: only an admin's edit does, and that is not ordered against a distribution either way
# (it may commit just after a read made under the lock as well). One statement, not two, so the
# candidate read follows the lock as closely as the client can send it.
_NICHE_LOCKED_WITH_LEVELS_OF = """
    SELECT n.id, n.name, n.distribution_mode, n.next_start_level_order_position, n.lru_counter,
           l.id, l.niche_id, l.name, l.order_position, l.max_recipients, l.price_per_lead_cents,
           l.is_active, l.created_at, l.updated_at
    FROM niches n LEFT JOIN competition_levels l ON l.niche_id = n.id
    WHERE n.id = ({approved_niche})
    ORDER BY l.order_position
    FOR NO KEY UPDATE OF n"""
_NICHE_LOCKED_WITH_LEVELS = _NICHE_LOCKED_WITH_LEVELS_OF.format(approved_niche=_APPROVED_NICHE)
_NICHE_COLUMNS = len(fields(NicheState))

# How many candidates a level's first read takes: a few more than its seats, so that skips
# rarely make the plan read again.
CANDIDATES_PER_SEAT = 2
EXTRA_CANDIDATES = 8


def first_read_limit(max_recipients: int) -> int:
    """How many candidates the first read of a level with ``max_recipients`` seats takes."""
    return max_recipients * CANDIDATES_PER_SEAT + EXTRA_CANDIDATES


@dataclass(frozen=True, slots=True)
class LockedLead:
    """What the first round trip of a distribution reads, under the lead and niche locks."""

    lead: LeadRecord | None
    niche: NicheState | None
    levels: list[LevelRecord]
    # The first read of each active level's candidates, and the postal code it matched: the
    # lead's code normalized by SQL, which the engine compares with its own normalization.
    candidates: dict[UUID, list[CandidateRow]]
    postal_code_key: str | None


def lock_and_read(conn: Connection, lead_id: UUID) -> LockedLead:
    """Lock the lead, then (only if it is approved) its niche, and read the niche's levels and
    each active level's first candidates: statements that, on a connection in pipeline mode, go
    out in one round trip; the server runs them one after the other, so the lock order stays
    lead -> niche and the levels and candidates are read after the niche lock is held."""
    # Generic plans are as good as custom ones for the engine's statements (the candidate query
    # is shaped for that) and far cheaper to make: custom planning of the candidate query cost
    # more than running it. Only for this transaction.
    conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
    lead_cur = conn.cursor()
    lead_cur.execute(_LEAD_LOCKED, (lead_id,))
    niche_cur = conn.cursor(row_factory=tuple_row)
    niche_cur.execute(_NICHE_LOCKED_WITH_LEVELS, (lead_id,))
    candidates_cur = conn.cursor(row_factory=args_row(CandidateRow))
    candidates_cur.execute(
        _FIRST_CANDIDATES,
        {"lead_id": lead_id, "per_seat": CANDIDATES_PER_SEAT, "extra": EXTRA_CANDIDATES},
    )
    row = lead_cur.fetchone()
    key = row.pop("postal_code_key") if row is not None else None
    lead = LeadRecord(**row) if row is not None else None
    niche_rows = niche_cur.fetchall()
    niche = NicheState(*niche_rows[0][:_NICHE_COLUMNS]) if niche_rows else None
    levels = [LevelRecord(*r[_NICHE_COLUMNS:]) for r in niche_rows if r[_NICHE_COLUMNS] is not None]
    found: dict[UUID, list[CandidateRow]] = {lv.id: [] for lv in levels if lv.is_active}
    for candidate in candidates_cur.fetchall():
        found[candidate.level_id].append(candidate)
    return LockedLead(lead, niche, levels, found, key)


# With the lead, its postal code normalized as the first candidate read matches it (the same
# expression as in ``_FIRST_CANDIDATES``); see ``LockedLead``.
_LEAD_LOCKED = r"""
    SELECT *, upper(regexp_replace(postal_code, '\s', '', 'g')) AS postal_code_key
    FROM leads WHERE id = %s FOR NO KEY UPDATE"""


# Each level's first ``lim`` candidates are the first ``lim`` of two disjoint kinds, each read
# from the index that suits it, so the work stays flat as a level grows:
# - subscriptions covering every postal code, in LRU order from their partial index;
# - subscriptions listing the lead's code, found through the GIN index and then sorted
#   (OFFSET 0 keeps the planner from walking the whole level in LRU order and filtering,
#   which costs as many rows as the level has when few subscriptions list the code). They are
#   sorted before the join, by a key the subquery outputs so that the order carries through
#   it, and the providers are then looked up for the first rows only: with 100,000
#   subscriptions a code has ~150 of them, and joining all before sorting cost ~1 ms.
# Cap counts are read last, for the chosen rows only, from the (subscription_id, assigned_at)
# index. A row's ``postal_codes`` are only those that decide for this lead (none, or the lead's
# code): a list of 50 codes per candidate cost more to send and parse than the rest of the row.
# ``{levels}`` names each level with its limit and the postal code.
_CANDIDATES_OF = """
    SELECT l.level_id, c.subscription_id, c.provider_id, c.provider_name, c.provider_email,
           c.lru_order, c.postal_codes, NULLIF(c.filters, '[]') AS filters, c.balance_cents,
           c.daily_cap,
           CASE WHEN c.daily_cap IS NULL THEN 0 ELSE (
               SELECT count(*) FROM lead_assignments a
               WHERE a.subscription_id = c.subscription_id
                 AND a.assigned_at >= date_trunc('day', now(), 'UTC')
           ) END AS daily_count,
           c.monthly_cap,
           CASE WHEN c.monthly_cap IS NULL THEN 0 ELSE (
               SELECT count(*) FROM lead_assignments a
               WHERE a.subscription_id = c.subscription_id
                 AND a.assigned_at >= date_trunc('month', now(), 'UTC')
           ) END AS monthly_count
    FROM {levels}
    CROSS JOIN LATERAL (
        SELECT * FROM (
            (SELECT s.id AS subscription_id, s.provider_id, p.name AS provider_name,
                    p.email AS provider_email, s.lru_order, '{{}}'::text[] AS postal_codes,
                    s.filters, p.balance_cents, s.daily_cap, s.monthly_cap
             FROM subscriptions s
             JOIN providers p ON p.id = s.provider_id
             WHERE s.competition_level_id = l.level_id AND s.status = 'active'
               AND s.postal_codes = '{{}}'::text[] AND p.status = 'active'
             ORDER BY COALESCE(s.lru_order, 0), s.provider_id
             LIMIT l.lim)
            UNION ALL
            (SELECT s.id, s.provider_id, p.name, p.email, s.lru_order,
                    ARRAY[l.postal_code]::text[], s.filters, p.balance_cents, s.daily_cap,
                    s.monthly_cap
             FROM (SELECT id, provider_id, lru_order, filters, daily_cap, monthly_cap,
                          COALESCE(lru_order, 0) AS lru_key
                   FROM subscriptions
                   WHERE competition_level_id = l.level_id AND status = 'active'
                     AND postal_codes @> ARRAY[l.postal_code]::text[]
                   ORDER BY lru_key, provider_id
                   OFFSET 0) s
             JOIN providers p ON p.id = s.provider_id
             WHERE p.status = 'active'
             ORDER BY s.lru_key, s.provider_id
             LIMIT l.lim)
        ) u
        ORDER BY COALESCE(u.lru_order, 0), u.provider_id
        LIMIT l.lim
    ) c
"""
_CANDIDATES = _CANDIDATES_OF.format(
    levels="""(SELECT u.level_id, u.lim, %(postal_code)s::text
                FROM unnest(%(level_ids)b::uuid[], %(limits)b::int[]) AS u(level_id, lim))
               AS l(level_id, lim, postal_code)"""
)
# The first read, in the lock round trip: the approved lead's active levels, each with its first
# read limit, and the lead's postal code normalized as in ``_LEAD_LOCKED`` (the lead read by id
# behind a fence, as in ``_APPROVED_NICHE``).
_FIRST_CANDIDATES = _CANDIDATES_OF.format(
    levels=r"""(SELECT v.id, v.max_recipients * %(per_seat)s + %(extra)s,
                       upper(regexp_replace(d.postal_code, '\s', '', 'g'))
                FROM (SELECT niche_id, postal_code, status FROM leads WHERE id = %(lead_id)s
                      OFFSET 0) d
                JOIN competition_levels v ON v.niche_id = d.niche_id AND v.is_active
                WHERE d.status = 'approved') AS l(level_id, lim, postal_code)"""
)


def candidates(
    conn: Connection, *, level_limits: Mapping[UUID, int], postal_code: str
) -> dict[UUID, list[CandidateRow]]:
    """The first ``limit`` candidates of each level in LRU order: active subscriptions of active
    providers covering the postal code, with the balance and cap counts the plan needs.

    The two kinds of subscription (everywhere, or listing the code) are disjoint; the first
    ``limit`` of their union are the first ``limit`` of the first ``limit`` of each, so each is
    read from the index that suits it and the work stays flat as a level grows.
    Cap counts come from the (subscription_id, assigned_at) index, only for capped rows.
    """
    if not level_limits:
        return {}
    with conn.cursor(row_factory=args_row(CandidateRow)) as cur:
        rows = cur.execute(
            _CANDIDATES,
            {
                "level_ids": list(level_limits),
                "limits": list(level_limits.values()),
                "postal_code": postal_code,
            },
        ).fetchall()
    found: dict[UUID, list[CandidateRow]] = {level_id: [] for level_id in level_limits}
    for row in rows:
        found[row.level_id].append(row)
    return found


def lock_providers(conn: Connection, provider_ids: Sequence[UUID]) -> dict[UUID, LockedProvider]:
    """Lock providers in id order (the global lock order after lead and niche) and read them."""
    rows = conn.execute(
        """
        SELECT id, balance_cents, status = 'active' AS active FROM providers
        WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE
        """,
        (sorted(provider_ids),),
    ).fetchall()
    return {row["id"]: LockedProvider(**row) for row in rows}
