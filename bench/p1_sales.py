"""P1 — sales/s: 20 niches in all_levels mode, 3 levels (max 1/3/5: 9 sales per lead), 30 funded
subscriptions per level, 2 concurrent distributors calling the engine.

Reference, same server, same run: ``pgbench -i -s 10`` then ``pgbench -c 2 -j 2 -T 30`` (TPC-B-like).
Target: sales/s ÷ pgbench TPS ≥ 1.0. Also against the limit (``bench.limit``): pgbench writing
exactly the rows of P1's leads, one transaction per lead, on a market seeded like P1's; and the
client and server CPU seconds per lead (``bench.distributors``).

P1w (``run_with_endpoints``): the same market with one active webhook endpoint per provider, so
each sale also writes its ``webhook_deliveries`` row; reference: the market without endpoints,
in its own database, alternating with it in the same rounds. Target: ratio ≥ 0.9.
"""

from __future__ import annotations

import argparse
from typing import Any

import psycopg

from bench import common, distributors, limit, seed

NICHES = 20
LEVELS = [(1, 4900), (3, 2500), (5, 1000)]
SUBSCRIPTIONS_PER_LEVEL = 30
BALANCE_CENTS = 10**12
# Endpoints P1w seeds: never sent to (no worker runs in P1w).
UNSENT_URL = "https://buyer.example/hooks/"
# Leads planned for the limit: more than pgbench writes in the time given.
LIMIT_LEADS = 40_000
LIMIT_LEADS_QUICK = 6_000


def market(
    server_url: str,
    name: str,
    *,
    quick: bool,
    endpoints: bool = False,
    leads: int | None = None,
) -> tuple[str, list[Any]]:
    """P1's market in a fresh database ``name``: its URL and the leads in round-robin order
    (lead i in niche i % 20). With ``endpoints``, every provider has one active webhook
    endpoint, so each sale also writes its outbox row (nothing is sent: no worker runs).
    ``leads``: how many (by default more than two distributors sell in the time given)."""

    def with_endpoints(conn: psycopg.Connection[Any], _niches: list[Any]) -> None:
        seed.seed_endpoints(conn, base_url=UNSENT_URL, secret_ciphertext=_sealed_secret())

    url, _, lead_ids = seed.market(
        server_url,
        name,
        prefix="p1",
        niches=NICHES,
        levels=LEVELS,
        subscriptions_per_level=SUBSCRIPTIONS_PER_LEVEL,
        balance_cents=BALANCE_CENTS,
        leads=leads or (4000 if quick else 20000),
        also=with_endpoints if endpoints else None,
    )
    return url, lead_ids


def run(server_url: str, *, quick: bool = False) -> common.Row:
    scale = 1 if quick else 10
    ref_url = common.pgbench_database(server_url, scale)
    limit_url, limit_leads = market(
        server_url, "bench_p1_limit", quick=quick, leads=LIMIT_LEADS_QUICK if quick else LIMIT_LEADS
    )
    url, lead_ids = market(server_url, "bench_p1", quick=quick)
    measured, reference, the_limit = limit.measure(
        url,
        lead_ids,
        limit_url=limit_url,
        limit_leads=limit_leads,
        **distributors.schedule(quick),
        reference=lambda t: common.pgbench(
            ref_url, ["-n", "-c", "2", "-j", "2", "-T", str(max(1, round(t)))]
        ),
    )
    per_lead = _round_trips(url, seed.approved_leads(url, 22))
    limit_ratio = measured["sales_per_s"] / the_limit["sales_per_s"]
    row = common.Row.compare(
        "P1",
        "sales/s, 20 niches x 3 levels (9 sales/lead), 2 distributors",
        measured["sales_per_s"],
        "sales/s",
        reference["tps"],
        "TPS (pgbench TPC-B -c2 -j2)",
        at_least=1.0,
        note=(
            f"{limit_ratio:.2f} of the limit ({the_limit['sales_per_s']:,.0f} sales/s: pgbench "
            f"writing P1's rows, {the_limit['tps']:,.0f} leads/s); "
            f"{limit.cpu_note(measured, the_limit)}; {measured['leads_per_s']:.1f} leads/s, "
            f"{_per_lead(measured, per_lead)}; distributor peak RSS "
            f"{measured['distributor_peak_rss_bytes'] / 2**20:.0f} MiB"
        ),
        extra={
            "measured": measured,
            "per_lead": per_lead,
            "limit": the_limit,
            "limit_ratio": limit_ratio,
        },
    )
    return common.write_row(
        "p1", row, quick=quick, url=url, reference={**reference, "scale": scale}
    )


def run_with_endpoints(server_url: str, *, quick: bool = False) -> common.Row:
    """P1w: P1's market with one active webhook endpoint per provider, against the same market
    without endpoints (its own database), alternating in rounds. Target: ratio ≥ 0.9."""
    plain_url, plain_leads = market(server_url, "bench_p1", quick=quick)
    url, lead_ids = market(server_url, "bench_p1w", quick=quick, endpoints=True)
    measured, refs = distributors.alternate(
        url,
        lead_ids,
        **distributors.schedule(quick),
        reference=lambda t: distributors.one_round(plain_url, plain_leads, t),
    )
    reference = distributors.summary(refs)
    written = _deliveries(url)
    per_lead = _round_trips(url, seed.approved_leads(url, 22))
    row = common.Row.compare(
        "P1w",
        "P1 with one active webhook endpoint per provider (each sale adds its outbox row)",
        measured["sales_per_s"],
        "sales/s",
        reference["sales_per_s"],
        "sales/s (P1 without endpoints, alternating)",
        at_least=0.9,
        note=(
            f"with endpoints {_per_lead(measured, per_lead)}; without: lead p50 "
            f"{reference['latency_ms_p50']:.1f} / p99 {reference['latency_ms_p99']:.1f} ms; "
            f"{written} deliveries written for {measured['sales']} sales"
        ),
        extra={"measured": measured, "reference": reference, "per_lead": per_lead},
    )
    return common.write_row("p1w", row, quick=quick, url=url, deliveries_written=written)


def _per_lead(measured: dict[str, Any], per_lead: dict[str, float]) -> str:
    """Latency, round trips and statements per lead, as the notes give them."""
    return (
        f"lead p50 {measured['latency_ms_p50']:.1f} ms / p99 {measured['latency_ms_p99']:.1f} ms; "
        f"{per_lead['round_trips']:.1f} round trips and {per_lead['statements']:.1f} "
        "statements per lead"
    )


def _sealed_secret() -> str:
    """One endpoint secret, sealed once and shared by every seeded endpoint."""
    from leadflow.webhooks.secret_box import SecretBox, generate_key, new_signing_secret

    return SecretBox.from_setting(generate_key()).seal(new_signing_secret())


def _deliveries(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM webhook_deliveries").fetchone()
    return int(row[0]) if row else 0


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
    parser.add_argument(
        "--endpoints", action="store_true", help="P1w: with endpoints, against P1 without"
    )
    args = parser.parse_args(argv)
    chosen = run_with_endpoints if args.endpoints else run
    with common.server() as url:
        print(common.table([chosen(url, quick=args.quick)]))


if __name__ == "__main__":
    main()
