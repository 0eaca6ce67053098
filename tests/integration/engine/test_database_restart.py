"""A PostgreSQL crash-restart in the middle of a burst of distributions loses and doubles nothing.

The test runs its own embedded server (so it can restart it whatever TEST_DATABASE_URL says),
distributes leads from several threads, restarts the server with ``pg_ctl restart -m
immediate`` (no shutdown checkpoint: crash recovery on start) while transactions are in
flight, then distributes whatever is left. Every lead ends distributed exactly once and the
SPEC §2 invariants hold.
"""

from __future__ import annotations

import threading
import time
from uuid import UUID

import psycopg
import pytest
from pgserver import _commands  # type: ignore[attr-defined]

from leadflow.db.connection import create_pool
from leadflow.domain.errors import DomainError
from leadflow.domain.model import Actor
from leadflow.services.distribution import distribute_lead
from leadflow.settings import Settings
from tests.support import queries
from tests.support.factory import market
from tests.support.invariants import assert_invariants
from tests.support.restart import own_server


@pytest.mark.slow
def test_a_crash_restart_mid_burst_leaves_every_lead_sold_once(settings: Settings) -> None:
    with own_server() as server:
        pool = create_pool(server.get_uri(), settings, max_size=6)
        try:
            _burst_with_restart(pool, server)
        finally:
            pool.close()


def _burst_with_restart(pool: object, server: object) -> None:
    m = market(pool)  # type: ignore[arg-type]
    for i in range(8):
        m.add_provider(f"p{i}", balance_cents=1_000_000, levels=[1, 2, 3])
    lead_ids = [m.lead() for _ in range(120)]
    pending = list(lead_ids)
    lock = threading.Lock()
    done: list[UUID] = []
    failed: list[UUID] = []

    def worker() -> None:
        while True:
            with lock:
                if not pending:
                    return
                lead_id = pending.pop()
            try:
                distribute_lead(m.pool, lead_id=lead_id, triggered_by=Actor.system())
                done.append(lead_id)
            except (psycopg.Error, DomainError, OSError):
                failed.append(lead_id)  # the connection died under it: distributed again below
            except Exception:
                failed.append(lead_id)  # e.g. the pool timing out while the server restarts

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    while len(done) < 25:
        time.sleep(0.01)
    _commands.pg_ctl(
        ["-w", "-m", "immediate", "restart"], pgdata=server.pgdata, user=server.system_user
    )  # type: ignore[attr-defined]
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert len(done) < len(lead_ids), "the restart happened after the burst; nothing was tested"
    assert failed, "no distribution was interrupted by the restart; nothing was tested"

    for lead_id in lead_ids:
        # Rerunning is safe: a lead that was sold before the crash is a no-op now.
        distribute_lead(m.pool, lead_id=lead_id, triggered_by=Actor.system())

    statuses = {r["status"] for r in queries.rows(m.pool, "SELECT status FROM leads")}
    assert statuses == {"distributed"}
    selling = queries.one(
        m.pool,
        "SELECT count(DISTINCT lead_id) AS n FROM distribution_runs WHERE assignments_created > 0",
    )
    assert selling["n"] == len(lead_ids)
    with m.pool.connection() as conn:
        assert_invariants(conn)
