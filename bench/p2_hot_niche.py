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
    url, _, lead_ids = seed.market(
        server_url,
        name,
        prefix="p2",
        niches=1,
        levels=[(1, 1000)],
        subscriptions_per_level=SUBSCRIPTIONS,
        balance_cents=BALANCE_CENTS,
        leads=leads,
    )
    return url, lead_ids


def run(server_url: str, *, quick: bool = False) -> common.Row:
    ref_url = common.pgbench_database(server_url, 1 if quick else 10)
    limit_url, limit_leads = market(
        server_url, "bench_p2_limit", LIMIT_LEADS_QUICK if quick else LIMIT_LEADS
    )
    url, lead_ids = market(server_url, "bench_p2", 6000 if quick else 30000)
    hot_row = common.pgbench_script(HOT_ROW)
    try:
        measured, reference, the_limit = limit.measure(
            url,
            lead_ids,
            limit_url=limit_url,
            limit_leads=limit_leads,
            **distributors.schedule(quick),
            reference=lambda t: common.pgbench(
                ref_url, ["-n", "-c", "2", "-j", "2", "-T", str(max(1, round(t))), "-f", hot_row]
            ),
        )
    finally:
        os.unlink(hot_row)
    limit_ratio = measured["leads_per_s"] / the_limit["tps"]
    row = common.Row.compare(
        "P2",
        "leads/s into one niche, 1 level x max 1 (1 sale/lead), 2 distributors",
        measured["leads_per_s"],
        "leads/s",
        reference["tps"],
        "TPS (pgbench one-row UPDATE -c2 -j2)",
        at_least=0.1,
        note=(
            f"{limit_ratio:.2f} of the limit ({the_limit['tps']:,.0f} leads/s: pgbench writing "
            f"P2's rows, one sale per transaction); {limit.cpu_note(measured, the_limit)}; lead "
            f"p50 {measured['latency_ms_p50']:.1f} ms / p99 {measured['latency_ms_p99']:.1f} ms "
            "(includes waiting for the niche lock)"
        ),
        extra={"measured": measured, "limit": the_limit, "limit_ratio": limit_ratio},
    )
    return common.write_row(
        "p2", row, quick=quick, url=url, reference={**reference, "script": HOT_ROW.strip()}
    )


if __name__ == "__main__":
    common.cli(run, __doc__)
