"""P2 — leads/s into ONE niche with one level of max_recipients 1 (one sale per lead); the niche
lock serializes them; 2 concurrent distributors calling the engine (no queue).

Reference, same server, same run: ``pgbench -n -c 2 -j 2 -T 30 -f`` a script of one
``UPDATE pgbench_branches SET bbalance = bbalance + 1 WHERE bid = 1`` (one hot row).
Target: leads/s ÷ pgbench TPS ≥ 0.1.
"""

from __future__ import annotations

import argparse
import os

import psycopg

from bench import common, distributors, seed

SUBSCRIPTIONS = 30
BALANCE_CENTS = 10**12
HOT_ROW = "UPDATE pgbench_branches SET bbalance = bbalance + 1 WHERE bid = 1;\n"


def run(server_url: str, *, quick: bool = False) -> common.Row:
    seconds = 3 if quick else 30

    ref_url = common.pgbench_database(server_url, 1 if quick else 10)
    script = common.pgbench_script(HOT_ROW)

    url = common.fresh_database(server_url, "bench_p2")
    with psycopg.connect(url) as conn:
        niche_ids = seed.seed_niches(
            conn,
            niches=1,
            levels=[(1, 1000)],
            subscriptions_per_level=SUBSCRIPTIONS,
            balance_cents=BALANCE_CENTS,
            prefix="p2",
        )
        lead_ids = seed.seed_leads(conn, niche_ids, 6000 if quick else 30000)
        conn.commit()
        conn.autocommit = True
        seed.settle(conn)

    try:
        measured, refs = distributors.alternate(
            url,
            lead_ids,
            seconds=seconds,
            rounds=1 if quick else 3,
            reference=lambda t: common.pgbench(
                ref_url, ["-n", "-c", "2", "-j", "2", "-T", str(max(1, round(t))), "-f", script]
            ),
        )
    finally:
        os.unlink(script)
    reference = distributors.pgbench_summary(refs)

    ratio = measured["leads_per_s"] / reference["tps"] if reference["tps"] else None
    row = common.Row(
        id="P2",
        workload="leads/s into one niche, 1 level x max 1 (1 sale/lead), 2 distributors",
        figure=measured["leads_per_s"],
        unit="leads/s",
        reference=reference["tps"],
        reference_unit="TPS (pgbench one-row UPDATE -c2 -j2)",
        ratio=ratio,
        target="≥ 0.1",
        met=ratio is not None and ratio >= 0.1,
        note=(
            f"lead p50 {measured['latency_ms_p50']:.1f} ms / p99 {measured['latency_ms_p99']:.1f} ms "
            f"(includes waiting for the niche lock)"
        ),
        extra={"measured": measured},
    )
    common.write_result(
        "p2",
        {
            "quick": quick,
            "row": common.row_dict(row),
            "reference": {**reference, "script": HOT_ROW.strip()},
            "server": common.server_facts(url),
            "machine": common.machine_facts(),
        },
    )
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run (seconds, not minutes)")
    args = parser.parse_args(argv)
    with common.server() as url:
        print(common.table([run(url, quick=args.quick)]))


if __name__ == "__main__":
    main()
