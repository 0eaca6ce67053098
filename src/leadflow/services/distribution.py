"""The distribution engine: ``distribute_lead`` sells an approved lead in ONE transaction.

Lock order, the same everywhere, so concurrent distributions never deadlock:
lead -> niche (FOR NO KEY UPDATE) -> providers by id. The candidates are read with the niche
lock (so the LRU order is exact: only this niche's runs move it) and a plan is made from that
snapshot; the pure core drafts the sale (``domain.sale``) and the one writer sends it
(``db.sale.write_sale``). First with a guard and without waiting: the guard locks the providers
in id order and aborts the transaction unless every balance the plan relied on is unchanged
and every provider still active, so the result is exactly what planning under the locks would
give, in two round trips. If the guard refuses, the lead is redone carefully: the providers
whose balances matter are locked first and the plan is made with the balances found (when that
needs a provider below one already held, the locks are released to a savepoint and taken again
in order), then the same draft goes to the same writer without a guard.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg
import structlog
from psycopg import errors as pg
from psycopg import pq
from psycopg_pool import ConnectionPool

from leadflow import metrics
from leadflow.db import audit, catalog, distribution, leads, sale
from leadflow.db.connection import Connection, transaction
from leadflow.domain.eligibility import normalize_postal_code
from leadflow.domain.errors import LeadAlreadyDistributed, LeadNotApproved, NotFound, found
from leadflow.domain.model import Actor, LeadStatus, RunStatus, RunTrigger, SkipReason
from leadflow.domain.outcome import classify
from leadflow.domain.results import (
    AssignmentDetail,
    DistributionResult,
    Preview,
    Selection,
    SkippedProvider,
)
from leadflow.domain.sale import (
    SaleDraft,
    draft_sale,
    level_rules,
    skipped_providers,
    start_position,
)
from leadflow.services import planning, run_metrics

log = structlog.get_logger(__name__)

# Deadlocks and serialization failures are retried in-process this many times (SPEC §3).
MAX_IN_PROCESS_RETRIES = 3
_RETRYABLE = (pg.DeadlockDetected, pg.SerializationFailure)


def distribute_lead(
    pool: ConnectionPool[Connection],
    *,
    lead_id: UUID,
    triggered_by: Actor,
    job_id: int | None = None,
    trigger: RunTrigger = RunTrigger.DISTRIBUTION,
    now: datetime | None = None,
) -> DistributionResult:
    """Distribute one approved lead (SPEC §3). Idempotent: a distributed lead returns its result.
    ``trigger`` says why (a resale of an unsold lead is ``resale``); a lead a return put back is
    always a ``resale``.

    ``now`` is the instant schedules, caps and budgets are decided at and the sale is recorded
    at (SPEC §12); by default the database's clock once the niche is locked.
    Raises ``NotFound`` and ``LeadNotApproved`` without writing anything. Any other error rolls
    the attempt back, records its ``failed`` run in a second transaction, and is re-raised.
    """
    attempt = _Attempt(lead_id, triggered_by, job_id, trigger, time.perf_counter(), now)
    guarded = True
    retries = 0
    while True:
        try:
            with pool.connection() as conn:
                result = _in_pipeline(conn, attempt, guarded)
        except (NotFound, LeadNotApproved):
            raise
        except Exception as exc:
            if guarded and sale.plan_changed(exc):
                # The guarded sale found its plan outdated and wrote nothing: plan again, with
                # the provider locks taken before the write this time.
                metrics.distribution_careful_reruns_total.labels(reason=sale.PLAN_CHANGED).inc()
                guarded = False
                continue
            if isinstance(exc, _RETRYABLE):
                metrics.distribution_retries_total.labels(error=type(exc).__name__).inc()
                if retries < MAX_IN_PROCESS_RETRIES:
                    retries += 1
                    log.warning(
                        "distribution_retrying",
                        lead_id=str(lead_id),
                        error=type(exc).__name__,
                        retry=retries,
                    )
                    continue
            _fail(pool, attempt, exc)
            raise
        return result


def preview_distribution(tx: Connection, *, lead_id: UUID, now: datetime | None = None) -> Preview:
    """The selection a distribution would make now (or at ``now``), without charging, writing
    or advancing."""
    lead = found(leads.get_lead(tx, lead_id), "lead", lead_id)
    if lead.status == LeadStatus.DISTRIBUTED:
        raise LeadAlreadyDistributed(f"lead {lead_id} is already distributed")
    if lead.status == LeadStatus.REJECTED:
        raise LeadNotApproved(f"lead {lead_id} is rejected")
    niche = distribution.niche_state(tx, lead.niche_id)
    level_rows = catalog.list_levels(tx, niche.id)
    rules = distribution.level_rules(tx, lead_id)
    snapshot, plan = planning.read_snapshot(
        tx,
        niche,
        level_rows,
        lead.postal_code,
        lead.attributes,
        rules=rules,
        now=now or rules.now,
        bought=distribution.buyers(tx, lead_id) if lead.resold_at else frozenset(),
        consumer_buyers=distribution.consumer_buyers(tx, lead_id)
        if planning.has_consumer_keys(lead)
        else frozenset(),
    )
    return Preview(
        lead_id=lead_id,
        start_level_order_position=start_position(snapshot.rotation),
        traversal_order=tuple(level.id for level in snapshot.rotation.traversal),
        selections=tuple(
            Selection(
                s.candidate.provider_id, s.candidate.subscription_id, s.level.id, s.price_cents
            )
            for s in plan.sales
        ),
        skipped=skipped_providers(plan),
        status=classify(plan, snapshot.mode),
        level_rules=level_rules(plan.fills),
    )


@dataclass(frozen=True, slots=True)
class _Attempt:
    """Who asked for which lead's distribution, and when the attempt started."""

    lead_id: UUID
    actor: Actor
    job_id: int | None
    trigger: RunTrigger
    started: float
    now: datetime | None = None  # the caller's instant, else the database's at the niche lock

    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)


def _in_pipeline(conn: Connection, attempt: _Attempt, guarded: bool) -> DistributionResult:
    """One transaction in pipeline mode: statements whose answers are not needed at once go out
    with the next one whose answer is. BEGIN and COMMIT are sent as statements (on a connection
    in autocommit mode for the while) so they travel with the others: psycopg's own BEGIN and
    ``commit()`` each wait for the server in pipeline mode. Prometheus learns of the run only
    once it committed."""
    conn.autocommit = True
    try:
        with conn.pipeline():
            conn.execute("BEGIN")
            result, draft = _distribute(conn, attempt, guarded)
            conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(psycopg.Error):
            conn.rollback()
        raise
    finally:
        if conn.pgconn.transaction_status == pq.TransactionStatus.IDLE:
            conn.autocommit = False
        else:
            # The rollback failed: never hand the pool a connection in an unknown state.
            conn.close()
    if draft is not None:
        run_metrics.observe(draft)
    return result


def _distribute(
    conn: Connection, attempt: _Attempt, guarded: bool
) -> tuple[DistributionResult, SaleDraft | None]:
    """The distribution's statements; when ``guarded``, in two round trips: the locks with the
    reads, then the guarded sale with the caller's COMMIT, sent before the guard is known to
    hold (a refusal aborts the transaction)."""
    first = distribution.lock_and_read(conn, attempt.lead_id)
    lead, niche, level_rows = first.lead, first.niche, first.levels
    if lead is None:
        raise NotFound("lead", attempt.lead_id)
    if lead.status == LeadStatus.DISTRIBUTED:
        return _existing_result(conn, attempt), None
    if lead.status != LeadStatus.APPROVED:
        raise LeadNotApproved(f"lead {attempt.lead_id} is {lead.status}, not approved")
    assert niche is not None, "an approved lead's niche is locked with it"

    # The first read matched the postal code as SQL normalizes it; it is the engine's read only
    # if that is the engine's normalization too (always, for codes intake accepts).
    usable = first.postal_code_key == normalize_postal_code(lead.postal_code)
    # A resale (SPEC §9) is the lead's one more distribution: never to a provider that bought
    # it already. Only a resold lead pays for reading who that was (one more round trip).
    resale = lead.resold_at is not None
    assert first.rules is not None, "the rules are read with an approved lead's niche"
    now = attempt.now or first.rules.now
    snapshot, plan = planning.read_snapshot(
        conn,
        niche,
        level_rows,
        lead.postal_code,
        lead.attributes,
        rules=first.rules,
        now=now,
        first_read=first.candidates if usable else None,
        bought=distribution.buyers(conn, attempt.lead_id) if resale else frozenset(),
        consumer_buyers=first.consumer_buyers,
    )
    guard: sale.SaleGuard | None = None
    if guarded:
        guard = sale.SaleGuard(
            niche_id=niche.id,
            lru_counter=niche.lru_counter,
            pointer=niche.next_start_level_order_position,
            balances={pid: snapshot.balances[pid] for pid in plan.balance_provider_ids},
            consumer_lead_id=lead.id if planning.has_consumer_keys(lead) else None,
        )
    else:
        snapshot, plan = planning.plan_with_locks(conn, snapshot, niche, level_rows, lead)
    draft = draft_sale(
        plan,
        snapshot.rotation,
        snapshot.mode,
        lead_id=attempt.lead_id,
        niche_id=niche.id,
        lru_counter=niche.lru_counter,
        actor=attempt.actor,
        job_id=attempt.job_id,
        duration_ms=attempt.elapsed_ms(),
        now=now,
        trigger=RunTrigger.RESALE if resale else attempt.trigger,
    )
    sale.write_sale(conn, draft, guard)
    return draft.result(), draft


def _existing_result(conn: Connection, attempt: _Attempt) -> DistributionResult:
    run = sale.selling_run(conn, attempt.lead_id)
    assert run is not None, "a distributed lead has its selling run (invariant 3)"
    return DistributionResult(
        lead_id=attempt.lead_id,
        run_id=run["id"],
        status=RunStatus(run["status"]),
        start_level_order_position=run["start_level_order_position"],
        traversal_order=tuple(run["traversal_order"]),
        assignments=tuple(AssignmentDetail(**a) for a in sale.run_assignments(conn, run["id"])),
        skipped=tuple(
            SkippedProvider(
                UUID(s["provider_id"]),
                UUID(s["subscription_id"]),
                UUID(s["level_id"]),
                SkipReason(s["reason"]),
            )
            for s in run["skipped"]
        ),
        skipped_total=run["skipped_total"],
        duration_ms=attempt.elapsed_ms(),
        already_distributed=True,
    )


def _fail(pool: ConnectionPool[Connection], attempt: _Attempt, exc: BaseException) -> None:
    """Invariant 4: after the rollback, record the failed run and the attempt on their own."""
    duration_ms = attempt.elapsed_ms()
    lead_id, actor, job_id = attempt.lead_id, attempt.actor, attempt.job_id
    error = f"{type(exc).__name__}: {exc}"[:2000]
    run_id = uuid.uuid4()
    metrics.distribution_total.labels(status=RunStatus.FAILED).inc()
    metrics.distribution_duration_seconds.observe(duration_ms / 1000)
    log.error("distribution_failed", lead_id=str(lead_id), job_id=job_id, error=type(exc).__name__)
    try:
        with transaction(pool) as conn:
            recorded = sale.record_failed_run(
                conn,
                run_id=run_id,
                lead_id=lead_id,
                actor=actor,
                job_id=job_id,
                duration_ms=duration_ms,
                error=error,
                trigger=attempt.trigger,
            )
            if recorded:
                audit.record(
                    conn,
                    actor,
                    "distribution.failed",
                    "lead",
                    lead_id,
                    {"run_id": str(run_id), "job_id": job_id, "error": error},
                )
    except psycopg.Error:
        # The database itself is failing; the job's retry will record the next attempt.
        log.exception("distribution_failure_not_recorded", lead_id=str(lead_id))
