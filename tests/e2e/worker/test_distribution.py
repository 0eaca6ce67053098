"""Approve → a worker process distributes the lead → the SMTP server gets one mail per sale."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

from leadflow.db.connection import transaction
from leadflow.services import jobs, leads
from leadflow.services.pages import PageRequest
from leadflow.settings import Settings
from tests.e2e.worker.conftest import SmtpServer, WorkerProcess, wait_until
from tests.integration.jobs import factories
from tests.integration.jobs.factories import ADMIN
from tests.support.work import committed


def _lead_status(pool: Any, lead_id: object) -> str:
    with transaction(pool) as conn:
        row = conn.execute("SELECT status FROM leads WHERE id = %s", (lead_id,)).fetchone()
    assert row is not None
    return str(row["status"])


def _job_status(pool: Any, job_id: int) -> str:
    with transaction(pool) as conn:
        row = conn.execute(
            "SELECT status::text AS s FROM procrastinate_jobs WHERE id = %s", (job_id,)
        ).fetchone()
    assert row is not None
    return str(row["s"])


def test_approved_lead_is_distributed_and_mailed(
    pool: Any, settings: Settings, smtp: SmtpServer, workers: Callable[..., WorkerProcess]
) -> None:
    market = factories.market(pool, providers=3, max_recipients=2, price_cents=4900)
    workers(smtp_url=smtp.url)
    lead_id = factories.lead(pool, market.niche_id)

    approval = committed(pool, leads.approve_lead, settings=settings, actor=ADMIN, lead_id=lead_id)

    assert approval.distribution_job_id is not None
    wait_until("the lead to be distributed", lambda: _lead_status(pool, lead_id) == "distributed")
    wait_until("two mails", lambda: len(smtp.inbox.messages) >= 2)
    job_id = approval.distribution_job_id
    wait_until("the job to succeed", lambda: _job_status(pool, job_id) == "succeeded")
    subjects = [m["Subject"] for m in smtp.inbox.messages]
    assert subjects == [f"New Lead Assigned - {market.niche_name}"] * 2
    with transaction(pool) as conn:
        outbox = conn.execute(
            "SELECT message_id, status FROM email_outbox WHERE template = 'lead_assigned'"
        ).fetchall()
        runs = conn.execute(
            "SELECT status, job_id, triggered_by_role FROM distribution_runs WHERE lead_id = %s",
            (lead_id,),
        ).fetchall()
    assert sorted(m["Message-ID"] for m in smtp.inbox.messages) == sorted(
        row["message_id"] for row in outbox
    )
    assert {row["status"] for row in outbox} == {"sent"}
    assert runs == [{"status": "success", "job_id": job_id, "triggered_by_role": "system"}]
    status = committed(pool, jobs.distribution_status, lead_id=lead_id)
    assert (status.lead_status, status.last_attempt_status, status.assignments_created) == (
        "distributed",
        "success",
        2,
    )
    assert status.job is not None and status.job.status == "succeeded"
    assert status.start_level_order_position == 1
    assert status.notes == "Distribution completed with 2 assignments"


def test_concurrent_requests_give_one_job_one_run_no_duplicate_sales(
    pool: Any, workers: Callable[..., WorkerProcess]
) -> None:
    market = factories.market(pool, providers=3, max_recipients=3)
    lead_id = factories.lead(pool, market.niche_id, status="approved")
    workers(concurrency=4)
    barrier = threading.Barrier(4)
    job_ids: list[int] = []

    def request() -> None:
        barrier.wait()
        job_ids.append(
            committed(pool, jobs.request_distribution, actor=ADMIN, lead_id=lead_id).job_id
        )

    threads = [threading.Thread(target=request) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(set(job_ids)) == 1
    wait_until("the lead to be distributed", lambda: _lead_status(pool, lead_id) == "distributed")
    wait_until("the job to succeed", lambda: _job_status(pool, job_ids[0]) == "succeeded")
    with transaction(pool) as conn:
        runs = conn.execute(
            "SELECT count(*) AS n FROM distribution_runs WHERE lead_id = %s", (lead_id,)
        ).fetchone()
        sales = conn.execute(
            "SELECT count(*) AS n, count(DISTINCT provider_id) AS providers "
            "FROM lead_assignments WHERE lead_id = %s",
            (lead_id,),
        ).fetchone()
    assert runs == {"n": 1}
    assert sales == {"n": 3, "providers": 3}
    page = committed(pool, jobs.list_jobs, status="succeeded", page=PageRequest())
    assert [j.id for j in page.items] == job_ids[:1]


def test_rejected_lead_job_ends_without_a_run(
    pool: Any, settings: Settings, workers: Callable[..., WorkerProcess]
) -> None:
    market = factories.market(pool)
    lead_id = factories.lead(pool, market.niche_id)
    approval = committed(pool, leads.approve_lead, settings=settings, actor=ADMIN, lead_id=lead_id)
    committed(pool, leads.reject_lead, actor=ADMIN, lead_id=lead_id, reason="spam")
    assert approval.distribution_job_id is not None

    worker = workers()

    job_id = approval.distribution_job_id
    wait_until("the job to end", lambda: _job_status(pool, job_id) == "succeeded")
    with transaction(pool) as conn:
        runs = conn.execute("SELECT count(*) AS n FROM distribution_runs").fetchone()
    assert runs == {"n": 0}
    assert _lead_status(pool, lead_id) == "rejected"
    assert re.search(r"distribution_not_applicable", worker.output())
