"""PostgreSQL stopped for longer than a few maintenance ticks under an idle worker: the worker
says so once (no traceback, no line per retry or per tick), stays alive, and once the server is
started again it takes new jobs by itself."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from leadflow.db.connection import create_pool
from leadflow.services import leads
from leadflow.settings import Settings
from tests.e2e.worker.conftest import WorkerProcess, wait_until
from tests.e2e.worker.test_database_restart import count
from tests.integration.jobs import factories
from tests.integration.jobs.factories import ADMIN
from tests.support import restart
from tests.support.invariants import assert_invariants
from tests.support.work import committed

# Longer than a maintenance tick (5 s), a poll (2 s) and the worker's restart pause (2 s).
OUTAGE_SECONDS = 12


@pytest.mark.slow
def test_worker_warns_once_during_an_outage_and_resumes_by_itself(
    settings: Settings, workers: Callable[..., WorkerProcess]
) -> None:
    with restart.own_server() as server:
        url = server.get_uri()
        pool = create_pool(url, settings, max_size=2)
        try:
            niche = factories.market(pool, providers=2).niche_id
            first = factories.lead(pool, niche)
            worker = workers(database_url=url)
            committed(pool, leads.approve_lead, settings=settings, actor=ADMIN, lead_id=first)
            sold = "SELECT count(*) AS n FROM leads WHERE status = 'distributed'"
            wait_until("the first lead to be sold", lambda: count(pool, sold) == 1)
            later = [factories.lead(pool, niche) for _ in range(5)]
        finally:
            pool.close()

        restart.stop(server, mode="fast")
        time.sleep(OUTAGE_SECONDS)
        assert worker.proc.poll() is None, "the worker died with the database"
        restart.start(server)

        pool = create_pool(url, settings, max_size=2)
        try:
            for lead_id in later:
                committed(pool, leads.approve_lead, settings=settings, actor=ADMIN, lead_id=lead_id)
            wait_until("the later leads to be sold", lambda: count(pool, sold) == 1 + len(later))
            with pool.connection() as conn:
                assert_invariants(conn)
        finally:
            pool.close()
        output = worker.output()
        worker.terminate()
    assert output.count("database_unreachable") == 1, output[-4000:]
    assert "database_reachable" in output
    assert "worker_crashed" not in output
    assert "Traceback" not in output
    # Ticks that found nothing to do are not news (the worker logs at INFO).
    assert "maintenance_tick" not in output
