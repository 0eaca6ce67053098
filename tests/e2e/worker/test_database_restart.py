"""A PostgreSQL crash-restart under a running worker: it reconnects by itself, every lead is
sold exactly once, no job is dead-lettered, and the SPEC §2 invariants hold.

The test runs its own embedded server so it can restart it whatever TEST_DATABASE_URL says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pgserver import _commands  # type: ignore[attr-defined]

from leadflow.db.connection import create_pool, transaction
from leadflow.services import leads
from leadflow.settings import Settings
from tests.e2e.worker.conftest import WorkerProcess, wait_until
from tests.integration.jobs import factories
from tests.integration.jobs.factories import ADMIN
from tests.support.invariants import assert_invariants
from tests.support.restart import own_server
from tests.support.work import committed


def count(pool: Any, query: str) -> int:
    try:
        with transaction(pool) as conn:
            row = conn.execute(query).fetchone()
    except Exception:
        return -1  # the server is still coming back
    return int(row["n"]) if row else 0


@pytest.mark.slow
def test_worker_rides_out_a_database_crash_restart(
    settings: Settings, workers: Callable[..., WorkerProcess]
) -> None:
    with own_server() as server:
        url = server.get_uri()
        pool = create_pool(url, settings, max_size=4)
        try:
            niches = [factories.market(pool, providers=3).niche_id for _ in range(2)]
            lead_ids = [factories.lead(pool, niches[i % 2]) for i in range(200)]
            worker = workers(database_url=url, retry_delays="2,2,2,2,2")
            for lead_id in lead_ids:
                committed(pool, leads.approve_lead, settings=settings, actor=ADMIN, lead_id=lead_id)
            sold = "SELECT count(*) AS n FROM leads WHERE status = 'distributed'"
            wait_until("the burst to be under way", lambda: count(pool, sold) >= 10)
            before = count(pool, sold)
            _commands.pg_ctl(
                ["-w", "-m", "immediate", "restart"], pgdata=server.pgdata, user=server.system_user
            )
            assert 0 < before < len(lead_ids), "the burst ended before the restart"
        finally:
            pool.close()

        pool = create_pool(url, settings, max_size=4)
        try:
            wait_until(
                "every lead to be sold",
                lambda: count(pool, sold) == len(lead_ids),
                timeout=150,
            )
            finished = (
                "SELECT count(*) AS n FROM procrastinate_jobs "
                "WHERE task_name = 'distribute_lead' AND status = 'succeeded'"
            )
            wait_until("every job to succeed", lambda: count(pool, finished) == len(lead_ids))
            assert worker.proc.poll() is None, "the worker died with the database"
            selling = "SELECT count(DISTINCT lead_id) AS n FROM distribution_runs WHERE assignments_created > 0"
            assert count(pool, selling) == len(lead_ids)
            with pool.connection() as conn:
                assert_invariants(conn)
        finally:
            pool.close()
        worker.terminate()
