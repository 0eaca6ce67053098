"""P2 — leads/s into ONE niche with one level of max_recipients 1 (one sale per lead); the niche
lock serializes them; 2 concurrent distributors calling the engine (no queue).

Reference, same server, same run: ``pgbench -n -c 2 -j 2 -T 30 -f`` a script of one
``UPDATE pgbench_branches SET bbalance = bbalance + 1 WHERE bid = 1`` (one hot row).
Target: leads/s ÷ pgbench TPS ≥ 0.1. Also against the limit (``bench.limit``): pgbench writing
exactly the rows of P2's leads (one sale each), one transaction per lead, on a market seeded
like P2's; and the client and server CPU seconds per lead (``bench.distributors``).
"""

from __future__ import annotations

import os
from typing import Any

import psycopg

from bench import common, distributors, limit, seed

SUBSCRIPTIONS = 30
BALANCE_CENTS = 10**12
# Leads planned for the limit: more than pgbench writes in the time given.
LIMIT_LEADS = 80_000
LIMIT_LEADS_QUICK = 20_000
HOT_ROW = "UPDATE pgbench_branches SET bbalance = bbalance + 1 WHERE bid = 1;\n"


def market(server_url: str, name: str, leads: int) -> tuple[str, list[Any]]:
    """P2's market (one niche, one level of max 1, 30 subscriptions) in a fresh database
    ``name`` with ``leads`` approved leads: its URL and the leads."""
    url = common.fresh_database(server_url, name)
    with psycopg.connect(url) as conn:
        niche_ids = seed.seed_niches(
            conn,
            niches=1,
            levels=[(1, 1000)],
            subscriptions_per_level=SUBSCRIPTIONS,
            balance_cents=BALANCE_CENTS,
            prefix="p2",
        )
        lead_ids = seed.seed_leads(conn, niche_ids, leads)
        conn.commit()
        conn.autocommit = True
        seed.settle(conn)
    return url, lead_ids


def run(server_url: str, *, quick: bool = False) -> common.Row:
    seconds = 3 if quick else 30

    ref_url = common.pgbench_database(server_url, 1 if quick else 10)
    limit_url, limit_leads = market(
        server_url, "bench_p2_limit", LIMIT_LEADS_QUICK if quick else LIMIT_LEADS
    )
    sales_per_lead = limit.prepare(limit_url, limit_leads)
    url, lead_ids = market(server_url, "bench_p2", 6000 if quick else 30000)
    hot_row = common.pgbench_script(HOT_ROW)
    try:
        with limit.script() as script:

            def references(t: float) -> tuple[common.PgbenchResult, limit.LimitResult]:
                one_row = common.pgbench(
                    ref_url,
                    ["-n", "-c", "2", "-j", "2", "-T", str(max(1, round(t))), "-f", hot_row],
                )
                return one_row, limit.run(limit_url, script, t, sales_per_lead)

            measured, refs = distributors.alternate(
                url, lead_ids, seconds=seconds, rounds=1 if quick else 3, reference=references
            )
    finally:
        os.unlink(hot_row)
    reference = distributors.pgbench_summary([one_row for one_row, _ in refs])
    the_limit = limit.summary([lim for _, lim in refs], sales_per_lead)

    ratio = measured["leads_per_s"] / reference["tps"] if reference["tps"] else None
    limit_ratio = measured["leads_per_s"] / the_limit["tps"]
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
            f"{limit_ratio:.2f} of the limit ({the_limit['tps']:,.0f} leads/s: pgbench writing "
            f"P2's rows, one sale per transaction); CPU per lead client "
            f"{common.fmt(measured['client_cpu_ms_per_lead'], 2)} ms + server "
            f"{common.fmt(measured['server_cpu_ms_per_lead'], 2)} ms against the limit's server "
            f"{common.fmt(the_limit['server_cpu_ms_per_lead'], 2)} ms; lead p50 "
            f"{measured['latency_ms_p50']:.1f} ms / p99 {measured['latency_ms_p99']:.1f} ms "
            "(includes waiting for the niche lock)"
        ),
        extra={"measured": measured, "limit": the_limit, "limit_ratio": limit_ratio},
    )
    return common.write_row(
        "p2", row, quick=quick, url=url, reference={**reference, "script": HOT_ROW.strip()}
    )


if __name__ == "__main__":
    common.cli(run, __doc__)
