"""``python -m bench [--quick] [P1 P2 ...]``: run the benchmarks, print the table, write JSON.

Each benchmark runs its reference on the same PostgreSQL server in the same run. ``--quick``
shortens every run and shrinks P4, P6 and P7, for a whole pass in about three minutes.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback

from bench import common, cpu, history

BENCHMARKS = {
    "P1": "bench.p1_sales",
    "P1W": "bench.p1_sales:run_with_endpoints",
    "P2": "bench.p2_hot_niche",
    "P3": "bench.p3_queue",
    "P4": "bench.p4_scale",
    "P4R": "bench.p4_scale:run_with_rules",
    "P5": "bench.p5_intake",
    "P6": "bench.p6_webhooks",
    "P7": "bench.p7_intake_dedupe",
    "P8": "bench.p8_console",
    "P1WT": "bench.p1_weights",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="short runs, smaller P4, P6 and P7 (about three minutes)",
    )
    parser.add_argument("only", nargs="*", metavar="ID", help="benchmarks to run (default: all)")
    args = parser.parse_args(argv)
    chosen = [b.upper() for b in args.only] or list(BENCHMARKS)
    unknown = [b for b in chosen if b not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")

    rows: list[common.Row] = []
    failed = False
    started = time.perf_counter()
    whole_run = cpu.Snapshot.take()
    with common.server() as url:
        facts = common.server_facts(url)
        if not facts["durable"]:
            print(f"warning: the server is not durable: {facts}", file=sys.stderr)
        for name in chosen:
            module_name, _, function = BENCHMARKS[name].partition(":")
            run = getattr(importlib.import_module(module_name), function or "run")
            print(f"running {name} ...", file=sys.stderr, flush=True)
            common.watch_load()
            try:
                rows.append(run(url, quick=args.quick))
            except Exception as exc:
                failed = True
                traceback.print_exc()
                rows.append(
                    common.Row(
                        name, "failed", None, "", None, "", None, "", False, note=str(exc)[:300]
                    )
                )
            rows[-1].extra["load"] = common.machine_load()
            print(common.table(rows[-1:]), file=sys.stderr, flush=True)
    machine = common.machine_facts()
    load = cpu.load_between(whole_run, cpu.Snapshot.take())
    elapsed = time.perf_counter() - started
    summary = common.table(rows)
    print()
    print(summary)
    print()
    print(
        f"{machine['cores']} cores, PostgreSQL {facts['postgresql']}, fsync={facts['fsync']}, "
        f"synchronous_commit={facts['synchronous_commit']}, commit {machine['commit']}, "
        f"{'quick' if args.quick else 'full'} run in {elapsed:.0f} s; {cpu.describe(load)}"
    )
    print(history.compare(rows, quick=args.quick))
    common.write_result(
        "summary",
        {
            "quick": args.quick,
            "rows": [common.row_dict(r) for r in rows],
            "server": facts,
            "machine": machine,
            "elapsed_s": round(elapsed, 1),
            "load": load,
            "table": summary,
        },
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
