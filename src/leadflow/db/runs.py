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
