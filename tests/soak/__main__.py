"""``python -m tests.soak [--minutes N]``: the soak test (``make soak``).

The real API (``leadflow serve``), ``--workers`` worker processes (``leadflow worker``), a real
SMTP sink and PostgreSQL (embedded under ``.leadflow/soak-pg``, or ``DATABASE_URL``, which
cannot be restarted). Leads arrive at ``--rate`` per second from a load-generator process, an
admin approves them and deposits money through the API; meanwhile a random worker is killed
with SIGKILL every ``--kill-every`` seconds and PostgreSQL is restarted twice (fast, then
immediate shutdown). Then it drains and checks that every lead, cent and mail is accounted for.
Prints one table; exits 1 if any check is broken.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import sys
import time
import traceback
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tests.soak import checks, cluster
from tests.soak.run import Options, Soak

ROOT = Path(__file__).resolve().parents[2]


def parse(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m tests.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--minutes", type=float, default=10.0, help="length of the load (default 10)"
    )
    parser.add_argument(
        "--rate", type=float, default=3.0, help="leads posted per second (default 3)"
    )
    parser.add_argument("--workers", type=int, default=3, help="worker processes (default 3)")
    parser.add_argument("--concurrency", type=int, default=4, help="jobs per worker (default 4)")
    parser.add_argument(
        "--kill-every", type=float, default=20.0, help="seconds between worker kills"
    )
    parser.add_argument(
        "--down-seconds", type=float, default=3.0, help="PostgreSQL downtime per restart"
    )
    parser.add_argument(
        "--grace", type=float, default=2.0, help="seconds after an outage still counted in it"
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=420.0, help="longest wait for the drain"
    )
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.rate <= 0 or args.workers < 1:
        parser.error("--minutes and --rate must be positive, --workers at least 1")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Options(
        minutes=args.minutes,
        rate=args.rate,
        workers=args.workers,
        concurrency=args.concurrency,
        kill_every=args.kill_every,
        down_seconds=args.down_seconds,
        grace=args.grace,
        drain_timeout=args.drain_timeout,
        seed=args.seed,
        run_dir=ROOT / ".leadflow" / "soak" / stamp,
    )


def render(report: checks.Report, minutes: float) -> Table:
    table = Table(title=f"leadflow soak — {minutes:g} min", title_justify="left", show_lines=False)
    table.add_column("", style="bold")
    table.add_column("what")
    table.add_column("result")
    section = ""
    for group, label, value in report.facts:
        if group != section and section:
            table.add_section()
        table.add_row(group if group != section else "", label, value)
        section = group
    table.add_section()
    for n, check in enumerate(report.checks):
        verdict = "[green]held[/green]" if check.held else "[red]BROKEN[/red]"
        detail = f" — {check.detail}" if check.detail and not check.held else ""
        table.add_row("invariants" if n == 0 else "", check.name, verdict + detail)
    return table


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    console = Console(stderr=True)
    # Two soaks would share the server and drop each other's database.
    (ROOT / ".leadflow").mkdir(exist_ok=True)
    lock = (ROOT / ".leadflow" / "soak.lock").open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        console.print("[red]another soak is running in this checkout[/red]")
        return 2
    options.run_dir.mkdir(parents=True, exist_ok=True)
    postgres = cluster.Postgres(ROOT / ".leadflow" / "soak-pg", os.environ.get("DATABASE_URL"))
    console.print(f"soak: {options.minutes:g} min, logs in {options.run_dir.relative_to(ROOT)}")
    began = time.monotonic()
    try:
        collected = Soak(options, postgres).run()
        report = checks.evaluate(collected)
    except Exception:
        traceback.print_exc()
        console.print(f"[red]the soak could not run to its end; logs in {options.run_dir}[/red]")
        return 2
    finally:
        postgres.stop_server()
    Console(width=140).print(render(report, options.minutes))
    summary = {
        "facts": report.facts,
        "checks": [asdict(c) for c in report.checks],
        "faults": [asdict(f) for f in collected.faults],
        "outages": [asdict(o) for o in collected.outages],
        "approvals_not_200": {k: v for k, v in collected.approvals.items() if v != [200]},
        "deposits_5xx": sorted(collected.deposits_5xx),
        "seconds": round(time.monotonic() - began, 1),
    }
    (options.run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    with (options.run_dir / "admin.jsonl").open("w") as out:
        for answer in collected.admin:
            out.write(json.dumps(asdict(answer)) + "\n")
    if not report.held:
        console.print(f"[red]broken invariants; logs in {options.run_dir.relative_to(ROOT)}[/red]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
