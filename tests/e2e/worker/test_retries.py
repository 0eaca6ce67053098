"""Failures: retried on the configured schedule, dead-lettered at the end, retried by an admin."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

from leadflow.db.connection import transaction
from leadflow.services import jobs, leads
from leadflow.services.pages import PageRequest
from leadflow.settings import Settings
from tests.e2e.worker.conftest import WorkerProcess, sample, wait_until
from tests.integration.jobs import factories
from tests.integration.jobs.factories import ADMIN
from tests.support.work import committed


def inject_failures(pool: Any, *, times: int | None, lead_id: UUID | None = None) -> None:
    """Make a distribution's first sale fail ``times`` times (None: always), from the database.

    A sequence counts the attempts: it is not rolled back with the failing transaction.
    """
    limit = "true" if times is None else f"nextval('injected_failures') <= {int(times)}"
    only = "true" if lead_id is None else f"NEW.lead_id = '{lead_id}'"
    with transaction(pool) as conn:
        conn.execute("CREATE SEQUENCE injected_failures")
        conn.execute(
            f"""
            CREATE FUNCTION inject_failure() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF {only} AND {limit} THEN RAISE EXCEPTION 'injected failure'; END IF;
                RETURN NEW;
            END $$
            """
        )
        conn.execute(
            "CREATE TRIGGER inject_failure BEFORE INSERT ON lead_assignments "
            "FOR EACH ROW EXECUTE FUNCTION inject_failure()"
        )


def remove_failures(pool: Any) -> None:
    with transaction(pool) as conn:
        conn.execute("DROP TRIGGER inject_failure ON lead_assignments")


def runs(pool: Any, lead_id: UUID) -> list[dict[str, Any]]:
    with transaction(pool) as conn:
        return conn.execute(
            "SELECT status, error, job_id, started_at, finished_at FROM distribution_runs "
            "WHERE lead_id = %s ORDER BY started_at",
            (lead_id,),
        ).fetchall()


def job_row(pool: Any, job_id: int) -> dict[str, Any]:
    with transaction(pool) as conn:
        row = conn.execute(
            "SELECT status::text AS status, attempts, lock FROM procrastinate_jobs WHERE id = %s",
            (job_id,),
        ).fetchone()
    assert row is not None
    return row


def audit_count(pool: Any, action: str, lead_id: UUID) -> int:
    with transaction(pool) as conn:
        row = conn.execute(
            "SELECT count(*) AS n FROM audit_log WHERE action = %s AND entity_id = %s",
            (action, str(lead_id)),
        ).fetchone()
    assert row is not None
    return int(row["n"])


def test_transient_failure_is_retried_on_the_schedule(
    pool: Any, settings: Settings, workers: Callable[..., WorkerProcess]
) -> None:
    market = factories.market(pool)
    inject_failures(pool, times=2)
    workers(retry_delays="1,2,60,60,60")
    lead_id = factories.lead(pool, market.niche_id)

    approval = committed(pool, leads.approve_lead, settings=settings, actor=ADMIN, lead_id=lead_id)
    assert approval.distribution_job_id is not None

    wait_until("a successful run", lambda: "success" in [r["status"] for r in runs(pool, lead_id)])
    history = runs(pool, lead_id)
    assert [r["status"] for r in history] == ["failed", "failed", "success"]
    assert all("injected failure" in r["error"] for r in history[:2])
    assert {r["job_id"] for r in history} == {approval.distribution_job_id}
    # Each retry waited at least its delay after the failed attempt ended.
    for failed, nxt, delay in zip(history, history[1:], (1, 2), strict=False):
        assert nxt["started_at"] >= failed["finished_at"] + timedelta(seconds=delay)
    assert audit_count(pool, "distribution.failed", lead_id) == 2
    assert audit_count(pool, "job.dead_lettered", lead_id) == 0
    wait_until(
        "the job to succeed",
        lambda: job_row(pool, approval.distribution_job_id)["status"] == "succeeded",
    )


def test_permanent_failure_is_dead_lettered_then_retried_by_an_admin(
    pool: Any, settings: Settings, workers: Callable[..., WorkerProcess]
) -> None:
    market = factories.market(pool)
    inject_failures(pool, times=None)
    worker = workers(retry_delays="0,1,0,1,0", metrics=True)
    lead_id = factories.lead(pool, market.niche_id)
    approval = committed(pool, leads.approve_lead, settings=settings, actor=ADMIN, lead_id=lead_id)
    job_id = approval.distribution_job_id
    assert job_id is not None

    wait_until("the dead letter", lambda: job_row(pool, job_id)["status"] == "failed")

    history = runs(pool, lead_id)
    assert [r["status"] for r in history] == ["failed"] * 6
    failed = committed(pool, jobs.list_jobs, status="failed", page=PageRequest())
    assert [(j.id, j.lead_id, j.queue, j.status) for j in failed.items] == [
        (job_id, lead_id, "distribute_lead", "failed")
    ]
    assert failed.items[0].last_error is not None
    assert "injected failure" in failed.items[0].last_error
    assert failed.items[0].attempts == 6
    status = committed(pool, jobs.distribution_status, lead_id=lead_id)
    assert (status.lead_status, status.last_attempt_status) == ("approved", "failed")
    assert status.job is not None and status.job.status == "failed"
    assert status.notes.startswith("Distribution failed after all retries: ")
    assert audit_count(pool, "distribution.failed", lead_id) == 6
    assert audit_count(pool, "job.dead_lettered", lead_id) == 1
    scraped = worker.metrics()
    queue = {"queue": "distribute_lead"}
    assert sample(scraped, "job_failures_total", **queue) == 6
    assert sample(scraped, "job_retries_total", **queue) == 5
    assert sample(scraped, "job_dead_letters_total", **queue) == 1
    assert sample(scraped, "distribution_total", status="failed") == 6
    with transaction(pool) as conn:
        attempts = conn.execute(
            "SELECT distribution_attempts FROM leads WHERE id = %s", (lead_id,)
        ).fetchone()
    assert attempts == {"distribution_attempts": 6}

    remove_failures(pool)
    retried = committed(pool, jobs.retry_job, actor=ADMIN, job_id=job_id)

    assert (retried.id, retried.status, retried.attempts) == (job_id, "queued", 0)
    wait_until("the retried job to succeed", lambda: job_row(pool, job_id)["status"] == "succeeded")
    assert runs(pool, lead_id)[-1]["status"] == "success"
    assert audit_count(pool, "job.retried", lead_id) == 1


def test_a_retry_waiting_in_a_niche_does_not_hold_back_its_other_leads(
    pool: Any, settings: Settings, workers: Callable[..., WorkerProcess]
) -> None:
    market = factories.market(pool, providers=3)
    stuck = factories.lead(pool, market.niche_id)
    inject_failures(pool, times=None, lead_id=stuck)
    workers(retry_delays="600,600,600,600,600")
    stuck_job = committed(pool, leads.approve_lead, settings=settings, actor=ADMIN, lead_id=stuck)
    assert stuck_job.distribution_job_id is not None
    wait_until("the first failure", lambda: runs(pool, stuck))

    later = factories.lead(pool, market.niche_id)
    committed(pool, leads.approve_lead, settings=settings, actor=ADMIN, lead_id=later)

    wait_until(
        "the later lead's sale", lambda: [r["status"] for r in runs(pool, later)] == ["success"]
    )
    waiting = job_row(pool, stuck_job.distribution_job_id)
    assert (waiting["status"], waiting["attempts"]) == ("todo", 1)
    status = committed(pool, jobs.distribution_status, lead_id=stuck)
    assert status.last_attempt_status == "queued"
    assert status.job is not None and status.job.last_error is not None
    assert status.notes.startswith("Attempt 1 failed")
