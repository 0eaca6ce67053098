"""kill -9 of a worker inside a distribution; SIGTERM lets the job in hand finish."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest

from leadflow.db.connection import transaction
from leadflow.services import leads
from leadflow.settings import Settings
from tests.e2e.worker.conftest import WorkerProcess, wait_until
from tests.integration.jobs import factories
from tests.integration.jobs.factories import ADMIN
from tests.support.work import committed


def stall_first_sale(pool: Any, lead_id: UUID, *, seconds: float) -> None:
    """The first sale of ``lead_id`` sleeps inside the distribution's transaction (once)."""
    with transaction(pool) as conn:
        conn.execute("CREATE SEQUENCE stalls")
        conn.execute(
            f"""
            CREATE FUNCTION stall_sale() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.lead_id = '{lead_id}' AND nextval('stalls') = 1 THEN
                    PERFORM pg_sleep({float(seconds)});
                END IF;
                RETURN NEW;
            END $$
            """
        )
        conn.execute(
            "CREATE TRIGGER stall_sale BEFORE INSERT ON lead_assignments "
            "FOR EACH ROW EXECUTE FUNCTION stall_sale()"
        )


def sleeping_in_a_sale(pool: Any) -> bool:
    with transaction(pool) as conn:
        row = conn.execute(
            "SELECT count(*) AS n FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event = 'PgSleep'"
        ).fetchone()
    return bool(row and row["n"])


def statuses(pool: Any, lead_ids: list[UUID]) -> dict[str, int]:
    with transaction(pool) as conn:
        rows = conn.execute(
            "SELECT status, count(*) AS n FROM leads WHERE id = ANY(%s) GROUP BY status",
            (lead_ids,),
        ).fetchall()
    return {row["status"]: row["n"] for row in rows}


def job_statuses(pool: Any) -> dict[str, int]:
    with transaction(pool) as conn:
        rows = conn.execute(
            "SELECT status::text AS status, count(*) AS n FROM procrastinate_jobs "
            "WHERE task_name = 'distribute_lead' GROUP BY status"
        ).fetchall()
    return {row["status"]: row["n"] for row in rows}


@pytest.mark.slow
def test_kill_9_mid_distribution_then_restart_distributes_every_lead(
    pool: Any, settings: Settings, workers: Callable[..., WorkerProcess]
) -> None:
    hot = factories.market(pool, providers=3)
    other = factories.market(pool, providers=3)
    empty = factories.market(pool, providers=2, balance_cents=0)  # nobody can pay: no_eligible
    burst = [factories.lead(pool, m.niche_id) for _ in range(6) for m in (hot, other)]
    unsellable = factories.lead(pool, empty.niche_id)
    victim = burst[4]
    stall_first_sale(pool, victim, seconds=4)
    first = workers(concurrency=2)

    for lead_id in [*burst, unsellable]:
        committed(pool, leads.approve_lead, settings=settings, actor=ADMIN, lead_id=lead_id)
    wait_until(
        "the worker to be inside the victim's distribution", lambda: sleeping_in_a_sale(pool)
    )
    first.kill()
    workers(concurrency=2)

    wait_until(
        "every lead to be distributed",
        lambda: statuses(pool, burst) == {"distributed": len(burst)},
        timeout=150,
    )
    wait_until("every job to end", lambda: set(job_statuses(pool)) == {"succeeded"}, timeout=30)
    assert statuses(pool, [unsellable]) == {"approved": 1}
    with transaction(pool) as conn:
        victim_runs = conn.execute(
            "SELECT status FROM distribution_runs WHERE lead_id = %s", (victim,)
        ).fetchall()
        unsellable_runs = conn.execute(
            "SELECT status FROM distribution_runs WHERE lead_id = %s", (unsellable,)
        ).fetchall()
    # The killed attempt rolled back entirely; the rerun is the lead's only run.
    assert victim_runs == [{"status": "success"}]
    # A job may be killed after its no_eligible run committed but before the job was marked
    # done; it then runs again (at-least-once), which can only add another no_eligible run.
    assert unsellable_runs
    assert {run["status"] for run in unsellable_runs} == {"no_eligible"}


def test_sigterm_finishes_the_job_in_hand_and_takes_no_new_one(
    pool: Any, settings: Settings, workers: Callable[..., WorkerProcess]
) -> None:
    market = factories.market(pool)
    busy = factories.lead(pool, market.niche_id)
    waiting = factories.lead(pool, factories.market(pool).niche_id)
    stall_first_sale(pool, busy, seconds=3)
    worker = workers(concurrency=2)
    committed(pool, leads.approve_lead, settings=settings, actor=ADMIN, lead_id=busy)
    wait_until("the worker to be inside the distribution", lambda: sleeping_in_a_sale(pool))

    worker.proc.send_signal(signal.SIGTERM)
    wait_until("the worker to stop taking jobs", lambda: "Stop requested" in worker.output())
    committed(pool, leads.approve_lead, settings=settings, actor=ADMIN, lead_id=waiting)

    assert worker.wait(timeout=60) == 0
    assert statuses(pool, [busy]) == {"distributed": 1}
    assert statuses(pool, [waiting]) == {"approved": 1}
    assert job_statuses(pool) == {"succeeded": 1, "todo": 1}
