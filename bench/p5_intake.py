"""P5 — ``POST /api/v1/leads`` requests/s (p50/p99 too) from a load generator in a separate
process, intake rate limit off (``LEADFLOW_INTAKE_RATE_LIMIT=0``); every 201 answered after its
commit (checked: the leads table holds exactly as many leads as 201s were answered).

Reference, same server process, same run: ``GET /healthz``, a bare endpoint returning a constant.
Target: intake requests/s / reference requests/s >= 0.5.

Every request is another consumer (phone and e-mail numbered per request), so with the niche's
duplicate check on (30 days, the default) each lead is checked and stored as new. ``measure``
is shared with P7, which runs it again with a million past leads in the niche.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from typing import Any

import psycopg

from bench import common, seed
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
    try:
        from leadflow.api.app import create_app  # noqa: F401
    except ImportError as exc:
        return _missing(f"prerequisite missing or not importable: the API ({exc})")
    result = measure(server_url, quick=quick, database="bench_p5")
    row = _row(result)
    common.write_result(
        "p5",
        {
            "quick": quick,
            "row": common.row_dict(row),
            "server": result["server"],
            "machine": common.machine_facts(),
        },
    )
    return row


def measure(server_url: str, *, quick: bool, database: str, past_leads: int = 0) -> dict[str, Any]:
    """P5's run on a fresh database whose niche holds ``past_leads`` leads of other consumers
    (created over the last 29 days, inside the duplicate window, with their keys)."""
    seconds = 2 if quick else 20
    url = common.fresh_database(server_url, database)
    with psycopg.connect(url) as conn:
        seed.seed_niches(
            conn,
            niches=1,
            levels=[(1, 1000)],
            subscriptions_per_level=1,
            balance_cents=10**6,
            prefix="p5",
        )
        if past_leads:
            seed.seed_past_leads(conn, slug="p5-1", count=past_leads)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE leads")
    port = _free_port()
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
        _wait_for(port, api)
        _load(port, "GET", "/healthz", 1, CONNECTIONS)  # warm-up
        reference = _load(port, "GET", "/healthz", seconds, CONNECTIONS)
        body = json.dumps(BODY)
        _load(port, "POST", "/api/v1/leads", 1, CONNECTIONS, body, WARM_UP_SEQ)
        with psycopg.connect(url) as conn:
            before = _count(conn)
        measured = _load(port, "POST", "/api/v1/leads", seconds, CONNECTIONS, body, MEASURED_SEQ)
        with psycopg.connect(url) as conn:
            stored = _count(conn) - before
            duplicates = _count(conn, "duplicate")
        api_rss = common.peak_rss_of(api.pid)
    finally:
        api.terminate()
        try:
            api.wait(timeout=30)
        except subprocess.TimeoutExpired:
            api.kill()

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
    ratio = (
        measured["requests_per_s"] / reference["requests_per_s"]
        if reference["requests_per_s"]
        else None
    )
    others = {k: v for k, v in measured["statuses"].items() if k != "201"}
    api_rss = result["api_peak_rss_bytes"]
    return common.Row(
        id="P5",
        workload=f"POST /api/v1/leads req/s, {CONNECTIONS} keep-alive connections, rate limit "
        "off, a new consumer per request (duplicate check on)",
        figure=measured["requests_per_s"],
        unit="req/s",
        reference=reference["requests_per_s"],
        reference_unit="req/s (GET /healthz, same server)",
        ratio=ratio,
        target=">= 0.5",
        met=ratio is not None
        and ratio >= 0.5
        and not others
        and stored == created
        and not result["duplicates"],
        note=(
            f"p50 {measured['p50_ms']:.1f} ms / p99 {measured['p99_ms']:.1f} ms (reference "
            f"{reference['p50_ms']:.1f} / {reference['p99_ms']:.1f} ms); {created} answered 201, "
            f"{stored} stored, {result['duplicates']} duplicates"
            f"{'; other statuses ' + json.dumps(others) if others else ''}; "
            f"API peak RSS {(api_rss or 0) / 2**20:.0f} MiB"
        ),
        extra={k: v for k, v in result.items() if k != "server"},
    )


def _missing(reason: str) -> common.Row:
    row = common.Row(
        "P5", "POST /api/v1/leads req/s", None, "", None, "", None, ">= 0.5", None, note=reason
    )
    common.write_result("p5", {"row": common.row_dict(row), "machine": common.machine_facts()})
    return row


def _count(conn: psycopg.Connection[Any], status: str | None = None) -> int:
    row = conn.execute(
        "SELECT count(*) FROM leads WHERE %(s)s::text IS NULL OR status = %(s)s", {"s": status}
    ).fetchone()
    return int(row[0]) if row else 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the API exited at start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the API did not start listening")


def _load(
    port: int,
    method: str,
    path: str,
    seconds: float,
    connections: int,
    body: str = "",
    seq_start: int | None = None,
) -> dict[str, Any]:
    """The load generator, in its own process."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.loadgen",
            "127.0.0.1",
            str(port),
            method,
            path,
            str(seconds),
            str(connections),
            body,
            *([] if seq_start is None else [str(seq_start)]),
        ],
        cwd=common.ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run (seconds, not minutes)")
    args = parser.parse_args(argv)
    with common.server() as url:
        print(common.table([run(url, quick=args.quick)]))


if __name__ == "__main__":
    main()
