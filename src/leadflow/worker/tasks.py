"""The worker's tasks: ``distribute_lead``, ``deliver_mail``, ``deliver_webhooks`` and the
maintenance ticks.

Tasks are registered on an App built at worker start (``register``); what they need at run
time (settings, the sync pool the engine uses) comes in the job context as ``runtime``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from procrastinate import App, JobContext
from psycopg_pool import ConnectionPool

from leadflow import metrics
from leadflow.db import events, jobs, mail
from leadflow.db.connection import Connection, transaction
from leadflow.domain.errors import LeadNotApproved, NotFound
from leadflow.domain.model import Actor, ActorRole, RunTrigger
from leadflow.domain.results import DistributionResult
from leadflow.services import auth, deliveries, dispatch, distribution, erasure, intake, unsold
from leadflow.services import jobs as job_services
from leadflow.settings import Settings
from leadflow.worker import mailer
from leadflow.worker.retry import ScheduleRetry
from leadflow.worker.webhooks import Deliverer

log = structlog.get_logger(__name__)

# Crash recovery: a worker beats every HEARTBEAT_SECONDS; one silent for STALLED_AFTER_SECONDS is
# dead and its running jobs go back to the queue. The tick runs every TICK_SECONDS, so a killed
# worker's job runs again within STALLED_AFTER + TICK + one poll (~30 s; SPEC §8 asks for 90 s).
HEARTBEAT_SECONDS = 5.0
STALLED_AFTER_SECONDS = 20.0
TICK_SECONDS = 5
# Finished jobs are kept this long for the jobs list and distribution status.
KEEP_SUCCEEDED_HOURS = 7 * 24
KEEP_FAILED_HOURS = 30 * 24
KEEP_MAINTENANCE_HOURS = 1


@dataclass(frozen=True, slots=True)
class Runtime:
    """What a task needs from the worker process."""

    settings: Settings
    pool: ConnectionPool[Connection]
    retry: ScheduleRetry
    # None without LEADFLOW_SECRET_KEY: deliveries then wait in the outbox.
    webhooks: Deliverer | None = None


def runtime_of(context: JobContext) -> Runtime:
    runtime = context.additional_context["runtime"]
    assert isinstance(runtime, Runtime)
    return runtime


def register(app: App, settings: Settings) -> None:
    """Register every task on ``app`` with the retry schedule of ``settings``."""
    retry = ScheduleRetry(delays=tuple(settings.retry_delays))
    app.task(
        name=jobs.DISTRIBUTE_TASK, queue=jobs.DISTRIBUTE_QUEUE, pass_context=True, retry=retry
    )(distribute_lead)
    app.task(name=jobs.DELIVER_TASK, queue=jobs.EMAIL_QUEUE, pass_context=True, retry=retry)(
        deliver_mail
    )
    app.task(name=jobs.WEBHOOK_TASK, queue=jobs.WEBHOOK_QUEUE, pass_context=True, retry=retry)(
        deliver_webhooks
    )
    # Maintenance goes first when slots free up, so a backlog never delays crash recovery.
    tick = app.task(
        name="maintenance_tick",
        queue=jobs.MAINTENANCE_QUEUE,
        pass_context=True,
        priority=jobs.MAINTENANCE_PRIORITY,
    )(maintenance_tick)
    app.periodic(cron=f"* * * * * */{TICK_SECONDS}")(tick)
    cleanup = app.task(
        name="cleanup_jobs",
        queue=jobs.MAINTENANCE_QUEUE,
        pass_context=True,
        priority=jobs.MAINTENANCE_PRIORITY,
    )(cleanup_jobs)
    app.periodic(cron="17 * * * *")(cleanup)
    clock = app.task(
        name="wake_on_the_clock",
        queue=jobs.MAINTENANCE_QUEUE,
        pass_context=True,
        priority=jobs.MAINTENANCE_PRIORITY,
    )(wake_on_the_clock)
    app.periodic(cron="*/5 * * * *")(clock)


async def distribute_lead(
    context: JobContext,
    *,
    lead_id: str,
    actor_role: str,
    actor_id: str | None = None,
    requested_at: str | None = None,
    trigger: str = RunTrigger.DISTRIBUTION,
) -> dict[str, Any]:
    """Run the engine for one lead (``trigger`` ``resale``: an unsold lead offered again). Not
    approved / unknown / already distributed are results, never retried; any other error
    propagates, and the retry strategy takes over."""
    runtime = runtime_of(context)
    job = context.job
    assert job.id is not None
    actor = Actor(role=ActorRole(actor_role), id=actor_id)
    why = RunTrigger(trigger)
    try:
        result = await asyncio.to_thread(_distribute, runtime, UUID(lead_id), actor, job.id, why)
    except (NotFound, LeadNotApproved) as exc:
        log.info("distribution_not_applicable", lead_id=lead_id, job_id=job.id, reason=exc.detail)
        return {"outcome": "not_applicable", "reason": exc.detail}
    except Exception as exc:
        await asyncio.to_thread(_record_failure, runtime, context, exc, lead_id)
        raise
    return {
        "outcome": str(result.status),
        "assignments": len(result.assignments),
        "already_distributed": result.already_distributed,
    }


async def deliver_mail(context: JobContext) -> dict[str, int]:
    """Send the outbox's due mails."""
    runtime = runtime_of(context)
    try:
        report = await mailer.deliver_due(runtime.settings, runtime.pool)
    except Exception as exc:
        await asyncio.to_thread(_record_failure, runtime, context, exc, None)
        raise
    return {"sent": report.sent, "failed": report.failed, "held": report.held}


async def deliver_webhooks(context: JobContext) -> dict[str, int]:
    """Send the webhook outbox's due deliveries (SPEC §10)."""
    runtime = runtime_of(context)
    if runtime.webhooks is None:
        log.warning("webhooks_not_sent", reason="LEADFLOW_SECRET_KEY is not set")
        return {"delivered": 0, "retried": 0, "failed": 0}
    try:
        report = await runtime.webhooks.deliver_due()
    except Exception as exc:
        await asyncio.to_thread(_record_failure, runtime, context, exc, None)
        raise
    return {"delivered": report.delivered, "retried": report.retried, "failed": report.failed}


async def maintenance_tick(context: JobContext, timestamp: int) -> dict[str, int]:
    """Requeue the jobs of dead workers; queue a delivery when mails or webhooks are due; queue
    the unsold leads where capacity may have returned and expire those past their niche's
    ``lead_ttl_hours``; erase leads past ``LEADFLOW_PII_RETENTION_DAYS`` (each a bounded batch
    per tick)."""
    runtime = runtime_of(context)
    manager = context.app.job_manager
    requeued = 0
    for stalled in await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_SECONDS):
        try:
            await manager.retry_job(stalled)
        except Exception:
            # Raced with its worker coming back, or with another tick: the next tick looks again.
            log.warning("stalled_job_not_requeued", job_id=stalled.id, exc_info=True)
            continue
        requeued += 1
        log.warning("stalled_job_requeued", job_id=stalled.id, task=stalled.task_name)
    delivery = 0
    if not runtime.settings.smtp_url:
        # Nothing can be sent: the due mails are logged and stay in the outbox.
        await mailer.deliver_due(runtime.settings, runtime.pool)
    elif await asyncio.to_thread(_has_due_mail, runtime.pool):
        delivery = int(await asyncio.to_thread(_defer_delivery, runtime) is not None)
    webhooks = 0
    if runtime.webhooks is not None and await asyncio.to_thread(deliveries.has_due, runtime.pool):
        webhooks = int(await asyncio.to_thread(_defer_webhooks, runtime) is not None)
    resale = await asyncio.to_thread(
        unsold.resell_due, runtime.pool, min_interval=runtime.settings.resale_min_interval
    )
    expired = await asyncio.to_thread(unsold.expire_due, runtime.pool)
    erased = await asyncio.to_thread(
        erasure.erase_expired, runtime.pool, retention_days=runtime.settings.pii_retention_days
    )
    return {
        "requeued": requeued,
        "delivery_queued": delivery,
        "webhooks_queued": webhooks,
        "resale_queued": resale,
        "expired": expired,
        "erased": erased,
    }


async def wake_on_the_clock(context: JobContext, timestamp: int) -> dict[str, int]:
    """Every five minutes: a schedule that opened or a cap window that rolled over may take
    unsold leads again."""
    until = datetime.fromtimestamp(timestamp, UTC)
    woken = await asyncio.to_thread(unsold.wake_on_the_clock, runtime_of(context).pool, until=until)
    return {"niches_woken": woken}


async def cleanup_jobs(context: JobContext, timestamp: int) -> None:
    """Delete finished jobs once nobody needs them (dead letters are kept longest), and forget
    failed logins, rate-limit windows, MFA challenges, sessions past any limit or expiry, and
    long-dispatched outbox events."""
    await asyncio.to_thread(_prune, runtime_of(context).pool)
    manager = context.app.job_manager
    for queue in jobs.VISIBLE_QUEUES:
        await manager.delete_old_jobs(nb_hours=KEEP_SUCCEEDED_HOURS, queue=queue)
        await manager.delete_old_jobs(
            nb_hours=KEEP_FAILED_HOURS, queue=queue, include_failed=True, include_cancelled=True
        )
    await manager.delete_old_jobs(
        nb_hours=KEEP_MAINTENANCE_HOURS,
        queue=jobs.MAINTENANCE_QUEUE,
        include_failed=True,
        include_cancelled=True,
        include_aborted=True,
    )


def _record_failure(
    runtime: Runtime, context: JobContext, exc: BaseException, lead_id: str | None
) -> None:
    """Count the failed attempt; on the last one, the job is dead-lettered: say so in the audit."""
    job = context.job
    queue = job.queue
    metrics.job_failures_total.labels(queue=queue).inc()
    if runtime.retry.get_retry_decision(exception=exc, job=job) is not None:
        metrics.job_retries_total.labels(queue=queue).inc()
        return
    metrics.job_dead_letters_total.labels(queue=queue).inc()
    error = f"{type(exc).__name__}: {exc}"[:2000]
    log.error("job_dead_lettered", job_id=job.id, queue=queue, error=type(exc).__name__)
    if lead_id is None or job.id is None:
        return
    try:
        with transaction(runtime.pool) as tx:
            job_services.record_dead_letter(
                tx, lead_id=UUID(lead_id), job_id=job.id, attempts=job.attempts + 1, error=error
            )
    except Exception:
        log.exception("dead_letter_not_audited", job_id=job.id)


def _prune(pool: ConnectionPool[Connection]) -> None:
    with transaction(pool) as tx:
        auth.prune(tx)
        dispatch.prune(tx)
        intake.prune(tx)


def _distribute(
    runtime: Runtime, lead_id: UUID, actor: Actor, job_id: int, trigger: RunTrigger
) -> DistributionResult:
    """The engine, then the nudge for the mails the run wrote, in one hop to a thread: each hop
    waits for the GIL behind whatever else the worker runs."""
    result = distribution.distribute_lead(
        runtime.pool, lead_id=lead_id, triggered_by=actor, job_id=job_id, trigger=trigger
    )
    if not result.already_distributed:
        # The run may have recorded events (sales, low-balance pauses): make and send their
        # mails now, outside the run's transaction.
        _deliver_soon(runtime)
    if result.assignments and runtime.webhooks is not None:
        # Its sales may have webhook deliveries.
        _defer_webhooks(runtime)
    return result


def _deliver_soon(runtime: Runtime) -> None:
    """Make the run's mails and queue a delivery; without SMTP, log the new mails now (they stay
    in the outbox). Best effort: whatever is missed here, the next maintenance tick picks up."""
    try:
        if runtime.settings.smtp_url:
            dispatch.dispatch_due(runtime.pool, retry_delays=runtime.settings.retry_delays)
            _defer_delivery(runtime)
        else:
            mailer.hold_due(runtime.settings, runtime.pool)
    except Exception:
        log.warning("mail_not_made", exc_info=True)


def _defer_delivery(runtime: Runtime) -> int | None:
    """Queue a mail delivery run (with SMTP only)."""
    if not runtime.settings.smtp_url:
        return None
    return _best_effort(runtime, jobs.defer_mail_delivery, "mail_delivery_not_queued")


def _defer_webhooks(runtime: Runtime) -> int | None:
    """Queue a webhook delivery run when deliveries are due."""
    return _best_effort(runtime, jobs.defer_webhook_delivery, "webhook_delivery_not_queued")


def _best_effort(
    runtime: Runtime, defer: Callable[[Connection], int | None], failure: str
) -> int | None:
    """Queue a batch run; a run missed here is queued by the next maintenance tick."""
    try:
        with transaction(runtime.pool) as conn:
            return defer(conn)
    except Exception:
        log.warning(failure, exc_info=True)
        return None


def _has_due_mail(pool: ConnectionPool[Connection]) -> bool:
    """Mails due, or events due whose mails are still to be made."""
    with transaction(pool) as conn:
        return mail.has_due(conn) or events.has_due(conn)
