"""Concurrent distributors: processes that call the engine directly (no queue), like pgbench -j.

Each round also measures CPU: the distributors' own (utime + stime of each process over its
timed loop) and the server's (its whole process tree, from the common start to the end of
the round), so that a summary gives client and server CPU seconds per lead.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

from bench import common, cpu, seed

T = TypeVar("T")


@dataclass
class DistributorReport:
    leads: int = 0
    sales: int = 0
    elapsed_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    peak_rss_bytes: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    # utime + stime of the distributor over its timed loop.
    cpu_s: float = 0.0
    # The server's CPU seconds during the round (its process tree); on a round's first report.
    server_cpu_s: float | None = None


def _distribute(
    url: str, lead_ids: Sequence[UUID], start_at: float, seconds: float
) -> DistributorReport:
    """In a child process: wait for the common start, then distribute until time is up."""
    from leadflow.domain.model import Actor
    from leadflow.services.distribution import distribute_lead

    pool = common.open_pool(url, size=1)
    report = DistributorReport()
    actor = Actor.system()
    try:
        # Warm the connection and imports before the clock starts.
        pool.check()
        time.sleep(max(0.0, start_at - time.time()))
        cpu_began = cpu.process_seconds(os.getpid())
        began = time.perf_counter()
        deadline = began + seconds
        for lead_id in lead_ids:
            now = time.perf_counter()
            if now >= deadline:
                break
            result = distribute_lead(pool, lead_id=lead_id, triggered_by=actor)
            report.latencies_ms.append((time.perf_counter() - now) * 1000)
            report.leads += 1
            report.sales += len(result.assignments)
            report.statuses[result.status] = report.statuses.get(result.status, 0) + 1
        report.elapsed_s = time.perf_counter() - began
        report.cpu_s = cpu.process_seconds(os.getpid()) - cpu_began
    finally:
        pool.close()
    report.peak_rss_bytes = common.peak_rss_bytes()
    return report


def run(
    url: str, shares: Sequence[Sequence[UUID]], seconds: float, *, warmup_s: float = 3.0
) -> list[DistributorReport]:
    """One process per share of leads, all starting together, each for ``seconds``."""
    context = multiprocessing.get_context("spawn")
    postmaster = cpu.server_pid(url)
    with ProcessPoolExecutor(max_workers=len(shares), mp_context=context) as executor:
        start_at = time.time() + warmup_s
        futures = [
            executor.submit(_distribute, url, list(share), start_at, seconds) for share in shares
        ]
        time.sleep(max(0.0, start_at - time.time()))
        server_before = cpu.tree_seconds(postmaster, settle_s=0)
        reports = [f.result() for f in futures]
        server_after = cpu.tree_seconds(postmaster)
    if server_before is not None and server_after is not None and reports:
        reports[0].server_cpu_s = server_after - server_before
    return reports


def summary(rounds: Sequence[Sequence[DistributorReport]]) -> dict[str, Any]:
    """Totals over rounds: each round lasts as long as its slowest distributor."""
    reports = [r for one in rounds for r in one]
    elapsed = sum(max(r.elapsed_s for r in one) for one in rounds)
    latencies = [x for r in reports for x in r.latencies_ms]
    statuses: dict[str, int] = {}
    for r in reports:
        for k, v in r.statuses.items():
            statuses[k] = statuses.get(k, 0) + v
    leads = sum(r.leads for r in reports)
    sales = sum(r.sales for r in reports)
    server_cpu = [r.server_cpu_s for r in reports if r.server_cpu_s is not None]
    client_cpu = sum(r.cpu_s for r in reports)
    return {
        "rounds": len(rounds),
        "elapsed_s": round(elapsed, 3),
        "leads": leads,
        "sales": sales,
        "leads_per_s": leads / elapsed if elapsed else 0.0,
        "sales_per_s": sales / elapsed if elapsed else 0.0,
        "latency_ms_p50": common.percentile(latencies, 50),
        "latency_ms_p99": common.percentile(latencies, 99),
        "statuses": statuses,
        "distributor_peak_rss_bytes": max(r.peak_rss_bytes for r in reports),
        "client_cpu_s": round(client_cpu, 3),
        "server_cpu_s": round(sum(server_cpu), 3) if server_cpu else None,
        "client_cpu_ms_per_lead": client_cpu * 1000 / leads if leads else None,
        "server_cpu_ms_per_lead": (
            sum(server_cpu) * 1000 / leads if leads and server_cpu else None
        ),
    }


def one_round(url: str, lead_ids: Sequence[UUID], seconds: float) -> list[DistributorReport]:
    """Two distributors for ``seconds`` on the leads still waiting: lead i goes to distributor
    i % 2 (in P1's markets lead i is in niche i % 20, so each takes its own niches)."""
    waiting = seed.still_approved(url, lead_ids)
    return run(url, [waiting[0::2], waiting[1::2]], seconds)


def schedule(quick: bool) -> dict[str, Any]:
    """How long ``alternate`` runs in P1, P1w and P2: 30 s in 3 rounds, quick 3 s in one."""
    return {"seconds": 3 if quick else 30, "rounds": 1 if quick else 3}


def alternate(
    url: str,
    lead_ids: Sequence[UUID],
    *,
    seconds: float,
    rounds: int,
    reference: Callable[[float], T],
) -> tuple[dict[str, Any], list[T]]:
    """Alternate the reference and the engine in ``rounds`` rounds of ``seconds / rounds`` each,
    so that load from outside (a shared machine) falls on both alike. Returns the engine's
    summary and the reference's result of each round."""
    per_round = seconds / rounds
    done: list[list[DistributorReport]] = []
    refs: list[T] = []
    for _ in range(rounds):
        refs.append(reference(per_round))
        done.append(one_round(url, lead_ids, per_round))
    return summary(done), refs


def pgbench_summary(refs: Sequence[common.PgbenchResult]) -> dict[str, Any]:
    """The pgbench rounds of ``alternate`` as one reference: mean TPS, and each round's."""
    return {
        "command": refs[0].command,
        "rounds": len(refs),
        "tps": sum(r.tps for r in refs) / len(refs),
        "tps_by_round": [r.tps for r in refs],
        "transactions": sum(r.transactions for r in refs),
        "latency_ms": [r.latency_ms for r in refs],
    }
