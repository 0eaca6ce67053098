"""The one writer of a sale (``write_sale``), the failed-run record, and reads of a lead's runs.

The statements are in ``sql/sale.sql``. A sale writes with or without a guard: a plan made
before the provider locks sends ``SaleGuard`` (what it assumed), which locks those providers
and aborts the transaction if anything moved; a plan made with the locks held sends none.
Either way the statements go out without waiting for answers, so on a connection in pipeline
mode the whole sale and its COMMIT travel in one round trip.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from leadflow.db import audit, events, ledger, queries
from leadflow.db.connection import Connection
from leadflow.domain.model import Actor, RunTrigger
from leadflow.domain.sale import SaleDraft, skip_json

_SQL = queries.load("sale.sql")

# The SQLSTATE and message of ``leadflow_expect`` when a guarded sale's plan no longer holds.
ASSUMPTION_FAILED = "LF001"
PLAN_CHANGED = "plan_changed"


def plan_changed(exc: BaseException) -> bool:
    """Whether ``exc`` is a guarded sale's refusal (nothing was written)."""
    return (
        isinstance(exc, psycopg.Error)
        and exc.sqlstate == ASSUMPTION_FAILED
        and exc.diag is not None
        and exc.diag.message_primary == PLAN_CHANGED
    )


@dataclass(frozen=True, slots=True)
class SaleGuard:
    """What a plan made before the provider locks assumed: the balances of the providers whose
    balance decided something, all of them active, and the locked niche's LRU counter and
    rotation pointer as read."""

    niche_id: UUID
    lru_counter: int
    pointer: int
    balances: Mapping[UUID, int]
    # The lead whose consumer none of those providers may have bought since the plan's read
    # (``duplicate_consumer``); None when the lead has no duplicate key to match.
    consumer_lead_id: UUID | None = None


def write_sale(conn: Connection, draft: SaleDraft, guard: SaleGuard | None) -> None:
    """Send everything the committed run of ``draft`` writes: the guard (if any), the run, its
    assignments, LRU moves, lead and niche updates, ledger postings, low-balance pauses, events
    and audit rows. Nothing waits for an answer; a refused guard aborts the transaction, and
    the caller's COMMIT with it."""
    if guard is not None:
        conn.execute(
            _SQL["guard_sale"],
            {
                "expect": Jsonb(
                    [{"id": str(pid), "balance": b} for pid, b in guard.balances.items()]
                ),
                "niche_id": guard.niche_id,
                "lru_counter": guard.lru_counter,
                "pointer": guard.pointer,
            },
        )
        if guard.consumer_lead_id is not None and guard.balances:
            conn.execute(
                _SQL["guard_consumer"],
                {"lead_id": guard.consumer_lead_id, "ids": list(guard.balances)},
            )
    conn.execute(_SQL["write_sale"], {"r": Jsonb(document(draft))})
    if draft.postings:
        ledger.send_postings(conn, draft.postings)
    if draft.review_provider_ids:
        conn.execute(
            _SQL["pause_unaffordable"],
            {
                "ids": list(draft.review_provider_ids),
                "run_id": str(draft.run.id),
                "actor_id": draft.run.actor.id,
                "actor_role": str(draft.run.actor.role),
            },
        )
    events.record(conn, draft.events)
    audit.record_many(conn, draft.run.actor, draft.audit)


def document(draft: SaleDraft) -> dict[str, Any]:
    """The ``%(r)s`` parameter of ``write_sale``: the run, its sales with the windows their
    tallies count in, the changed credits and the levels that switched order."""
    run = draft.run
    return {
        "id": str(run.id),
        "lead_id": str(run.lead_id),
        "niche_id": str(run.niche_id),
        "actor_id": run.actor.id,
        "actor_role": str(run.actor.role),
        "job_id": run.job_id,
        "status": str(run.status),
        "start": run.start_level_order_position,
        "traversal": [str(level_id) for level_id in run.traversal_order],
        "sold": len(draft.sales),
        "skipped": [skip_json(s) for s in run.stored_skips],
        "skipped_total": len(run.skipped),
        "duration_ms": run.duration_ms,
        "trigger": str(run.trigger),
        "next_pointer": draft.next_pointer,
        "lru_counter": draft.lru_counter,
        "now": draft.now.isoformat(),
        "level_rules": [rule.as_json() for rule in run.level_rules],
        "sales": [
            {
                "assignment_id": str(s.assignment_id),
                "provider_id": str(s.provider_id),
                "subscription_id": str(s.subscription_id),
                "level_id": str(s.level_id),
                "price": s.price_cents,
                "lru_order": s.lru_order,
                "hour_key": s.windows.hour,
                "day_key": s.windows.day,
                "week_key": s.windows.week,
                "month_key": s.windows.month,
            }
            for s in draft.sales
        ],
        # SPEC §12: the weighted credits the picks changed, and the levels whose order switched.
        "credits": [
            {"subscription_id": str(c.subscription_id), "credit": c.credit, "epoch": c.epoch}
            for c in draft.credits
        ],
        "rotations": [
            {"level_id": str(r.level_id), "weighted": r.weighted, "epoch": r.credit_epoch}
            for r in draft.switched_levels
        ],
    }


def record_failed_run(
    conn: Connection,
    *,
    run_id: UUID,
    lead_id: UUID,
    actor: Actor,
    job_id: int | None,
    duration_ms: int,
    error: str,
    trigger: RunTrigger,
) -> bool:
    """In its own transaction after a rollback: the ``failed`` run and the attempt count.
    Only while the lead is still ``approved``; returns whether anything was written."""
    row = conn.execute(
        _SQL["record_failed_run"],
        {
            "run_id": run_id,
            "lead_id": lead_id,
            "actor_id": actor.id,
            "actor_role": str(actor.role),
            "job_id": job_id,
            "duration_ms": duration_ms,
            "error": error,
            "trigger": str(trigger),
        },
    ).fetchone()
    return row is not None


def selling_run(conn: Connection, lead_id: UUID) -> dict[str, Any] | None:
    """The run that sold the lead last (its resale, if it was resold)."""
    return conn.execute(_SQL["selling_run"], (lead_id,)).fetchone()


def run_assignments(conn: Connection, run_id: UUID) -> list[dict[str, Any]]:
    return conn.execute(_SQL["run_assignments"], (run_id,)).fetchall()
