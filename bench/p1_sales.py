"""P1 — sales/s: 20 niches in all_levels mode, 3 levels (max 1/3/5: 9 sales per lead), 30 funded
subscriptions per level, 2 concurrent distributors calling the engine.

Reference, same server, same run: ``pgbench -i -s 10`` then ``pgbench -c 2 -j 2 -T 30`` (TPC-B-like).
Target: sales/s ÷ pgbench TPS ≥ 1.0.
"""

from __future__ import annotations

import argparse
from typing import Any

import psycopg

from bench import common, distributors, seed

NICHES = 20
LEVELS = [(1, 4900), (3, 2500), (5, 1000)]
SUBSCRIPTIONS_PER_LEVEL = 30
BALANCE_CENTS = 10**12


def run(server_url: str, *, quick: bool = False) -> common.Row:
    seconds = 3 if quick else 30
    scale = 1 if quick else 10

    ref_url = common.pgbench_database(server_url, scale)

    url = common.fresh_database(server_url, "bench_p1")
    with psycopg.connect(url) as conn:
        niche_ids = seed.seed_niches(
            conn,
            niches=NICHES,
            levels=LEVELS,
            subscriptions_per_level=SUBSCRIPTIONS_PER_LEVEL,
            balance_cents=BALANCE_CENTS,
            prefix="p1",
        )
        # Generously more leads than two distributors can sell in the time given.
        lead_ids = seed.seed_leads(conn, niche_ids, 4000 if quick else 20000)
        conn.commit()
        conn.autocommit = True
        seed.settle(conn)

    # Lead i is in niche i % 20: distributor 0 takes the even niches, distributor 1 the odd.
    measured, reference = distributors.alternate(
        url,
        lead_ids,
        seconds=seconds,
        rounds=1 if quick else 3,
        reference=lambda t: common.pgbench(
            ref_url, ["-n", "-c", "2", "-j", "2", "-T", str(max(1, round(t)))]
        ),
    )
    per_lead = _round_trips(url, seed.approved_leads(url, 22))

    ratio = measured["sales_per_s"] / reference["tps"] if reference["tps"] else None
    row = common.Row(
        id="P1",
        workload="sales/s, 20 niches x 3 levels (9 sales/lead), 2 distributors",
        figure=measured["sales_per_s"],
        unit="sales/s",
        reference=reference["tps"],
        reference_unit="TPS (pgbench TPC-B -c2 -j2)",
        ratio=ratio,
        target="≥ 1.0",
        met=ratio is not None and ratio >= 1.0,
        note=(
            f"{measured['leads_per_s']:.1f} leads/s, lead p50 {measured['latency_ms_p50']:.1f} ms / "
            f"p99 {measured['latency_ms_p99']:.1f} ms; {per_lead['round_trips']:.1f} round trips and "
            f"{per_lead['statements']:.1f} statements per lead; distributor peak RSS "
            f"{measured['distributor_peak_rss_bytes'] / 2**20:.0f} MiB"
        ),
        extra={"measured": measured, "per_lead": per_lead},
    )
    common.write_result(
        "p1",
        {
            "quick": quick,
            "row": common.row_dict(row),
            "reference": {**reference, "scale": scale},
            "server": common.server_facts(url),
            "machine": common.machine_facts(),
        },
    )
    return row


def _round_trips(url: str, lead_ids: list[Any]) -> dict[str, float]:
    """Round trips and statements per distributed lead, from libpq's protocol trace."""
    from leadflow.domain.model import Actor
    from leadflow.services.distribution import distribute_lead

    if not lead_ids:
        return {"round_trips": float("nan"), "statements": float("nan"), "leads": 0}
    with common.traced_pool(url) as (pool, read):
        # Two leads first so prepared statements are in place, as in steady state.
        for lead_id in lead_ids[:2]:
            distribute_lead(pool, lead_id=lead_id, triggered_by=Actor.system())
        read()
        counted = lead_ids[2:]
        for lead_id in counted:
            distribute_lead(pool, lead_id=lead_id, triggered_by=Actor.system())
        found = read()
    n = max(1, len(counted))
    return {"round_trips": found.round_trips / n, "statements": found.statements / n, "leads": n}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run (seconds, not minutes)")
    args = parser.parse_args(argv)
    with common.server() as url:
        print(common.table([run(url, quick=args.quick)]))


if __name__ == "__main__":
    main()
