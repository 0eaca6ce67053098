"""SQL of distribution runs: the one statement that writes a run and its sales (guarded when the
plan was made before the provider locks), the failed-run record, and reads of a lead's runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from leadflow.db import audit, outbox
from leadflow.db.connection import Connection, compact
from leadflow.domain.model import Actor

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


# One statement for the whole sale (``{mails}`` and ``{audit}``: their payload inserts). The
# run, its sales and what the plan assumed come in one JSON document, ``%(r)s`` (``_document``,
# unpacked as ``d``, ``expect`` and ``sale``): one value to encode instead of some thirty to
# adapt one by one, which cost the client more than the rest of the write, inside the niche
# lock. Id lists become arrays in InitPlans, so that generic plans still reach the rows through
# their primary keys. The providers whose balances the plan relied on are locked first, in id
# order (MATERIALIZED: a CTE with row locks runs once, before anything reads its rows), and the
# guard (``g.ok``) compares what the locks found with what the plan assumed. A blind write also
# inserts the mails and audit rows and checks, from the balances the charges left, that no
# subscription of these providers must pause (that needs mails this statement lacks): the pause
# condition of ``catalog.pause_unaffordable`` on the balances after the charges. Either refusal
# raises through ``leadflow_expect`` and aborts the transaction.
_WRITE_RUN_OF = """
    WITH d AS MATERIALIZED (
        SELECT * FROM jsonb_to_record(%(r)s)
        AS d(id uuid, lead_id uuid, niche_id uuid, actor_id text, actor_role text, job_id bigint, status text,
             start int, sold int, skipped jsonb, skipped_total int, duration_ms int, next_pointer int,
             lru_counter bigint, unguarded bool, expect_lru bigint, expect_pointer int)
    ),
    expect AS (SELECT * FROM jsonb_to_recordset(%(r)s->'expect') AS e(id uuid, balance bigint)),
    locked AS MATERIALIZED (
        SELECT id, balance_cents, status FROM providers
        WHERE id = ANY(ARRAY(SELECT id FROM expect)) ORDER BY id FOR NO KEY UPDATE
    ),
    g AS (
        SELECT d.*, d.unguarded OR (
            EXISTS (SELECT 1 FROM niches n WHERE n.id = d.niche_id AND n.lru_counter = d.expect_lru
                                             AND n.next_start_level_order_position = d.expect_pointer)
            AND (SELECT count(*) FROM locked p JOIN expect e ON p.id = e.id
                 WHERE p.balance_cents = e.balance AND p.status = 'active')
                = (SELECT count(*) FROM expect)
        ) AS ok FROM d
    ),
    sale AS (
        SELECT * FROM jsonb_to_recordset(%(r)s->'sales')
                 AS t(assignment_id uuid, provider_id uuid, subscription_id uuid, level_id uuid, price bigint, lru_order bigint)
        WHERE (SELECT ok FROM g)
    ),
    run AS (
        INSERT INTO distribution_runs (id, lead_id, niche_id, triggered_by_actor_id, triggered_by_role, job_id,
                                       status, start_level_order_position, traversal_order,
                                       assignments_created, skipped, skipped_total, finished_at, duration_ms)
        SELECT id, lead_id, niche_id, actor_id, actor_role, job_id, status, start,
               ARRAY(SELECT jsonb_array_elements_text(%(r)s->'traversal')::uuid), sold, skipped,
               skipped_total, clock_timestamp(), duration_ms
        FROM g WHERE ok
        RETURNING id
    ),
    charged AS (
        UPDATE providers p SET balance_cents = p.balance_cents - sale.price, updated_at = now()
        FROM sale WHERE p.id = sale.provider_id AND p.id = ANY(ARRAY(SELECT provider_id FROM sale))
        RETURNING p.id, p.balance_cents
    ),
    assigned AS (
        INSERT INTO lead_assignments (id, lead_id, provider_id, subscription_id, competition_level_id,
                                      distribution_run_id, price_charged_cents)
        SELECT sale.assignment_id, d.lead_id, sale.provider_id, sale.subscription_id, sale.level_id, run.id,
               sale.price
        FROM sale, run, d
    ),
    ledger AS (
        INSERT INTO ledger_entries (provider_id, amount_cents, balance_after_cents, kind, assignment_id)
        SELECT sale.provider_id, -sale.price, charged.balance_cents, 'lead_charge', sale.assignment_id
        FROM sale JOIN charged ON charged.id = sale.provider_id
    ),
    served AS (
        UPDATE subscriptions s SET last_received_at = now(), lru_order = sale.lru_order, updated_at = now()
        FROM sale WHERE s.id = sale.subscription_id AND s.id = ANY(ARRAY(SELECT subscription_id FROM sale))
    ),
    lead AS (
        UPDATE leads SET distribution_attempts = distribution_attempts + 1,
                         status = CASE WHEN g.sold > 0 THEN 'distributed' ELSE leads.status END,
                         distributed_at = CASE WHEN g.sold > 0 THEN now() ELSE distributed_at END
        FROM g WHERE leads.id = g.lead_id AND g.ok
    ),
    niche AS (
        UPDATE niches SET next_start_level_order_position = g.next_pointer, lru_counter = g.lru_counter
        FROM g WHERE niches.id = g.niche_id AND g.ok
    ),
    mailed AS ({mails} WHERE (SELECT ok FROM g)),
    audited AS ({audit} WHERE (SELECT ok FROM g))
    SELECT (SELECT ok FROM g) AS ok,
           leadflow_expect((SELECT ok FROM g) OR NOT %(blind)s, '{plan_changed}') AS held,
           leadflow_expect(NOT %(blind)s OR NOT EXISTS (
               SELECT 1 FROM locked p
               LEFT JOIN charged c ON c.id = p.id
               JOIN subscriptions s ON s.provider_id = p.id AND s.status = 'active'
               JOIN competition_levels l ON l.id = s.competition_level_id
               WHERE s.provider_id = ANY(ARRAY(SELECT id FROM locked))
                 AND COALESCE(c.balance_cents, p.balance_cents) < l.price_per_lead_cents
           ), '{pause_needed}') AS no_pause
"""
_WRITE_RUN = compact(
    _WRITE_RUN_OF.format(
        mails=outbox.INSERT_FROM_PAYLOAD,
        audit=audit.INSERT_FROM_PAYLOAD,
        plan_changed=PLAN_CHANGED,
        pause_needed=PAUSE_NEEDED,
    )
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
    mails, _ = outbox.payload(blind.mails if blind else ())
    return conn.execute(
        _WRITE_RUN,
        {
            "r": Jsonb(_document(run, sales, next_pointer, lru_counter, expected)),
            "blind": blind is not None,
            "mails": mails,
            "audit": audit.payload(blind.actor, blind.audit) if blind else Jsonb([]),
        },
    )


def _document(
    run: RunRow,
    sales: Sequence[SaleRow],
    next_pointer: int,
    lru_counter: int,
    expected: Expected | None,
) -> dict[str, Any]:
    """The ``%(r)s`` parameter of ``_WRITE_RUN``: the run, its sales and what the plan assumed."""
    return {
        "id": str(run.id),
        "lead_id": str(run.lead_id),
        "niche_id": str(run.niche_id),
        "actor_id": run.actor_id,
        "actor_role": run.actor_role,
        "job_id": run.job_id,
        "status": str(run.status),
        "start": run.start_level_order_position,
        "traversal": [str(level_id) for level_id in run.traversal_order],
        "sold": len(sales),
        "skipped": run.skipped,
        "skipped_total": run.skipped_total,
        "duration_ms": run.duration_ms,
        "next_pointer": next_pointer,
        "lru_counter": lru_counter,
        "sales": [
            {
                "assignment_id": str(s.assignment_id),
                "provider_id": str(s.provider_id),
                "subscription_id": str(s.subscription_id),
                "level_id": str(s.level_id),
                "price": s.price_cents,
                "lru_order": s.lru_order,
            }
            for s in sales
        ],
        "unguarded": expected is None,
        "expect_lru": expected.lru_counter if expected else 0,
        "expect_pointer": expected.pointer if expected else 0,
        "expect": [
            {"id": str(provider_id), "balance": balance}
            for provider_id, balance in (expected.balances.items() if expected else ())
        ],
    }


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
