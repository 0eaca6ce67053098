"""Mail survives an SMTP outage; the worker's /metrics count exactly what was sold."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from leadflow.db.connection import transaction
from leadflow.services import leads
from leadflow.settings import Settings
from tests.e2e.worker.conftest import SmtpServer, WorkerProcess, free_port, sample, wait_until
from tests.integration.jobs import factories
from tests.integration.jobs.factories import ADMIN
from tests.support.work import committed


def outbox(pool: Any) -> list[dict[str, Any]]:
    with transaction(pool) as conn:
        return conn.execute(
            "SELECT message_id, status, attempts, last_error FROM email_outbox "
            "WHERE template = 'lead_assigned' ORDER BY created_at"
        ).fetchall()


def distributed(pool: Any, lead_id: object) -> bool:
    with transaction(pool) as conn:
        row = conn.execute("SELECT status FROM leads WHERE id = %s", (lead_id,)).fetchone()
    return bool(row and row["status"] == "distributed")


def test_mails_wait_for_an_smtp_outage_and_are_sent_once(
    pool: Any, settings: Settings, workers: Callable[..., WorkerProcess]
) -> None:
    market = factories.market(pool, providers=2, max_recipients=2)
    smtp = SmtpServer(port=free_port())  # not started: the server is down
    workers(smtp_url=smtp.url, retry_delays="1,1,1,1,1")
    first = factories.lead(pool, market.niche_id)
    committed(pool, leads.approve_lead, settings=settings, actor=ADMIN, lead_id=first)

    wait_until("the lead to be distributed", lambda: distributed(pool, first))
    # The mails are made from the sale's events just after its commit: wait for both of them,
    # each with a failed delivery (an empty outbox must not count as "all failed").
    wait_until(
        "two mails, each with a failed delivery",
        lambda: len(mails := outbox(pool)) == 2 and all(m["last_error"] for m in mails),
    )
    pending = outbox(pool)
    assert [m["status"] for m in pending] == ["pending", "pending"]
    assert all(m["attempts"] >= 1 for m in pending)

    smtp.start()
    try:
        wait_until("both mails", lambda: len(smtp.inbox.messages) == 2)
        wait_until("the outbox to be sent", lambda: {m["status"] for m in outbox(pool)} == {"sent"})
        # Another sale afterwards: its mails go out, the first ones are not sent again.
        second = factories.lead(pool, market.niche_id)
        committed(pool, leads.approve_lead, settings=settings, actor=ADMIN, lead_id=second)
        wait_until("four mails", lambda: len(outbox(pool)) == 4 and len(smtp.inbox.messages) >= 4)
        wait_until("the outbox to be sent", lambda: {m["status"] for m in outbox(pool)} == {"sent"})
        received = [m["Message-ID"] for m in smtp.inbox.messages]
    finally:
        smtp.stop()
    assert sorted(received) == sorted(m["message_id"] for m in outbox(pool))
    assert len(set(received)) == 4


def test_without_smtp_mails_stay_in_the_outbox_and_are_logged(
    pool: Any, settings: Settings, workers: Callable[..., WorkerProcess]
) -> None:
    market = factories.market(pool, providers=1)
    worker = workers()
    lead_id = factories.lead(pool, market.niche_id)
    committed(pool, leads.approve_lead, settings=settings, actor=ADMIN, lead_id=lead_id)

    wait_until("the lead to be distributed", lambda: distributed(pool, lead_id))
    wait_until("the mail to be logged", lambda: "mail_kept_in_outbox" in worker.output())
    [mail] = outbox(pool)
    assert (mail["status"], mail["attempts"]) == ("pending", 0)
    logged = [line for line in worker.output().splitlines() if "mail_kept_in_outbox" in line]
    assert "template=lead_assigned" in logged[0]
    assert "@example.com" not in worker.output()


def succeeded_jobs(pool: Any) -> int:
    with transaction(pool) as conn:
        row = conn.execute(
            "SELECT count(*) AS n FROM procrastinate_jobs "
            "WHERE task_name = 'distribute_lead' AND status = 'succeeded'"
        ).fetchone()
    return int(row["n"]) if row else 0


def test_worker_metrics_count_what_was_sold(
    pool: Any, settings: Settings, workers: Callable[..., WorkerProcess]
) -> None:
    market = factories.market(pool, providers=3, max_recipients=2, price_cents=2500)
    worker = workers(metrics=True)
    before = worker.metrics()
    lead_ids = [factories.lead(pool, market.niche_id) for _ in range(3)]

    for lead_id in lead_ids:
        committed(pool, leads.approve_lead, settings=settings, actor=ADMIN, lead_id=lead_id)
    wait_until("the leads to be distributed", lambda: all(distributed(pool, i) for i in lead_ids))
    wait_until("the jobs to be marked succeeded", lambda: succeeded_jobs(pool) == 3)
    after = worker.metrics()

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    level = str(market.level_ids[0])
    assert grew("distribution_total", status="success") == 3
    assert grew("distribution_assignments_total", level_id=level) == 6
    assert grew("assignment_price_cents_total", level_id=level) == 6 * 2500
    assert grew("distribution_duration_seconds_count") == 3
    assert sample(after, "job_queue_depth", queue="distribute_lead", status="succeeded") == 3
    for family in (
        "distribution_skipped_total",
        "fairness_new_provider_priority_total",
        "fairness_rotation_position",
        "job_failures_total",
        "job_retries_total",
        "job_dead_letters_total",
        "mails_sent_total",
        "mails_failed_total",
    ):
        assert f"# TYPE {family}" in after
