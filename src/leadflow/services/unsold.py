"""Unsold leads (SPEC §11): an approved lead whose run sold nothing waits, is offered again when
capacity may have returned, and expires after its niche's ``lead_ttl_hours``.

What may return capacity calls ``capacity_may_have_returned`` in the transaction of the change:
a deposit or refund that resumes subscriptions, a subscription created or re-activated or
widened, a provider or level re-activated; the worker adds the clock's changes (a schedule
opens, a cap or budget window rolls over, ``wake_on_the_clock``). That writes one wake-up row
per niche (``unsold_wakeups``), never a job per lead: the maintenance tick serves
the wake-ups (``resell_due``), each niche a batch of at most ``RESALE_BATCH`` distribution jobs
(trigger ``resale``), oldest lead first, the next batch only once the last job of the one before
has run, so a deposit that unblocks 50,000 leads neither writes 50,000 jobs in one transaction
nor puts them all in front of the niche's new leads. A lead is offered once per pass (its last
run must predate the pass) and never sooner than ``LEADFLOW_RESALE_MIN_INTERVAL`` seconds after
its last run; changes that come while a pass runs start it over, so they are served together.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import structlog
from psycopg_pool import ConnectionPool

from leadflow import metrics
from leadflow.db import catalog, jobs
from leadflow.db import unsold as db
from leadflow.db.connection import Connection, transaction
from leadflow.domain.clock_wakeups import capacity_returns
from leadflow.domain.errors import InvalidInput
from leadflow.domain.limits import limits_of
from leadflow.domain.model import Actor, RunTrigger
from leadflow.domain.schedule import parse_schedule

log = structlog.get_logger(__name__)

# Jobs queued per niche and batch; wake-ups served per tick; expiries per transaction and tick.
RESALE_BATCH = 500
WAKEUPS_PER_TICK = 50
EXPIRY_BATCH = 500
EXPIRY_BATCHES_PER_TICK = 10
# A pass ends this long after it began at the earliest: a run that read the capacity from before
# the change and committed its no_eligible late is still served by it.
PASS_GRACE_SECONDS = 10
# How often the worker looks at the clock for schedules that opened and cap windows that rolled
# over (every time zone's hour starts on one of its steps; a schedule set to the minute opens
# for waiting leads within one step).
CLOCK_STEP = timedelta(minutes=5)


def capacity_may_have_returned(
    tx: Connection,
    *,
    reason: str,
    niche_ids: Iterable[UUID] = (),
    subscription_ids: Iterable[UUID] = (),
    level_ids: Iterable[UUID] = (),
    provider_ids: Iterable[UUID] = (),
) -> None:
    """In the caller's transaction: the niches of these ids get their unsold leads offered again
    (committed with the change, or not at all)."""
    niches = set(niche_ids)
    subscription_ids, level_ids, provider_ids = (
        list(subscription_ids),
        list(level_ids),
        list(provider_ids),
    )
    if subscription_ids or level_ids or provider_ids:
        niches.update(
            db.niches_of(
                tx,
                subscription_ids=subscription_ids,
                level_ids=level_ids,
                provider_ids=provider_ids,
            )
        )
    db.wake(tx, sorted(niches), reason)


def resume_covered(tx: Connection, provider_id: UUID, *, reason: str) -> list[UUID]:
    """The (locked) provider's ``paused_low_balance`` subscriptions its balance now covers
    become ``active`` again, and their niches' unsold leads are offered again; their ids."""
    resumed = catalog.resume_affordable(tx, provider_id)
    if resumed:
        capacity_may_have_returned(tx, reason=reason, subscription_ids=resumed)
    return resumed


def resell_due(
    pool: ConnectionPool[Connection],
    *,
    min_interval: int,
    batch: int = RESALE_BATCH,
    grace: int = PASS_GRACE_SECONDS,
) -> int:
    """Queue the next resale batch of every niche whose wake-up waits and whose last batch has
    run, one transaction per niche. Returns how many leads were queued."""
    with transaction(pool) as tx:
        waiting = db.wakeups(tx, limit=WAKEUPS_PER_TICK)
        running = jobs.active_job_ids(tx, [job for _, job in waiting if job is not None])
    queued = 0
    for niche_id, last_job_id in waiting:
        if last_job_id in running:
            continue
        with transaction(pool) as tx:
            queued += _serve(
                tx, niche_id, last_job_id, min_interval=min_interval, batch=batch, grace=grace
            )
    if queued:
        metrics.leads_resale_queued_total.inc(queued)
        log.info("unsold_leads_queued", leads=queued)
    return queued


def _serve(
    tx: Connection,
    niche_id: UUID,
    last_job_id: int | None,
    *,
    min_interval: int,
    batch: int,
    grace: int,
) -> int:
    """One niche's next batch, or the end of its pass when nothing of it waits."""
    wakeup = db.claim_wakeup(tx, niche_id, last_job_id)
    if wakeup is None:
        return 0
    due = db.due_leads(tx, wakeup, min_interval=min_interval, limit=batch)
    # A lead an operator (or a retry) already queued is offered by that job.
    busy = jobs.leads_with_active_jobs(tx, due)
    due = [lead_id for lead_id in due if lead_id not in busy]
    if due:
        job_ids = jobs.defer_distributions(
            tx,
            lead_ids=due,
            niche_id=niche_id,
            actor=Actor.system(),
            requested_at=datetime.now(UTC),
            trigger=RunTrigger.RESALE,
        )
        db.batch_queued(tx, wakeup, due, job_ids[-1])
        return len(due)
    if not db.pass_pending(tx, wakeup):
        db.finish_wakeup(tx, niche_id, grace=grace)
    return 0


def expire_due(
    pool: ConnectionPool[Connection],
    *,
    batch: int = EXPIRY_BATCH,
    batches: int = EXPIRY_BATCHES_PER_TICK,
) -> int:
    """Unsold leads older than their niche's ``lead_ttl_hours`` become ``expired`` (audit row
    each), ``batch`` per transaction, at most ``batches`` transactions. Returns how many."""
    expired = 0
    for _ in range(batches):
        with transaction(pool) as tx:
            done = db.expire_due(tx, limit=batch)
        expired += done
        if done < batch:
            break
    if expired:
        metrics.leads_expired_total.inc(expired)
        log.info("unsold_leads_expired", leads=expired)
    return expired


def wake_on_the_clock(pool: ConnectionPool[Connection], *, until: datetime) -> int:
    """In the ``CLOCK_STEP`` before ``until`` a schedule opened or a cap or budget window rolled
    over (on the subscription's zone's calendar): wake the niches where leads wait and such a
    subscription may take them now. Returns how many niches were woken."""
    since = until - CLOCK_STEP
    with transaction(pool) as tx:
        niches = sorted(
            {
                rules.niche_id
                for rules in db.clock_rules(tx)
                if _returns(rules, since=since, until=until)
            }
        )
        db.wake(tx, niches, "clock")
    return len(niches)


def _returns(rules: db.ClockRules, *, since: datetime, until: datetime) -> bool:
    try:
        schedule = parse_schedule(rules.schedule)
    except InvalidInput:
        return False  # never stored (validated on write); the engine skips it too
    return capacity_returns(since, until, schedule=schedule, limits=limits_of(rules))
