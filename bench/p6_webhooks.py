"""P6 — webhook deliveries/s from the outbox to a local receiver, through a real
``leadflow worker`` process (its defaults: 64 in flight, 4 per endpoint).

The market: 10 niches, one level selling to all of its 10 providers (10 sales per lead), so
100 providers, each with one active endpoint on the receiver (its own path). The receiver
(``bench.receiver``, its own process) answers 200 at once.

1. Backlog: N sold leads' deliveries seeded set-based (the sales themselves are not charged:
   no ledger entries), held back until the worker is up, then released at once together with
   a ``deliver_webhooks`` job; deliveries/s until every one is ``delivered``, and the worker's
   CPU per delivery (utime + stime from ``/proc/<pid>/stat``).
2. Steady: leads approved at a fixed rate (``approve_lead``, as an admin would), the worker
   distributing them and sending their deliveries as it does in service; p50/p99 of each
   delivery's ``created_at`` (the sale's transaction) -> ``delivered_at``.

Reference, same receiver, same run: ``wrk`` with 64 connections (the worker's overall limit)
POSTing a body of the size a delivery sends, with headers like a delivery's, run before and
after the backlog; without ``wrk``, ``bench.loadgen`` (Python, 64 connections), said so in the
output. Ratio: worker deliveries/s ÷ reference requests/s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from bench import common, cpu, http_load, seed
from leadflow.db.connection import Connection
from leadflow.settings import Settings
from leadflow.webhooks import payloads
from leadflow.webhooks.secret_box import SecretBox, generate_key, new_signing_secret
from leadflow.webhooks.signing import signature_header

NICHES = 10
PROVIDERS_PER_NICHE = 10  # one level selling to all of them: 100 endpoints
CONNECTIONS = Settings.model_fields["webhook_concurrency"].default
STEADY_RATE = 10.0  # leads/s approved in the steady phase: 100 deliveries/s offered
POLL_S = 0.05


def run(server_url: str, *, quick: bool = False) -> common.Row:
    backlog_leads = 300 if quick else 2000  # x 10 deliveries
    steady_s = 3.0 if quick else 15.0
    ref_s = 2 if quick else 5
    key = generate_key()
    url = common.fresh_database(server_url, "bench_p6")
    with _receiver() as port, psycopg.connect(url, row_factory=dict_row) as conn:
        niche_ids = seed.seed_niches(
            conn,
            niches=NICHES,
            levels=[(PROVIDERS_PER_NICHE, 100)],
            subscriptions_per_level=PROVIDERS_PER_NICHE,
            balance_cents=10**12,
            prefix="p6",
        )
        endpoints = seed.seed_endpoints(
            conn,
            base_url=f"http://127.0.0.1:{port}/hooks/",
            secret_ciphertext=SecretBox.from_setting(key).seal(new_signing_secret()),
        )
        backlog = seed.seed_delivery_backlog(conn, niche_ids, backlog_leads)
        steady_leads = seed.seed_leads(
            conn, niche_ids, int(STEADY_RATE * steady_s), status="pending_approval"
        )
        conn.commit()
        conn.autocommit = True
        seed.settle(conn)
        body = _sample_body(conn)

        reference = [_reference(port, body, ref_s)]
        worker = _start_worker(url, key)
        try:
            common.wait_for_worker(url, worker)
            drained = _drain_backlog(conn, worker.pid, backlog)
            reference.append(_reference(port, body, ref_s))
            steady = _steady(url, conn, steady_leads)
            worker_rss = common.peak_rss_of(worker.pid)
        finally:
            common.stop(worker)
        received = _stats(port)
        outcomes = _outcomes(conn)

    from_worker = received["requests"] - sum(r["received"] for r in reference)
    ref_rate = sum(r["requests_per_s"] for r in reference) / len(reference)
    rate = drained["deliveries_per_s"]
    tool = reference[0]["tool"]
    row = common.Row.compare(
        "P6",
        (
            f"webhook deliveries/s, backlog of {backlog:,} to {endpoints} endpoints on a local "
            f"receiver, leadflow worker ({CONNECTIONS} in flight)"
        ),
        rate,
        "deliveries/s",
        ref_rate,
        f"req/s ({tool}, {CONNECTIONS} connections, same receiver and body size)",
        note=(
            f"worker CPU {drained['cpu_ms_per_delivery']:.2f} ms/delivery "
            f"({drained['worker_cpu_share']:.0%} of a core; machine {drained['machine_busy']:.0%} "
            f"busy); steady {steady['offered_per_s']:.0f} deliveries/s offered: sale -> "
            f"delivered p50 {steady['p50_ms']:.0f} ms / p99 {steady['p99_ms']:.0f} ms "
            f"({steady['delivered']}/{steady['deliveries']}); body {len(body)} B; "
            f"{from_worker:,} requests from the worker on {received['paths'] - 1} paths; "
            f"outcomes {outcomes}; worker peak RSS {(worker_rss or 0) / 2**20:.0f} MiB"
        ),
        extra={"backlog": drained, "steady": steady, "reference": reference},
    )
    return common.write_row("p6", row, quick=quick, url=url, received=received, outcomes=outcomes)


# ---------------------------------------------------------------- the receiver and the worker


@contextmanager
def _receiver() -> Iterator[int]:
    """``bench.receiver`` in its own process; its port."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.receiver"],
        cwd=common.ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "ready":
            raise RuntimeError(f"the receiver did not start: {line}")
        yield int(line[1])
    finally:
        common.stop(proc)


def _stats(port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as reply:
        stats: dict[str, int] = json.load(reply)
    return stats


def _start_worker(url: str, key: str) -> subprocess.Popen[bytes]:
    """``leadflow worker`` as production runs it (an external database, a secret key)."""
    env = dict(
        os.environ,
        DATABASE_URL=url,
        LEADFLOW_SECRET_KEY=key,
        LEADFLOW_WEBHOOK_ALLOW_HOSTS="127.0.0.1",
        LEADFLOW_LOG_LEVEL="WARNING",
    )
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "leadflow"), "worker"],
        cwd=common.ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )


# ---------------------------------------------------------------- phase 1: the backlog


def _drain_backlog(conn: Connection, pid: int, backlog: int) -> dict[str, Any]:
    """Release the held backlog with a delivery job, then wait until none is pending."""
    from leadflow.db import jobs

    cpu_before, machine_before = cpu.process_seconds(pid), cpu.Snapshot.take()
    began = time.perf_counter()
    with conn.transaction():
        conn.execute("UPDATE webhook_deliveries SET next_attempt_at = now()")
        jobs.defer_webhook_delivery(conn)
    deadline = began + (60 + backlog / 50)
    pending = backlog
    while pending and time.perf_counter() < deadline:
        time.sleep(POLL_S)
        row = conn.execute(
            "SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'pending'"
        ).fetchone()
        pending = int(row["n"]) if row else 0
    elapsed = time.perf_counter() - began
    used = cpu.process_seconds(pid) - cpu_before
    busy = cpu.busy_share(machine_before, cpu.Snapshot.take())
    delivered = backlog - pending
    return {
        "deliveries": backlog,
        "delivered": delivered,
        "elapsed_s": round(elapsed, 3),
        "deliveries_per_s": delivered / elapsed if elapsed else 0.0,
        "worker_cpu_s": round(used, 3),
        "cpu_ms_per_delivery": used * 1000 / delivered if delivered else float("nan"),
        "worker_cpu_share": used / elapsed if elapsed else 0.0,
        "machine_busy": busy,
    }


# ---------------------------------------------------------------- phase 2: steady sales


def _steady(url: str, conn: Connection, lead_ids: list[UUID]) -> dict[str, Any]:
    """Approve ``lead_ids`` at STEADY_RATE; the worker sells and delivers; created->delivered."""
    from leadflow.db.connection import transaction
    from leadflow.domain.model import Actor
    from leadflow.services.leads import approve_lead

    settings = common.bench_settings(url)
    actor = Actor.admin("bench")
    pool = common.open_pool(url, size=1)
    try:
        began = time.perf_counter()
        for i, lead_id in enumerate(lead_ids):
            delay = began + i / STEADY_RATE - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            with transaction(pool) as tx:
                approve_lead(tx, settings=settings, actor=actor, lead_id=lead_id)
        offered_for = time.perf_counter() - began
    finally:
        pool.close()
    deadline = time.perf_counter() + 60
    while time.perf_counter() < deadline:
        row = conn.execute(
            """
            SELECT (SELECT count(*) FROM leads
                    WHERE id = ANY(%(ids)s) AND status <> 'distributed') AS selling,
                   (SELECT count(*) FROM webhook_deliveries
                    WHERE lead_id = ANY(%(ids)s) AND status = 'pending') AS sending
            """,
            {"ids": lead_ids},
        ).fetchone()
        if row and row["selling"] == 0 and row["sending"] == 0:
            break
        time.sleep(POLL_S)
    rows = conn.execute(
        """
        SELECT extract(epoch FROM delivered_at - created_at) * 1000 AS ms
        FROM webhook_deliveries WHERE lead_id = ANY(%s)
        """,
        (lead_ids,),
    ).fetchall()
    latencies = [float(r["ms"]) for r in rows if r["ms"] is not None]
    return {
        "leads": len(lead_ids),
        "deliveries": len(rows),
        "delivered": len(latencies),
        "offered_per_s": len(rows) / offered_for if offered_for else 0.0,
        "p50_ms": common.percentile(latencies, 50),
        "p99_ms": common.percentile(latencies, 99),
        "max_ms": max(latencies, default=float("nan")),
    }


def _outcomes(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        "SELECT status, count(*) AS n FROM webhook_deliveries GROUP BY status ORDER BY status"
    ).fetchall()
    return {r["status"]: int(r["n"]) for r in rows}


# ---------------------------------------------------------------- the reference


def _sample_body(conn: Connection) -> bytes:
    """The body a backlog delivery will send (made as the worker makes it)."""
    from leadflow.db import webhooks as db

    row = conn.execute("SELECT id, assignment_id FROM webhook_deliveries LIMIT 1").fetchone()
    assert row is not None
    facts = db.assigned_facts(conn, [row["assignment_id"]])
    return payloads.assigned_body(row["id"], facts[row["assignment_id"]]).encode()


@dataclass(frozen=True)
class _Request:
    body: bytes
    headers: dict[str, str]


def _like_a_delivery(body: bytes) -> _Request:
    """A request with the headers a delivery carries (values of the same size)."""
    return _Request(
        body,
        {
            "Content-Type": "application/json",
            "User-Agent": "leadflow/0.0.0",
            "Leadflow-Delivery": str(uuid.uuid4()),
            "Leadflow-Event": "lead.assigned",
            "Leadflow-Signature": signature_header([new_signing_secret()], body, int(time.time())),
        },
    )


def _reference(port: int, body: bytes, seconds: int) -> dict[str, Any]:
    """The receiver driven by wrk (else bench.loadgen) at CONNECTIONS connections."""
    before = _stats(port)["requests"]
    request = _like_a_delivery(body)
    result = http_load.drive(
        http_load.Load(
            port,
            "POST",
            "/hooks/reference",
            seconds,
            CONNECTIONS,
            body=request.body,
            headers=request.headers,
            count_statuses=False,
        )
    )
    result["received"] = _stats(port)["requests"] - before
    return result


if __name__ == "__main__":
    common.cli(run, __doc__)
