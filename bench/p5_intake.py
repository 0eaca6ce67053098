"""P5 — ``POST /api/v1/leads`` requests/s (p50/p99 too) from a load generator in a separate
process (``wrk`` with a Lua script; ``bench.loadgen`` if wrk is missing, said so in the note),
intake rate limit off (``LEADFLOW_INTAKE_RATE_LIMIT=0``); every 201 answered after its commit
(checked: the leads table holds as many new leads as 201s were answered, plus at most one per
connection still in flight when the generator stopped). The note gives the generator's and the
API process's CPU shares: the reference must be bound by the server, not the generator.

Reference, same server process, same run: ``GET /healthz``, a bare endpoint returning a constant.
Target: intake requests/s / reference requests/s >= 0.5.

Every request is another consumer (phone and e-mail numbered per request), so with the niche's
duplicate check on (30 days, the default) each lead is checked and stored as new. ``measure``
is shared with P7, which runs it again with a million past leads in the niche.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import psycopg

from bench import common, cpu, http_load, seed
from leadflow.webhooks.secret_box import generate_key

CONNECTIONS = 8
# ``__SEQ__`` is numbered per request by the load generator: a new consumer each time (valid
# New York numbers 212-2000000.., e-mails to match).
BODY = {
    "niche": "p5-1",
    "name": "Pat Lead",
    "email": "pat__SEQ__@example.com",
    "phone": "+1212__SEQ__",
    "postal_code": "10001",
    "attributes": {"budget": 1200, "rooms": 3},
}
WARM_UP_SEQ = 2_000_000
MEASURED_SEQ = 3_000_000


def run(server_url: str, *, quick: bool = False) -> common.Row:
    result = measure(server_url, quick=quick, database="bench_p5")
    return common.write_row("p5", _row(result), quick=quick, url=None, server=result["server"])


def measure(server_url: str, *, quick: bool, database: str, past_leads: int = 0) -> dict[str, Any]:
    """P5's run on a fresh database whose niche holds ``past_leads`` leads of other consumers
    (created over the last 29 days, inside the duplicate window, with their keys)."""
    seconds = 2 if quick else 20

    def with_past_leads(conn: psycopg.Connection[Any], _niches: list[Any]) -> None:
        if past_leads:
            seed.seed_past_leads(conn, slug="p5-1", count=past_leads)

    url, _, _ = seed.market(
        server_url,
        database,
        prefix="p5",
        niches=1,
        levels=[(1, 1000)],
        subscriptions_per_level=1,
        balance_cents=10**6,
        also=with_past_leads,
    )
    port = common.free_port()
    env = dict(
        os.environ,
        DATABASE_URL=url,
        LEADFLOW_INTAKE_RATE_LIMIT="0",
        LEADFLOW_LOG_LEVEL="WARNING",
        LEADFLOW_SECRET_KEY=generate_key(),
    )
    api = subprocess.Popen(
        [sys.executable, "-m", "bench.api_process", url, str(port)],
        cwd=common.ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        common.wait_for_port(port, api, "the API")
        _load(api.pid, port, "GET", "/healthz", 1)  # warm-up
        reference = _load(api.pid, port, "GET", "/healthz", seconds)
        body = json.dumps(BODY).encode()
        _load(api.pid, port, "POST", "/api/v1/leads", 1, body, WARM_UP_SEQ)
        with psycopg.connect(url) as conn:
            before = _count(conn)
        measured = _load(api.pid, port, "POST", "/api/v1/leads", seconds, body, MEASURED_SEQ)
        with psycopg.connect(url) as conn:
            stored = _count(conn) - before
            duplicates = _count(conn, "duplicate")
        api_rss = common.peak_rss_of(api.pid)
    finally:
        common.stop(api)

    return {
        "measured": measured,
        "reference": reference,
        "stored": stored,
        "duplicates": duplicates,
        "past_leads": past_leads,
        "api_peak_rss_bytes": api_rss,
        "server": common.server_facts(url),
    }


def _row(result: dict[str, Any]) -> common.Row:
    measured, reference, stored = result["measured"], result["reference"], result["stored"]
    created = int(measured["statuses"].get("201", 0))
    others = {k: v for k, v in measured["statuses"].items() if k != "201"}
    api_rss = result["api_peak_rss_bytes"]
    return common.Row.compare(
        "P5",
        f"POST /api/v1/leads req/s, {CONNECTIONS} keep-alive connections, rate limit "
        "off, a new consumer per request (duplicate check on)",
        measured["requests_per_s"],
        "req/s",
        reference["requests_per_s"],
        "req/s (GET /healthz, same server)",
        at_least=0.5,
        valid=clean(result),
        note=(
            f"p50 {measured['p50_ms']:.1f} ms / p99 {measured['p99_ms']:.1f} ms (reference "
            f"{reference['p50_ms']:.1f} / {reference['p99_ms']:.1f} ms); {created} answered 201, "
            f"{stored} stored, {result['duplicates']} duplicates"
            f"{'; other statuses ' + json.dumps(others) if others else ''}; "
            f"{_bound(measured, reference)}; API peak RSS {(api_rss or 0) / 2**20:.0f} MiB"
        ),
        extra={k: v for k, v in result.items() if k != "server"},
    )


def clean(result: dict[str, Any]) -> bool:
    """Every answer a 201, every 201 a stored lead, none a duplicate. The generator stops with
    requests in flight, so the server may have stored up to one per connection more."""
    statuses = result["measured"]["statuses"]
    created = int(statuses.get("201", 0))
    in_flight = result["stored"] - created
    return set(statuses) == {"201"} and 0 <= in_flight <= CONNECTIONS and not result["duplicates"]


def _bound(measured: dict[str, Any], reference: dict[str, Any]) -> str:
    """Which side each load was bound by: the API's CPU share against the generator's."""
    return (
        f"{measured['tool']}: generator CPU {measured['generator_cpu_share']:.0%} / "
        f"{reference['generator_cpu_share']:.0%} of a core, API process "
        f"{measured['server_cpu_share']:.0%} / {reference['server_cpu_share']:.0%} "
        "(intake / healthz)"
    )


def _count(conn: psycopg.Connection[Any], status: str | None = None) -> int:
    row = conn.execute(
        "SELECT count(*) FROM leads WHERE %(s)s::text IS NULL OR status = %(s)s", {"s": status}
    ).fetchone()
    return int(row[0]) if row else 0


def _load(
    api_pid: int,
    port: int,
    method: str,
    path: str,
    seconds: float,
    body: bytes = b"",
    seq_start: int | None = None,
) -> dict[str, Any]:
    """The load generator, in its own process; with the API process's CPU share meanwhile."""
    before, began = cpu.process_seconds(api_pid), time.perf_counter()
    result = http_load.drive(
        http_load.Load(port, method, path, seconds, CONNECTIONS, body=body, seq_start=seq_start)
    )
    elapsed = time.perf_counter() - began
    result["server_cpu_share"] = (cpu.process_seconds(api_pid) - before) / elapsed
    return result


if __name__ == "__main__":
    common.cli(run, __doc__)
