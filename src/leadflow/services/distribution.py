"""The distribution engine: ``distribute_lead`` sells an approved lead in ONE transaction.

Lock order, the same everywhere, so concurrent distributions never deadlock:
lead -> niche (FOR NO KEY UPDATE) -> providers by id. The candidates are read with the niche
lock (so the LRU order is exact: only this niche's runs move it) and a plan is made from that
snapshot. The sale then goes out blind, with its mails, audit rows and COMMIT: one statement
that locks the providers in id order and writes only if every balance the plan relied on is
unchanged and every provider still active, so its result is exactly what re-planning under the
locks would give. If not, or if the sale makes a low-balance pause due, the statement aborts
the transaction and the lead is redone on the careful path: the providers whose balances
matter to the plan are locked and the plan is redone with the balances found (when that needs
a provider below one already held, the locks are released to a savepoint and taken again in
order), then the write, the pauses with their mails, and the audit rows.
"""

from __future__ import annotations

import contextlib
import functools
import time
import uuid
from uuid import UUID

import psycopg
import structlog
from psycopg import errors as pg
from psycopg import pq
from psycopg_pool import ConnectionPool

from leadflow import metrics
from leadflow.db import audit, catalog, distribution, leads, outbox, runs
from leadflow.db.connection import Connection, transaction
from leadflow.domain.eligibility import normalize_postal_code
from leadflow.domain.errors import LeadAlreadyDistributed, LeadNotApproved, NotFound
from leadflow.domain.model import Actor, LeadStatus, RunStatus, SkipReason
from leadflow.domain.outcome import classify
from leadflow.domain.results import (
    MAX_STORED_SKIPS,
    AssignmentDetail,
    DistributionResult,
    Preview,
    Selection,
    SkippedProvider,
)
from leadflow.domain.rotation import Rotation
from leadflow.domain.selection import Plan
from leadflow.services import planning, run_records

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
) -> DistributionResult:
    """Distribute one approved lead (SPEC §3). Idempotent: a distributed lead returns its result.

    Raises ``NotFound`` and ``LeadNotApproved`` without writing anything. Any other error rolls
    the attempt back, records its ``failed`` run in a second transaction, and is re-raised.
    """
    started = time.perf_counter()
    blind = True
    retries = 0
    while True:
        try:
            with pool.connection() as conn:
                result, observation = _in_pipeline(
                    conn, lead_id, triggered_by, job_id, started, blind=blind
                )
        except (NotFound, LeadNotApproved):
            raise
        except Exception as exc:
            reason = runs.failed_assumption(exc)
            if blind and reason is not None:
                # The blind commit found its plan outdated and wrote nothing: plan again, with
                # the provider locks taken before the write this time.
                metrics.distribution_careful_reruns_total.labels(reason=reason).inc()
                blind = False
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
            _fail(pool, lead_id, triggered_by, job_id, started, exc)
            raise
        if observation is not None:
            run_records.observe(result, observation)
        return result


def preview_distribution(pool: ConnectionPool[Connection], *, lead_id: UUID) -> Preview:
    """The selection a distribution would make now, without charging, writing or advancing."""
    with transaction(pool) as conn:
        lead = leads.get_lead(conn, lead_id)
        if lead is None:
            raise NotFound("lead", lead_id)
        if lead.status == LeadStatus.DISTRIBUTED:
            raise LeadAlreadyDistributed(f"lead {lead_id} is already distributed")
        if lead.status == LeadStatus.REJECTED:
            raise LeadNotApproved(f"lead {lead_id} is rejected")
        niche = distribution.niche_state(conn, lead.niche_id)
        level_rows = catalog.list_levels(conn, niche.id)
        snapshot, plan = planning.read_snapshot(
            conn, niche, level_rows, lead.postal_code, lead.attributes
        )
        return Preview(
            lead_id=lead_id,
            start_level_order_position=_start_position(snapshot.rotation),
            traversal_order=tuple(level.id for level in snapshot.rotation.traversal),
            selections=tuple(
                Selection(
                    s.candidate.provider_id, s.candidate.subscription_id, s.level.id, s.price_cents
                )
                for s in plan.sales
            ),
            skipped=tuple(_skipped(plan)),
            status=classify(plan, snapshot.mode),
        )


def _in_pipeline(
    conn: Connection,
    lead_id: UUID,
    actor: Actor,
    job_id: int | None,
    started: float,
    *,
    blind: bool,
) -> tuple[DistributionResult, run_records.Observation | None]:
    """One transaction in pipeline mode: statements whose answers are not needed at once go out
    with the next one whose answer is. BEGIN and COMMIT are sent as statements (on a connection
    in autocommit mode for the while) so they travel with the others: psycopg's own BEGIN and
    ``commit()`` each wait for the server in pipeline mode."""
    conn.autocommit = True
    try:
        with conn.pipeline():
            conn.execute("BEGIN")
            done = _distribute(conn, lead_id, actor, job_id, started, blind=blind)
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
    return done


def _distribute(
    conn: Connection,
    lead_id: UUID,
    actor: Actor,
    job_id: int | None,
    started: float,
    *,
    blind: bool,
) -> tuple[DistributionResult, run_records.Observation | None]:
    """The distribution's statements, in two round trips when ``blind``: the locks with the
    reads, then the sale with its mails, audit rows and the caller's COMMIT, sent before the
    sale's guard is known to hold; a refusal aborts the transaction (``leadflow_expect``)."""
    first = distribution.lock_and_read(conn, lead_id)
    lead, niche, level_rows = first.lead, first.niche, first.levels
    if lead is None:
        raise NotFound("lead", lead_id)
    if lead.status == LeadStatus.DISTRIBUTED:
        return _existing_result(conn, lead_id, started), None
    if lead.status != LeadStatus.APPROVED:
        raise LeadNotApproved(f"lead {lead_id} is {lead.status}, not approved")
    assert niche is not None, "an approved lead's niche is locked with it"

    # The first read matched the postal code as SQL normalizes it; it is the engine's read only
    # if that is the engine's normalization too (always, for codes intake accepts).
    usable = first.postal_code_key == normalize_postal_code(lead.postal_code)
    snapshot, plan = planning.read_snapshot(
        conn,
        niche,
        level_rows,
        lead.postal_code,
        lead.attributes,
        first_read=first.candidates if usable else None,
    )
    expected = runs.Expected(
        lru_counter=niche.lru_counter,
        pointer=niche.next_start_level_order_position,
        balances={pid: snapshot.balances[pid] for pid in plan.balance_provider_ids},
    )
    if blind:
        done = _write(conn, lead_id, actor, job_id, started, niche, snapshot, plan, expected, blind)
        assert done is not None, "a blind write either writes or aborts the transaction"
        return done
    # The careful path: the sale in one round trip, provider locks, guarded write and low-balance
    # pause together, and the mails once the pauses are known.
    conn.execute("SAVEPOINT planned_sale")
    done = _write(conn, lead_id, actor, job_id, started, niche, snapshot, plan, expected, False)
    if done is not None:
        return done
    # A balance moved (or a provider was suspended) since the snapshot: plan with the locks.
    conn.execute("ROLLBACK TO SAVEPOINT planned_sale")
    plan = planning.lock_and_plan(conn, snapshot)
    while plan.needs_more:
        # Exact balances made the walk go deeper than the candidates read: read more, lock again.
        conn.execute("ROLLBACK TO SAVEPOINT provider_locks")
        snapshot, _ = planning.read_snapshot(
            conn,
            niche,
            level_rows,
            lead.postal_code,
            lead.attributes,
            limits={
                lid: lim * (4 if lid in plan.needs_more else 1)
                for lid, lim in snapshot.limits.items()
            },
        )
        plan = planning.lock_and_plan(conn, snapshot)
    done = _write(conn, lead_id, actor, job_id, started, niche, snapshot, plan, None, False)
    assert done is not None, "an unguarded write always writes"
    return done


def _write(
    conn: Connection,
    lead_id: UUID,
    actor: Actor,
    job_id: int | None,
    started: float,
    niche: distribution.NicheState,
    snapshot: planning.Snapshot,
    plan: Plan,
    expected: runs.Expected | None,
    blind: bool,
) -> tuple[DistributionResult, run_records.Observation] | None:
    """Write the run of ``plan``: sales, pauses, mails, audit. None if the guard refused.

    ``blind`` sends it all without waiting: a refused guard, or a provider the sale leaves
    unable to pay for a subscription (its pause needs a mail written from the pause's answer),
    then aborts the transaction instead."""
    status = classify(plan, snapshot.mode)
    run_id = uuid.uuid4()
    skipped = _skipped(plan)
    sales = [
        runs.SaleRow(
            assignment_id=uuid.uuid4(),
            provider_id=sale.candidate.provider_id,
            subscription_id=sale.candidate.subscription_id,
            level_id=sale.level.id,
            price_cents=sale.price_cents,
            lru_order=niche.lru_counter + index + 1,
        )
        for index, sale in enumerate(plan.sales)
    ]
    duration_ms = int((time.perf_counter() - started) * 1000)
    run = runs.RunRow(
        id=run_id,
        lead_id=lead_id,
        niche_id=niche.id,
        actor_id=actor.id,
        actor_role=str(actor.role),
        job_id=job_id,
        status=status,
        start_level_order_position=_start_position(snapshot.rotation),
        traversal_order=[level.id for level in snapshot.rotation.traversal],
        skipped=[run_records.skip_json(s) for s in skipped[:MAX_STORED_SKIPS]],
        skipped_total=len(skipped),
        duration_ms=duration_ms,
    )
    write = functools.partial(
        runs.write_run,
        conn,
        run=run,
        sales=sales,
        next_pointer=snapshot.rotation.next_pointer,
        lru_counter=niche.lru_counter + len(sales),
        expected=expected,
    )
    if blind:
        write(
            blind=runs.BlindCommit(
                actor=actor,
                mails=run_records.mails(lead_id, niche.name, plan, sales, snapshot.rows, ()),
                audit=run_records.audit_entries(run, sales, skipped, (), status),
            )
        )
    else:
        written = write()
        # Sent with the write (pipeline); when the guard refused, the savepoint undoes it.
        paused = catalog.pause_unaffordable(conn, sorted(plan.balance_provider_ids))
        if not runs.was_written(written):
            return None
        outbox.enqueue(
            conn, run_records.mails(lead_id, niche.name, plan, sales, snapshot.rows, paused)
        )
        audit.record_many(
            conn, actor, run_records.audit_entries(run, sales, skipped, paused, status)
        )
    result = DistributionResult(
        lead_id=lead_id,
        run_id=run_id,
        status=status,
        start_level_order_position=run.start_level_order_position,
        traversal_order=tuple(run.traversal_order),
        assignments=tuple(
            AssignmentDetail(
                s.assignment_id, s.provider_id, s.subscription_id, s.level_id, s.price_cents
            )
            for s in sales
        ),
        skipped=tuple(skipped),
        skipped_total=len(skipped),
        duration_ms=duration_ms,
    )
    observation = run_records.Observation(
        niche_id=niche.id,
        next_pointer=snapshot.rotation.next_pointer,
        sales=[(s.level_id, s.price_cents) for s in sales],
        first_time_sales=sum(1 for sale in plan.sales if sale.candidate.lru_order is None),
    )
    return result, observation


def _skipped(plan: Plan) -> list[SkippedProvider]:
    return [
        SkippedProvider(s.provider_id, s.subscription_id, s.level_id, s.reason) for s in plan.skips
    ]


def _start_position(rotation: Rotation) -> int | None:
    return rotation.start.order_position if rotation.start else None


def _existing_result(conn: Connection, lead_id: UUID, started: float) -> DistributionResult:
    run = runs.selling_run(conn, lead_id)
    assert run is not None, "a distributed lead has its selling run (invariant 3)"
    return DistributionResult(
        lead_id=lead_id,
        run_id=run["id"],
        status=RunStatus(run["status"]),
        start_level_order_position=run["start_level_order_position"],
        traversal_order=tuple(run["traversal_order"]),
        assignments=tuple(AssignmentDetail(**a) for a in runs.run_assignments(conn, run["id"])),
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
        duration_ms=int((time.perf_counter() - started) * 1000),
        already_distributed=True,
    )


def _fail(
    pool: ConnectionPool[Connection],
    lead_id: UUID,
    actor: Actor,
    job_id: int | None,
    started: float,
    exc: BaseException,
) -> None:
    """Invariant 4: after the rollback, record the failed run and the attempt on their own."""
    duration_ms = int((time.perf_counter() - started) * 1000)
    error = f"{type(exc).__name__}: {exc}"[:2000]
    run_id = uuid.uuid4()
    metrics.distribution_total.labels(status=RunStatus.FAILED).inc()
    metrics.distribution_duration_seconds.observe(duration_ms / 1000)
    log.error("distribution_failed", lead_id=str(lead_id), job_id=job_id, error=type(exc).__name__)
    try:
        with transaction(pool) as conn:
            recorded = runs.record_failed_run(
                conn,
                run_id=run_id,
                lead_id=lead_id,
                actor=actor,
                job_id=job_id,
                duration_ms=duration_ms,
                error=error,
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
