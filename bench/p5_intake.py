"""P5 — ``POST /api/v1/leads`` requests/s (p50/p99 too) from a load generator in a separate
process, intake rate limit off (``LEADFLOW_INTAKE_RATE_LIMIT=0``); every 201 answered after its
commit (checked: the leads table holds exactly as many leads as 201s were answered).

Reference, same server process, same run: ``GET /healthz``, a bare endpoint returning a constant.
Target: intake requests/s / reference requests/s >= 0.5.
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
BODY = {
    "niche": "p5-1",
    "name": "Pat Lead",
    "email": "pat@example.com",
    "phone": "+15555550100",
    "postal_code": "10001",
    "attributes": {"budget": 1200, "rooms": 3},
}


def run(server_url: str, *, quick: bool = False) -> common.Row:
    try:
        from leadflow.api.app import create_app  # noqa: F401
    except ImportError as exc:
        return _missing(f"prerequisite missing or not importable: the API ({exc})")

    seconds = 2 if quick else 20
    url = common.fresh_database(server_url, "bench_p5")
    with psycopg.connect(url) as conn:
        seed.seed_niches(
            conn,
            niches=1,
            levels=[(1, 1000)],
            subscriptions_per_level=1,
            balance_cents=10**6,
            prefix="p5",
        )
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
        _load(port, "POST", "/api/v1/leads", 1, CONNECTIONS, json.dumps(BODY))  # warm-up
        with psycopg.connect(url) as conn:
            before = _count(conn)
        measured = _load(port, "POST", "/api/v1/leads", seconds, CONNECTIONS, json.dumps(BODY))
        with psycopg.connect(url) as conn:
            stored = _count(conn) - before
        api_rss = common.peak_rss_of(api.pid)
    finally:
        api.terminate()
        try:
            api.wait(timeout=30)
        except subprocess.TimeoutExpired:
            api.kill()

    created = int(measured["statuses"].get("201", 0))
    ratio = (
        measured["requests_per_s"] / reference["requests_per_s"]
        if reference["requests_per_s"]
        else None
    )
    others = {k: v for k, v in measured["statuses"].items() if k != "201"}
    row = common.Row(
        id="P5",
        workload=f"POST /api/v1/leads req/s, {CONNECTIONS} keep-alive connections, rate limit off",
        figure=measured["requests_per_s"],
        unit="req/s",
        reference=reference["requests_per_s"],
        reference_unit="req/s (GET /healthz, same server)",
        ratio=ratio,
        target=">= 0.5",
        met=ratio is not None and ratio >= 0.5 and not others and stored == created,
        note=(
            f"p50 {measured['p50_ms']:.1f} ms / p99 {measured['p99_ms']:.1f} ms (reference "
            f"{reference['p50_ms']:.1f} / {reference['p99_ms']:.1f} ms); {created} answered 201, "
            f"{stored} stored{'; other statuses ' + json.dumps(others) if others else ''}; "
            f"API peak RSS {(api_rss or 0) / 2**20:.0f} MiB"
        ),
        extra={
            "measured": measured,
            "reference": reference,
            "stored": stored,
            "api_peak_rss_bytes": api_rss,
        },
    )
    common.write_result(
        "p5",
        {
            "quick": quick,
            "row": common.row_dict(row),
            "server": common.server_facts(url),
            "machine": common.machine_facts(),
        },
    )
    return row


def _missing(reason: str) -> common.Row:
    row = common.Row(
        "P5", "POST /api/v1/leads req/s", None, "", None, "", None, ">= 0.5", None, note=reason
    )
    common.write_result("p5", {"row": common.row_dict(row), "machine": common.machine_facts()})
    return row


def _count(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM leads").fetchone()
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
    port: int, method: str, path: str, seconds: float, connections: int, body: str = ""
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
