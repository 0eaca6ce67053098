"""Jobs list, admin retry and distribution status, on jobs put in each state by hand."""

from __future__ import annotations

import json
import uuid
from typing import Any
from uuid import UUID

import pytest

from leadflow.db.connection import connect, transaction
from leadflow.domain.errors import (
    InvalidInput,
    InvalidState,
    JobAlreadyActive,
    LeadNotApproved,
    NotFound,
)
from leadflow.services import jobs
from leadflow.services.pages import PageRequest
from leadflow.settings import Settings
from tests.integration.jobs import factories
from tests.integration.jobs.factories import ADMIN
from tests.support.work import committed


def set_job(pool: Any, job_id: int, status: str, attempts: int = 0) -> None:
    with transaction(pool) as conn:
        conn.execute(
            "UPDATE procrastinate_jobs SET status = %s, attempts = %s WHERE id = %s",
            (status, attempts, job_id),
        )


def failed_run(pool: Any, lead_id: UUID, job_id: int, error: str) -> None:
    with transaction(pool) as conn:
        conn.execute(
            """
            INSERT INTO distribution_runs (lead_id, niche_id, triggered_by_role, job_id, status,
                                           finished_at, error)
            SELECT id, niche_id, 'system', %s, 'failed', now(), %s FROM leads WHERE id = %s
            """,
            (job_id, error, lead_id),
        )


def queued_lead(pool: Any, niche_id: UUID) -> tuple[UUID, int]:
    lead_id = factories.lead(pool, niche_id, status="approved")
    return lead_id, committed(pool, jobs.request_distribution, actor=ADMIN, lead_id=lead_id).job_id


def test_list_jobs_maps_statuses_and_paginates(pool: Any) -> None:
    market = factories.market(pool)
    made = [queued_lead(pool, market.niche_id) for _ in range(4)]
    set_job(pool, made[1][1], "doing")
    set_job(pool, made[2][1], "succeeded", attempts=1)
    set_job(pool, made[3][1], "failed", attempts=6)
    failed_run(pool, made[3][0], made[3][1], "RuntimeError: boom")

    everything = committed(pool, jobs.list_jobs, status=None, page=PageRequest(page=1, limit=3))
    assert (everything.total, len(everything.items)) == (4, 3)
    assert all(j.scheduled_at is not None for j in everything.items)
    assert [j.id for j in everything.items] == [made[3][1], made[2][1], made[1][1]]
    second = committed(pool, jobs.list_jobs, status=None, page=PageRequest(page=2, limit=3))
    assert [j.id for j in second.items] == [made[0][1]]
    by_status = {
        status: [
            j.id for j in committed(pool, jobs.list_jobs, status=status, page=PageRequest()).items
        ]
        for status in ("queued", "running", "succeeded", "failed")
    }
    assert by_status == {
        "queued": [made[0][1]],
        "running": [made[1][1]],
        "succeeded": [made[2][1]],
        "failed": [made[3][1]],
    }
    [dead] = committed(pool, jobs.list_jobs, status="failed", page=PageRequest()).items
    assert (dead.lead_id, dead.queue, dead.attempts, dead.last_error) == (
        made[3][0],
        "distribute_lead",
        6,
        "RuntimeError: boom",
    )


def test_list_jobs_refuses_an_unknown_status(pool: Any) -> None:
    with pytest.raises(InvalidInput):
        committed(pool, jobs.list_jobs, status="todo", page=PageRequest())


def test_retry_job_requeues_a_dead_letter_once(pool: Any) -> None:
    market = factories.market(pool)
    lead_id, job_id = queued_lead(pool, market.niche_id)
    with pytest.raises(JobAlreadyActive):
        committed(pool, jobs.retry_job, actor=ADMIN, job_id=job_id)
    set_job(pool, job_id, "failed", attempts=6)

    retried = committed(pool, jobs.retry_job, actor=ADMIN, job_id=job_id)

    assert (retried.id, retried.status, retried.attempts, retried.lead_id) == (
        job_id,
        "queued",
        0,
        lead_id,
    )
    with transaction(pool) as conn:
        row = conn.execute(
            "SELECT lock FROM procrastinate_jobs WHERE id = %s", (job_id,)
        ).fetchone()
    assert row == {"lock": f"niche:{market.niche_id}"}
    with pytest.raises(JobAlreadyActive):
        committed(pool, jobs.retry_job, actor=ADMIN, job_id=job_id)


def test_retry_job_refuses_while_another_job_of_the_lead_is_active(pool: Any) -> None:
    market = factories.market(pool)
    lead_id, dead = queued_lead(pool, market.niche_id)
    set_job(pool, dead, "failed", attempts=6)
    newer = committed(pool, jobs.request_distribution, actor=ADMIN, lead_id=lead_id)
    assert newer.created

    with pytest.raises(JobAlreadyActive):
        committed(pool, jobs.retry_job, actor=ADMIN, job_id=dead)

    set_job(pool, newer.job_id, "succeeded", attempts=1)
    with pytest.raises(InvalidState):
        committed(pool, jobs.retry_job, actor=ADMIN, job_id=newer.job_id)


def test_retry_job_of_an_unknown_job_or_a_lead_no_longer_approved(pool: Any) -> None:
    with pytest.raises(NotFound):
        committed(pool, jobs.retry_job, actor=ADMIN, job_id=10**9)
    market = factories.market(pool)
    lead_id, job_id = queued_lead(pool, market.niche_id)
    set_job(pool, job_id, "failed", attempts=6)
    with transaction(pool) as conn:
        conn.execute("UPDATE leads SET status = 'rejected' WHERE id = %s", (lead_id,))
    with pytest.raises(LeadNotApproved):
        committed(pool, jobs.retry_job, actor=ADMIN, job_id=job_id)


def test_distribution_status_follows_the_job_then_the_run(pool: Any) -> None:
    market = factories.market(pool)
    lead_id = factories.lead(pool, market.niche_id, status="approved")
    with pytest.raises(NotFound):
        committed(pool, jobs.distribution_status, lead_id=uuid.uuid4())

    fresh = committed(pool, jobs.distribution_status, lead_id=lead_id)
    assert (fresh.last_attempt_status, fresh.job, fresh.last_attempt_at) == ("none", None, None)
    assert fresh.notes == "Not distributed yet"

    job_id = committed(pool, jobs.request_distribution, actor=ADMIN, lead_id=lead_id).job_id
    queued = committed(pool, jobs.distribution_status, lead_id=lead_id)
    assert queued.last_attempt_status == "queued"
    assert queued.job is not None and (queued.job.id, queued.job.status) == (job_id, "queued")

    set_job(pool, job_id, "doing")
    assert (
        committed(pool, jobs.distribution_status, lead_id=lead_id).last_attempt_status == "running"
    )

    # A failed attempt waiting for its retry: still "queued", with the error.
    failed_run(pool, lead_id, job_id, "OperationalError: gone")
    set_job(pool, job_id, "todo", attempts=1)
    waiting = committed(pool, jobs.distribution_status, lead_id=lead_id)
    assert waiting.last_attempt_status == "queued"
    assert waiting.job is not None and waiting.job.last_error == "OperationalError: gone"
    assert waiting.last_attempt_at is not None
    assert waiting.notes.startswith("Attempt 1 failed (OperationalError: gone)")

    set_job(pool, job_id, "failed", attempts=6)
    dead = committed(pool, jobs.distribution_status, lead_id=lead_id)
    assert (dead.last_attempt_status, dead.lead_status, dead.assignments_created) == (
        "failed",
        "approved",
        0,
    )
    assert dead.job is not None and dead.job.status == "failed"
    assert dead.notes == "Distribution failed after all retries: OperationalError: gone"


def test_queue_depth_gauge(pool: Any) -> None:
    from leadflow import metrics

    market = factories.market(pool)
    _, first = queued_lead(pool, market.niche_id)
    queued_lead(pool, market.niche_id)
    set_job(pool, first, "failed", attempts=6)

    committed(pool, jobs.refresh_queue_depth)

    gauge = metrics.job_queue_depth
    assert gauge.labels(queue="distribute_lead", status="queued")._value.get() == 1
    assert gauge.labels(queue="distribute_lead", status="failed")._value.get() == 1
    assert gauge.labels(queue="email", status="queued")._value.get() == 0


def test_a_released_niche_lock_wakes_the_workers(
    pool: Any, db_url: str, settings: Settings
) -> None:
    market = factories.market(pool)
    _, first = queued_lead(pool, market.niche_id)
    _, second = queued_lead(pool, market.niche_id)
    with connect(db_url, settings, autocommit=True) as listener:
        listener.execute("LISTEN procrastinate_any_queue_v1")
        set_job(pool, first, "doing")
        set_job(pool, first, "succeeded", attempts=1)
        set_job(pool, second, "succeeded", attempts=1)  # todo -> succeeded: no lock was held
        payloads = [json.loads(n.payload) for n in listener.notifies(timeout=1, stop_after=2)]
    assert payloads == [{"type": "job_inserted", "job_id": first}]


def test_jobs_of_one_niche_run_one_at_a_time(pool: Any) -> None:
    busy = factories.market(pool)
    other = factories.market(pool)
    _, running = queued_lead(pool, busy.niche_id)
    _, held_back = queued_lead(pool, busy.niche_id)
    _, free = queued_lead(pool, other.niche_id)
    set_job(pool, running, "doing")

    with transaction(pool) as conn:
        fetched = [
            conn.execute(
                "SELECT id FROM procrastinate_fetch_job_v2(ARRAY['distribute_lead'], NULL)"
            ).fetchone()
            for _ in range(2)
        ]

    assert [row["id"] if row else None for row in fetched] == [free, None]
    assert held_back not in [row["id"] for row in fetched if row]
