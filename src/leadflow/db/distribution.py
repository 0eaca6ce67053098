"""SQL of the distribution engine: locks, the candidate snapshot, and the bulk write of a run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from leadflow.db import audit, outbox
from leadflow.db.catalog import LevelRecord
from leadflow.db.connection import Connection, compact
from leadflow.db.leads import LeadRecord
from leadflow.domain.model import Actor


@dataclass(frozen=True, slots=True)
class NicheState:
    id: UUID
    name: str
    distribution_mode: str
    next_start_level_order_position: int
    lru_counter: int


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
_LEADS_NICHE_LOCKED_OF = """
    SELECT id, name, distribution_mode, next_start_level_order_position, lru_counter FROM niches
    WHERE id = ({approved_niche})
    FOR NO KEY UPDATE"""
_LEADS_NICHE_LOCKED = _LEADS_NICHE_LOCKED_OF.format(approved_niche=_APPROVED_NICHE)
_LEVELS_OF = """
    SELECT l.* FROM competition_levels l WHERE l.niche_id = ({approved_niche})
    ORDER BY l.order_position"""
_LEVELS = _LEVELS_OF.format(approved_niche=_APPROVED_NICHE)

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
    niche_cur = conn.cursor(row_factory=class_row(NicheState))
    niche_cur.execute(_LEADS_NICHE_LOCKED, (lead_id,))
    levels_cur = conn.cursor(row_factory=class_row(LevelRecord))
    levels_cur.execute(_LEVELS, (lead_id,))
    candidates_cur = conn.cursor()
    candidates_cur.execute(
        _FIRST_CANDIDATES,
        {"lead_id": lead_id, "per_seat": CANDIDATES_PER_SEAT, "extra": EXTRA_CANDIDATES},
    )
    row = lead_cur.fetchone()
    key = row.pop("postal_code_key") if row is not None else None
    lead = LeadRecord(**row) if row is not None else None
    niche = niche_cur.fetchone()
    levels = levels_cur.fetchall()
    found: dict[UUID, list[CandidateRow]] = {lv.id: [] for lv in levels if lv.is_active}
    for candidate in candidates_cur.fetchall():
        found[candidate["level_id"]].append(CandidateRow(**candidate))
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
           c.lru_order, c.postal_codes, c.filters, c.balance_cents,
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
    rows = conn.execute(
        _CANDIDATES,
        {
            "level_ids": list(level_limits),
            "limits": list(level_limits.values()),
            "postal_code": postal_code,
        },
    ).fetchall()
    found: dict[UUID, list[CandidateRow]] = {level_id: [] for level_id in level_limits}
    for row in rows:
        found[row["level_id"]].append(CandidateRow(**row))
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


# The SQLSTATE and messages of ``leadflow_expect``: a blind write's assumption did not hold.
ASSUMPTION_FAILED = "LF001"
PLAN_CHANGED = "plan_changed"
PAUSE_NEEDED = "pause_needed"


def failed_assumption(exc: BaseException) -> str | None:
    """``PLAN_CHANGED`` or ``PAUSE_NEEDED`` when ``exc`` is a blind write's refusal, else None."""
    if isinstance(exc, psycopg.Error) and exc.sqlstate == ASSUMPTION_FAILED and exc.diag:
        return exc.diag.message_primary
    return None


@dataclass(frozen=True, slots=True)
class Expected:
    """What a plan made before the provider locks assumed: the balances of the providers whose
    balance decided something, all of them active (and, as a check, the locked niche's LRU
    counter and rotation pointer)."""

    lru_counter: int
    pointer: int
    balances: Mapping[UUID, int]


@dataclass(frozen=True, slots=True)
class SaleRow:
    assignment_id: UUID
    provider_id: UUID
    subscription_id: UUID
    level_id: UUID
    price_cents: int
    lru_order: int


@dataclass(frozen=True, slots=True)
class RunRow:
    id: UUID
    lead_id: UUID
    niche_id: UUID
    actor_id: str | None
    actor_role: str
    job_id: int | None
    status: str
    start_level_order_position: int | None
    traversal_order: list[UUID]
    skipped: list[dict[str, str]]
    skipped_total: int
    duration_ms: int


# One statement for the whole sale (``{mails}`` and ``{audit}``: their payload inserts). The providers whose balances the plan relied on are locked
# first, in id order (MATERIALIZED: a CTE with row locks runs once, before anything reads its
# rows), and the guard compares what the locks found with what the plan assumed. A blind write
# also inserts the mails and audit rows and checks, from the balances the charges left, that no
# subscription of these providers must pause (that needs mails this statement lacks): the pause
# condition of ``catalog.pause_unaffordable`` on the balances after the charges. Either refusal
# raises through ``leadflow_expect`` and aborts the transaction.
_WRITE_RUN_OF = """
    WITH locked AS MATERIALIZED (
        SELECT id, balance_cents, status FROM providers
        WHERE id = ANY(%(expect_ids)b::uuid[]) ORDER BY id FOR NO KEY UPDATE
    ),
    guard AS (
        SELECT %(unguarded)s::bool OR (
            EXISTS (SELECT 1 FROM niches WHERE id = %(niche_id)s AND lru_counter = %(expect_lru)s
                                              AND next_start_level_order_position = %(expect_pointer)s)
            AND (SELECT count(*) FROM locked p
                 JOIN unnest(%(expect_ids)b::uuid[], %(expect_balances)b::bigint[]) AS e(id, balance)
                   ON p.id = e.id
                 WHERE p.balance_cents = e.balance AND p.status = 'active')
                = cardinality(%(expect_ids)b::uuid[])
        ) AS ok
    ),
    sale AS (
        SELECT * FROM unnest(%(assignment_ids)b::uuid[], %(provider_ids)b::uuid[], %(subscription_ids)b::uuid[],
                             %(level_ids)b::uuid[], %(prices)b::bigint[], %(lru_orders)b::bigint[])
                 AS t(assignment_id, provider_id, subscription_id, level_id, price, lru_order)
        WHERE (SELECT ok FROM guard)
    ),
    run AS (
        INSERT INTO distribution_runs (id, lead_id, niche_id, triggered_by_actor_id, triggered_by_role, job_id,
                                       status, start_level_order_position, traversal_order,
                                       assignments_created, skipped, skipped_total, finished_at, duration_ms)
        SELECT %(run_id)s, %(lead_id)s, %(niche_id)s, %(actor_id)s, %(actor_role)s, %(job_id)s, %(status)s,
               %(start)s, %(traversal)s, %(sold)s, %(skipped)s, %(skipped_total)s, clock_timestamp(),
               %(duration_ms)s
        WHERE (SELECT ok FROM guard)
        RETURNING id
    ),
    charged AS (
        UPDATE providers p SET balance_cents = p.balance_cents - sale.price, updated_at = now()
        FROM sale WHERE p.id = sale.provider_id AND p.id = ANY(%(provider_ids)b::uuid[])
        RETURNING p.id, p.balance_cents
    ),
    assigned AS (
        INSERT INTO lead_assignments (id, lead_id, provider_id, subscription_id, competition_level_id,
                                      distribution_run_id, price_charged_cents)
        SELECT sale.assignment_id, %(lead_id)s, sale.provider_id, sale.subscription_id, sale.level_id,
               run.id, sale.price
        FROM sale CROSS JOIN run
    ),
    ledger AS (
        INSERT INTO ledger_entries (provider_id, amount_cents, balance_after_cents, kind, assignment_id)
        SELECT sale.provider_id, -sale.price, charged.balance_cents, 'lead_charge', sale.assignment_id
        FROM sale JOIN charged ON charged.id = sale.provider_id
    ),
    served AS (
        UPDATE subscriptions s SET last_received_at = now(), lru_order = sale.lru_order, updated_at = now()
        FROM sale WHERE s.id = sale.subscription_id AND s.id = ANY(%(subscription_ids)b::uuid[])
    ),
    lead AS (
        UPDATE leads SET distribution_attempts = distribution_attempts + 1,
                         status = CASE WHEN %(sold)s > 0 THEN 'distributed' ELSE status END,
                         distributed_at = CASE WHEN %(sold)s > 0 THEN now() ELSE distributed_at END
        WHERE id = %(lead_id)s AND (SELECT ok FROM guard)
    ),
    niche AS (
        UPDATE niches SET next_start_level_order_position = %(next_pointer)s, lru_counter = %(lru_counter)s
        WHERE id = %(niche_id)s AND (SELECT ok FROM guard)
    ),
    mailed AS ({mails} WHERE (SELECT ok FROM guard)),
    audited AS ({audit} WHERE (SELECT ok FROM guard))
    SELECT (SELECT ok FROM guard) AS ok,
           leadflow_expect((SELECT ok FROM guard) OR NOT %(blind)s, %(plan_changed)s) AS held,
           leadflow_expect(NOT %(blind)s OR NOT EXISTS (
               SELECT 1 FROM locked p
               LEFT JOIN charged c ON c.id = p.id
               JOIN subscriptions s ON s.provider_id = p.id AND s.status = 'active'
               JOIN competition_levels l ON l.id = s.competition_level_id
               WHERE s.provider_id = ANY(%(expect_ids)b::uuid[])
                 AND COALESCE(c.balance_cents, p.balance_cents) < l.price_per_lead_cents
           ), %(pause_needed)s) AS no_pause
"""
_WRITE_RUN = compact(
    _WRITE_RUN_OF.format(mails=outbox.INSERT_FROM_PAYLOAD, audit=audit.INSERT_FROM_PAYLOAD)
)


@dataclass(frozen=True, slots=True)
class BlindCommit:
    """What a write sent before its guard is known to hold adds: the run's mails and audit rows.
    With it, a refused guard or a pause the sale makes due aborts the transaction."""

    actor: Actor
    mails: Sequence[outbox.OutgoingMail]
    audit: Sequence[audit.AuditEntry]


def write_run(
    conn: Connection,
    *,
    run: RunRow,
    sales: Sequence[SaleRow],
    next_pointer: int,
    lru_counter: int,
    expected: Expected | None = None,
    blind: BlindCommit | None = None,
) -> psycopg.Cursor[dict[str, Any]]:
    """Everything a committed run changes, in one statement: the run record, each sale's charge,
    ledger entry, assignment and LRU move, the lead's status and attempt count, and the niche's
    rotation pointer and LRU counter. The balance CHECK is the last line of defence.

    With ``expected``, the providers whose balances it lists are locked and nothing is written
    unless they and the niche are still as the plan assumed; ``was_written`` on the returned
    cursor tells. With ``blind``, its mails and audit rows are written too, and a refusal raises
    ``PLAN_CHANGED`` (a pause the sale makes due, ``PAUSE_NEEDED``) through ``leadflow_expect``,
    aborting the transaction, so statements queued behind this one (up to a COMMIT) cannot
    commit."""
    balances = dict(expected.balances) if expected else {}
    mails, _ = outbox.payload(blind.mails if blind else ())
    return conn.execute(
        _WRITE_RUN,
        {
            "assignment_ids": [s.assignment_id for s in sales],
            "provider_ids": [s.provider_id for s in sales],
            "subscription_ids": [s.subscription_id for s in sales],
            "level_ids": [s.level_id for s in sales],
            "prices": [s.price_cents for s in sales],
            "lru_orders": [s.lru_order for s in sales],
            "run_id": run.id,
            "lead_id": run.lead_id,
            "niche_id": run.niche_id,
            "actor_id": run.actor_id,
            "actor_role": run.actor_role,
            "job_id": run.job_id,
            "status": run.status,
            "start": run.start_level_order_position,
            "traversal": run.traversal_order,
            "sold": len(sales),
            "skipped": Jsonb(run.skipped),
            "skipped_total": run.skipped_total,
            "duration_ms": run.duration_ms,
            "next_pointer": next_pointer,
            "lru_counter": lru_counter,
            "unguarded": expected is None,
            "expect_lru": expected.lru_counter if expected else 0,
            "expect_pointer": expected.pointer if expected else 0,
            "expect_ids": list(balances),
            "expect_balances": list(balances.values()),
            "blind": blind is not None,
            "plan_changed": PLAN_CHANGED,
            "pause_needed": PAUSE_NEEDED,
            "mails": mails,
            "audit": audit.payload(blind.actor, blind.audit) if blind else Jsonb([]),
        },
    )


def was_written(cursor: psycopg.Cursor[dict[str, Any]]) -> bool:
    """Whether ``write_run`` wrote (its guard held)."""
    row = cursor.fetchone()
    assert row is not None
    return bool(row["ok"])


def record_failed_run(
    conn: Connection,
    *,
    run_id: UUID,
    lead_id: UUID,
    actor: Actor,
    job_id: int | None,
    duration_ms: int,
    error: str,
) -> bool:
    """In its own transaction after a rollback: the ``failed`` run and the attempt count.
    Only while the lead is still ``approved``; returns whether anything was written."""
    row = conn.execute(
        """
        WITH lead AS (
            UPDATE leads SET distribution_attempts = distribution_attempts + 1
            WHERE id = %(lead_id)s AND status = 'approved'
            RETURNING id, niche_id
        )
        INSERT INTO distribution_runs (id, lead_id, niche_id, triggered_by_actor_id, triggered_by_role, job_id,
                                       status, start_level_order_position, finished_at, duration_ms, error)
        SELECT %(run_id)s, lead.id, lead.niche_id, %(actor_id)s, %(actor_role)s, %(job_id)s, 'failed',
               NULL, clock_timestamp(), %(duration_ms)s, %(error)s
        FROM lead
        RETURNING id
        """,
        {
            "run_id": run_id,
            "lead_id": lead_id,
            "actor_id": actor.id,
            "actor_role": str(actor.role),
            "job_id": job_id,
            "duration_ms": duration_ms,
            "error": error,
        },
    ).fetchone()
    return row is not None


def selling_run(conn: Connection, lead_id: UUID) -> dict[str, Any] | None:
    """The run that sold the lead (there is at most one)."""
    return conn.execute(
        "SELECT * FROM distribution_runs WHERE lead_id = %s AND assignments_created > 0", (lead_id,)
    ).fetchone()


def run_assignments(conn: Connection, run_id: UUID) -> list[dict[str, Any]]:
    return conn.execute(
        """
        SELECT id AS assignment_id, provider_id, subscription_id, competition_level_id, price_charged_cents
        FROM lead_assignments WHERE distribution_run_id = %s ORDER BY assigned_at, id
        """,
        (run_id,),
    ).fetchall()
