"""Concurrent distributions on PostgreSQL: no deadlock, no double charge, exact rotation per niche."""

from __future__ import annotations

import queue
import threading
from collections import Counter
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from leadflow import metrics
from leadflow.db.connection import Connection
from leadflow.domain.model import Actor
from leadflow.services.distribution import distribute_lead
from tests.support import queries
from tests.support.factory import Market, market

Pool = ConnectionPool[Connection]


def _retries() -> float:
    return sum(
        sample.value
        for family in metrics.distribution_retries_total.collect()
        for sample in family.samples
        if sample.name.endswith("_total")
    )


def _run_concurrently(pool: Pool, lead_ids: list[UUID], threads: int) -> list[BaseException]:
    work: queue.Queue[UUID] = queue.Queue()
    for lead_id in lead_ids:
        work.put(lead_id)
    errors: list[BaseException] = []

    def worker() -> None:
        while True:
            try:
                lead_id = work.get_nowait()
            except queue.Empty:
                return
            try:
                distribute_lead(pool, lead_id=lead_id, triggered_by=Actor.system())
            except BaseException as exc:  # collected and asserted on below
                errors.append(exc)

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in workers), "a distribution hung"
    return errors


def _starts_in_commit_order(pool: Pool, niche_id: UUID) -> list[int]:
    # Runs of a niche are serialized by its lock; finished_at is read inside that lock.
    return [
        r["start_level_order_position"]
        for r in queries.rows(
            pool,
            "SELECT start_level_order_position FROM distribution_runs WHERE niche_id = %s ORDER BY finished_at",
            niche_id,
        )
    ]


def test_two_niches_sharing_tight_providers_never_deadlock_or_double_charge(pool: Pool) -> None:
    niches: list[Market] = [market(pool), market(pool)]
    shared: dict[str, UUID] = {}
    for i in range(8):
        # Tight balances: each provider can pay for only a few of the leads on offer.
        provider = niches[0].add_provider(f"p{i}", balance_cents=3000 + 700 * i, levels=[1, 2, 3])
        shared[f"p{i}"] = provider
        niches[1].providers[f"p{i}"] = provider
        niches[1].add_provider(f"p{i}", balance_cents=0, levels=[1, 2, 3])
    deposits = {pid: queries.balance(pool, pid) for pid in shared.values()}
    leads = [m.lead() for _ in range(30) for m in niches]
    retries_before = _retries()

    errors = _run_concurrently(pool, leads, threads=6)

    assert errors == []
    assert _retries() == retries_before, (
        "a deadlock or serialization failure happened (and was retried)"
    )
    for m in niches:
        starts = _starts_in_commit_order(pool, m.niche.id)
        assert len(starts) == 30
        assert starts == [1, 2, 3] * 10
    charged = queries.one(
        pool,
        "SELECT -COALESCE(sum(amount_cents), 0) AS c FROM ledger_entries WHERE kind = 'lead_charge'",
    )
    remaining = sum(queries.balance(pool, pid) for pid in shared.values())
    assert charged["c"] == sum(deposits.values()) - remaining
    assert charged["c"] > 0
    # The balances really were tight: providers ran dry and were paused along the way.
    [low] = queries.mails(
        pool, "SELECT count(*) AS n FROM email_outbox WHERE template = 'low_balance'"
    )
    assert low["n"] > 0
    per_lead = queries.rows(
        pool, "SELECT lead_id, provider_id, count(*) AS n FROM lead_assignments GROUP BY 1, 2"
    )
    assert all(r["n"] == 1 for r in per_lead)


def test_the_same_lead_distributed_by_many_threads_at_once_is_sold_once(pool: Pool) -> None:
    m = market(pool)
    for i in range(6):
        m.add_provider(f"p{i}", balance_cents=100_000, levels=[1, 2, 3])
    lead_id = m.lead()
    results: list[Any] = []

    def distribute() -> None:
        results.append(distribute_lead(pool, lead_id=lead_id, triggered_by=Actor.system()))

    threads = [threading.Thread(target=distribute) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert len(results) == 6
    assert Counter(r.already_distributed for r in results) == Counter({False: 1, True: 5})
    assert len({r.run_id for r in results}) == 1
    assert queries.one(pool, "SELECT count(*) AS n FROM distribution_runs")["n"] == 1
    assert queries.lead(pool, lead_id)["distribution_attempts"] == 1
