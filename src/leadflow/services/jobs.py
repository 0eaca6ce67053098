"""Distribution jobs as an operator sees them: request, status, list, retry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from leadflow import metrics
from leadflow.db import audit, jobs, leads, webhooks
from leadflow.db.connection import Connection
from leadflow.domain.errors import (
    InvalidInput,
    InvalidState,
    JobAlreadyActive,
    LeadAlreadyDistributed,
    LeadNotApproved,
    found,
)
from leadflow.domain.model import Actor, LeadStatus
from leadflow.services.pages import Cursor, KeysetPage, Page, PageRequest, keyset_page

JOB_STATUSES = tuple(jobs.STATUS_FILTERS)


@dataclass(frozen=True, slots=True)
class JobInfo:
    """A job in the API's vocabulary: status is queued|running|succeeded|failed."""

    id: int
    lead_id: UUID | None
    queue: str
    status: str
    attempts: int
    scheduled_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class DistributionRequest:
    lead_id: UUID
    job_id: int
    created: bool


@dataclass(frozen=True, slots=True)
class DistributionStatus:
    """SPEC §5 ``distribution-status``; ``job`` is the lead's latest job, finished ones included."""

    lead_id: UUID
    lead_status: str
    last_attempt_at: datetime | None
    last_attempt_status: str  # success|partial|no_eligible|failed|queued|running|none
    assignments_created: int
    start_level_order_position: int | None
    notes: str
    job: JobInfo | None


def request_distribution(tx: Connection, *, actor: Actor, lead_id: UUID) -> DistributionRequest:
    """Queue a distribution of an approved lead, or return the job already queued or running.

    The lead's row lock makes "at most one queued or running job per lead" exact.
    """
    lead = _locked_distributable_lead(tx, lead_id)
    existing = jobs.active_distribution_job(tx, lead_id)
    if existing is not None:
        return DistributionRequest(lead_id=lead_id, job_id=existing.id, created=False)
    job_id = jobs.defer_distribution(
        tx,
        lead_id=lead_id,
        niche_id=lead.niche_id,
        actor=actor,
        requested_at=datetime.now(UTC),
    )
    audit.record(tx, actor, "distribution.requested", "lead", lead_id, {"job_id": job_id})
    return DistributionRequest(lead_id=lead_id, job_id=job_id, created=True)


def retry_job(tx: Connection, *, actor: Actor, job_id: int) -> JobInfo:
    """Put a dead-lettered job back in its queue with a fresh retry schedule.

    ``JobAlreadyActive`` when this or another job of the lead is queued or running.
    """
    job = found(jobs.get_job(tx, job_id), "job", job_id)
    lock = job.lock
    if job.lead_id is not None:
        # Lock order: lead, then job, as everywhere a lead's jobs change.
        lead = _locked_distributable_lead(tx, job.lead_id)
        lock = jobs.niche_lock(lead.niche_id)
        active = jobs.active_distribution_job(tx, job.lead_id)
        if active is not None:
            raise JobAlreadyActive(f"job {active.id} of this lead is already {_status(active)}")
    job = found(jobs.get_job(tx, job_id, lock=True), "job", job_id)
    if job.status in jobs.ACTIVE:
        raise JobAlreadyActive(f"job {job_id} is already {_status(job)}")
    if job.status != "failed":
        raise InvalidState(f"job {job_id} is {_status(job)}; only failed jobs can be retried")
    jobs.requeue_failed(tx, job_id, lock=lock)
    audit.record(
        tx,
        actor,
        "job.retried",
        "lead" if job.lead_id else "job",
        job.lead_id or job_id,
        {"job_id": job_id},
    )
    retried = jobs.get_job(tx, job_id)
    assert retried is not None
    return _info(retried)


def list_jobs(tx: Connection, *, status: str | None, page: PageRequest) -> Page[JobInfo]:
    """Jobs of the ``distribute_lead`` and ``email`` queues, newest first."""
    if status is not None and status not in jobs.STATUS_FILTERS:
        raise InvalidInput(f"status must be one of {', '.join(JOB_STATUSES)}")
    statuses = jobs.STATUS_FILTERS[status] if status is not None else None
    total, rows = jobs.list_jobs(tx, statuses=statuses, limit=page.limit, offset=page.offset)
    return Page(page=page.page, limit=page.limit, total=total, items=[_info(r) for r in rows])


def jobs_from(
    tx: Connection, *, status: str | None, cursor: Cursor[int] | None, limit: int
) -> KeysetPage[JobInfo, int]:
    """Jobs of the ``distribute_lead`` and ``email`` queues by keyset, newest first
    (procrastinate's bigint ``id DESC``): the page next to ``cursor``, or the first."""
    if status is not None and status not in jobs.STATUS_FILTERS:
        raise InvalidInput(f"status must be one of {', '.join(JOB_STATUSES)}")
    statuses = jobs.STATUS_FILTERS[status] if status is not None else None
    return keyset_page(
        cursor,
        limit,
        lambda after, newer, n: [
            _info(r)
            for r in jobs.jobs_from(tx, statuses=statuses, after=after, newer=newer, limit=n)
        ],
        key=lambda job: job.id,
        total=jobs.count_jobs(tx, statuses=statuses),
    )


def distribution_status(tx: Connection, *, lead_id: UUID) -> DistributionStatus:
    """Where a lead's distribution stands: its job while one exists, else its last run."""
    lead = found(leads.get_lead(tx, lead_id), "lead", lead_id)
    job = jobs.latest_distribution_job(tx, lead_id)
    run = jobs.last_run(tx, lead_id)
    sold = jobs.active_assignment_count(tx, lead_id)
    active = job is not None and job.status in jobs.ACTIVE
    last_at = run.started_at if run is not None else None
    if active and job is not None:
        attempt_status = _status(job)
        if job.status == "doing" and job.started_at is not None:
            last_at = job.started_at
    elif run is not None:
        attempt_status = run.status
    else:
        attempt_status = "none"
    return DistributionStatus(
        lead_id=lead_id,
        lead_status=lead.status,
        last_attempt_at=last_at,
        last_attempt_status=attempt_status,
        assignments_created=sold,
        start_level_order_position=run.start_level_order_position if run is not None else None,
        notes=_notes(attempt_status, job, run, sold),
        job=_info(job) if job is not None else None,
    )


def refresh_queue_depth(tx: Connection) -> None:
    """Set the ``job_queue_depth`` and ``webhook_queue_depth`` gauges from the database (call
    before rendering /metrics)."""
    rows = jobs.queue_depth(tx)
    depth: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row["queue_name"], jobs.api_status(row["status"]))
        depth[key] = depth.get(key, 0) + int(row["n"])
    for queue in (*jobs.VISIBLE_QUEUES, jobs.MAINTENANCE_QUEUE):
        for status in JOB_STATUSES:
            metrics.job_queue_depth.labels(queue=queue, status=status).set(
                depth.get((queue, status), 0)
            )
    metrics.webhook_queue_depth.set(webhooks.queue_depth(tx))


def record_dead_letter(
    tx: Connection, *, lead_id: UUID, job_id: int, attempts: int, error: str
) -> None:
    """A lead's distribution job failed its last attempt: the audit says so."""
    audit.record(
        tx,
        Actor.system(),
        "job.dead_lettered",
        "lead",
        lead_id,
        {"job_id": job_id, "attempts": attempts, "error": error},
    )


def _locked_distributable_lead(conn: Connection, lead_id: UUID) -> leads.LeadRecord:
    lead = found(leads.get_lead(conn, lead_id, lock=True), "lead", lead_id)
    if lead.status == LeadStatus.DISTRIBUTED:
        raise LeadAlreadyDistributed(f"lead {lead_id} is already distributed")
    if lead.status != LeadStatus.APPROVED:
        raise LeadNotApproved(f"lead {lead_id} is {lead.status}, not approved")
    return lead


def _status(job: jobs.JobRow) -> str:
    return jobs.api_status(job.status)


def _info(job: jobs.JobRow) -> JobInfo:
    return JobInfo(
        id=job.id,
        lead_id=job.lead_id,
        queue=job.queue_name,
        status=_status(job),
        attempts=job.attempts,
        scheduled_at=job.scheduled_at,
        last_error=job.last_error,
    )


def _notes(
    attempt_status: str, job: jobs.JobRow | None, run: jobs.RunSummary | None, sold: int
) -> str:
    if attempt_status == "queued" and job is not None:
        if job.attempts and run is not None and run.status == "failed":
            when = f" at {job.scheduled_at.isoformat()}" if job.scheduled_at else ""
            return f"Attempt {job.attempts} failed ({run.error}); retry scheduled{when}"
        return f"Distribution job {job.id} is queued"
    if attempt_status == "running" and job is not None:
        return f"Distribution job {job.id} is running"
    if attempt_status in ("success", "partial"):
        return f"Distribution completed with {sold} assignment{'s' if sold != 1 else ''}"
    if attempt_status == "no_eligible":
        return "No eligible provider; the lead stays approved and can be distributed again"
    if attempt_status == "failed" and run is not None:
        dead = job is not None and job.status == "failed"
        prefix = "Distribution failed after all retries" if dead else "Distribution failed"
        return f"{prefix}: {run.error}"
    return "Not distributed yet"
