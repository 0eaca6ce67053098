"""P4 — distribution latency (median of 200 leads) as one level of a niche grows to 100 / 10,000 /
100,000 subscriptions, each covering 50 random postal codes of 40,000, 10 % with a daily cap, with
1,000,000 past assignments spread over a year (10 per subscription); the lead's postal code random.

Reference, same server, same run: the 100-subscription case.
Target: median at 100,000 subscriptions + 1,000,000 assignments ≤ 1.5 x the reference.

Leads are distributed one at a time, the three cases interleaved so that noise on a shared machine
falls on all of them alike.

P4R (``run_with_rules``), the same with delivery rules (SPEC §12): 30 % of the subscriptions have a
schedule (weekdays 08:00-20:00 and Saturday morning, in one of four US zones), 10 % hourly and
weekly caps and daily and monthly budgets. Target: the same ratio, ≤ 1.5 x its 100-subscription
case. Every subscription with a cap or budget has a tally row (the engine reads it by primary key).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import psycopg

from bench import common, seed

POSTAL_CODES = 40_000
CODES_PER_SUBSCRIPTION = 50
ASSIGNMENTS_PER_SUBSCRIPTION = 10
MAX_RECIPIENTS = 1
PRICE_CENTS = 1000
BALANCE_CENTS = 10**12


def run_with_rules(server_url: str, *, quick: bool = False) -> common.Row:
    """P4R: P4 with schedules on 30 % and more caps and budgets on 10 % of the subscriptions."""
    return run(server_url, quick=quick, rules=True)


def run(server_url: str, *, quick: bool = False, rules: bool = False) -> common.Row:
    sizes = [100, 1_000, 3_000] if quick else [100, 10_000, 100_000]
    leads_per_case = 20 if quick else 200
    name = "P4R" if rules else "P4"

    url = common.fresh_database(server_url, "bench_p4r" if rules else "bench_p4")
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        niches = _build(conn, sizes, rules=rules)
        conn.commit()
        conn.autocommit = True
        seed.settle(conn)
        lead_ids = {
            size: seed.seed_leads(
                conn, [niches[size]], leads_per_case + 5, postal_codes=POSTAL_CODES
            )
            for size in sizes
        }
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM subscriptions) AS subscriptions, "
            "(SELECT count(*) FROM lead_assignments) AS assignments"
        ).fetchone()
    build_s = time.perf_counter() - started

    latencies, sold, sales = _measure(url, sizes, lead_ids)
    medians = {size: common.median(latencies[size]) for size in sizes}
    reference, largest = medians[sizes[0]], medians[sizes[-1]]
    ratio = largest / reference if reference else None
    cases = {
        str(size): {
            "median_ms": medians[size],
            "p99_ms": common.percentile(latencies[size], 99),
            "leads": len(latencies[size]),
            "leads_with_a_sale": sales[size],
            # Like for like: only leads that sold (the small niche rarely covers the code).
            "median_ms_sold_only": common.median(sold[size]),
        }
        for size in sizes
    }
    row = common.Row(
        id=name,
        workload=(
            f"distribution latency, median of {leads_per_case}, at {sizes[-1]:,} subscriptions + "
            f"{sizes[-1] * ASSIGNMENTS_PER_SUBSCRIPTION:,} past assignments"
            + (", 30 % scheduled, 10 % with hourly/weekly caps and budgets" if rules else "")
        ),
        figure=largest,
        unit="ms",
        reference=reference,
        reference_unit=f"ms at {sizes[0]} subscriptions",
        ratio=ratio,
        target="≤ 1.5",
        met=ratio is not None and ratio <= 1.5,
        note="medians "
        + ", ".join(
            f"{size:,} subs {medians[size]:.1f} ms ({sales[size]}/{len(latencies[size])} leads sold)"
            for size in sizes
        )
        + f"; medians of sold leads only: {sizes[0]:,} subs "
        + f"{common.fmt(common.median(sold[sizes[0]]))} ms, {sizes[-1]:,} subs "
        + f"{common.fmt(common.median(sold[sizes[-1]]))} ms",
        extra={"cases": cases},
    )
    common.write_result(
        name.lower(),
        {
            "quick": quick,
            "row": common.row_dict(row),
            "build_s": round(build_s, 1),
            "rows": {
                "subscriptions": counts[0] if counts else None,
                "assignments": counts[1] if counts else None,
            },
            "server": common.server_facts(url),
            "machine": common.machine_facts(),
        },
    )
    return row


def _build(conn: psycopg.Connection[Any], sizes: list[int], *, rules: bool) -> dict[int, Any]:
    """One niche per size with one level; providers shared (provider k subscribes in every niche
    of size ≥ k); ``10 x size`` past assignments per niche, 10 per lead, over the last year."""
    # The data is consistent by construction; skipping FK triggers makes the load much faster.
    try:
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
    except psycopg.errors.InsufficientPrivilege:
        pass
    else:
        conn.execute("SET session_replication_role = replica")
    biggest = max(sizes)
    conn.execute(
        """
        CREATE TEMP TABLE seed_provider AS
        SELECT gen_random_uuid() AS id, k FROM generate_series(1, %s) k
        """,
        (biggest,),
    )
    conn.execute(
        """
        INSERT INTO providers (id, name, email, balance_cents)
        SELECT id, 'Provider ' || k, 'p' || k || '@bench.test', %(b)s FROM seed_provider
        """,
        {"b": BALANCE_CENTS},
    )
    conn.execute(
        """
        INSERT INTO ledger_entries (provider_id, amount_cents, balance_after_cents, kind, note)
        SELECT id, %(b)s, %(b)s, 'deposit', 'bench seed' FROM seed_provider
        """,
        {"b": BALANCE_CENTS},
    )
    niches: dict[int, Any] = {}
    for size in sizes:
        niche_id = conn.execute(
            "INSERT INTO niches (slug, name) VALUES (%s, %s) RETURNING id",
            (f"p4-{size}", f"P4 {size}"),
        ).fetchone()[0]  # type: ignore[index]
        level_id = conn.execute(
            """
            INSERT INTO competition_levels (niche_id, name, order_position, max_recipients, price_per_lead_cents)
            VALUES (%s, 'Only', 1, %s, %s) RETURNING id
            """,
            (niche_id, MAX_RECIPIENTS, PRICE_CENTS),
        ).fetchone()[0]  # type: ignore[index]
        niches[size] = niche_id
        _build_level(conn, niche_id, level_id, size, rules=rules)
    return niches


# P4R's schedules: weekdays 08:00-20:00, Saturday 09:00-13:00, in one of these zones.
ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"]
OFFICE_HOURS = {
    **{day: [["08:00", "20:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    "sat": [["09:00", "13:00"]],
}


def _build_level(
    conn: psycopg.Connection[Any], niche_id: Any, level_id: Any, size: int, *, rules: bool
) -> None:
    n_leads = size * ASSIGNMENTS_PER_SUBSCRIPTION // 10
    conn.execute("DROP TABLE IF EXISTS seed_sub, seed_lead")
    conn.execute(
        """
        CREATE TEMP TABLE seed_sub AS
        SELECT gen_random_uuid() AS id, p.id AS provider_id, p.k,
               ARRAY(SELECT lpad(floor(random() * %(codes)s)::int::text, 5, '0')
                     FROM generate_series(1, %(per)s) WHERE p.k > 0) AS postal_codes,
               CASE WHEN random() < 0.1 THEN 1 + floor(random() * 5)::int END AS daily_cap,
               random() AS r_schedule, random() AS r_limits, floor(random() * 4)::int AS zone
        FROM seed_provider p WHERE p.k <= %(size)s
        """,
        {"codes": POSTAL_CODES, "per": CODES_PER_SUBSCRIPTION, "size": size},
    )
    conn.execute(
        """
        ALTER TABLE seed_sub ADD COLUMN schedule jsonb, ADD COLUMN hourly_cap int,
            ADD COLUMN weekly_cap int, ADD COLUMN daily_budget_cents bigint,
            ADD COLUMN monthly_budget_cents bigint
        """
    )
    if rules:
        conn.execute(
            """
            UPDATE seed_sub SET
                schedule = CASE WHEN r_schedule < 0.3 THEN jsonb_build_object(
                    'timezone', (%(zones)s::text[])[zone + 1], 'hours', %(hours)s::jsonb) END,
                hourly_cap = CASE WHEN r_limits < 0.1 THEN 2 + zone END,
                weekly_cap = CASE WHEN r_limits < 0.1 THEN 20 + zone END,
                daily_budget_cents = CASE WHEN r_limits < 0.1 THEN %(price)s * (5 + zone) END,
                monthly_budget_cents = CASE WHEN r_limits < 0.1 THEN %(price)s * (100 + zone) END
            """,
            {
                "zones": ZONES,
                "hours": json.dumps(OFFICE_HOURS),
                "price": PRICE_CENTS,
            },
        )
    conn.execute(
        """
        CREATE TEMP TABLE seed_lead AS
        SELECT gen_random_uuid() AS id, gen_random_uuid() AS run_id, g,
               now() - random() * interval '365 days' AS at
        FROM generate_series(1, %s) g
        """,
        (n_leads,),
    )
    conn.execute(
        """
        INSERT INTO leads (id, niche_id, name, email, phone, postal_code, status, created_at,
                           approved_at, distributed_at, distribution_attempts)
        SELECT id, %s, 'Past Lead ' || g, 'past' || g || '@bench.test', '+15555550100',
               lpad((g %% 40000)::text, 5, '0'), 'distributed', at, at, at, 1
        FROM seed_lead
        """,
        (niche_id,),
    )
    conn.execute(
        """
        INSERT INTO distribution_runs (id, lead_id, niche_id, triggered_by_role, status,
                                       start_level_order_position, traversal_order, assignments_created,
                                       started_at, finished_at, duration_ms)
        SELECT run_id, id, %s, 'system', 'success', 1, ARRAY[%s::uuid], 10, at, at, 5 FROM seed_lead
        """,
        (niche_id, level_id),
    )
    # Lead g gets subscriptions g + j·(size/10) (mod size), j = 0..9: ten distinct providers.
    conn.execute(
        """
        INSERT INTO lead_assignments (lead_id, provider_id, subscription_id, competition_level_id,
                                      distribution_run_id, price_charged_cents, assigned_at)
        SELECT l.id, s.provider_id, s.id, %(level)s, l.run_id, %(price)s, l.at
        FROM seed_lead l
        CROSS JOIN generate_series(0, 9) j
        JOIN seed_sub s ON s.k = 1 + ((l.g + j * (%(size)s / 10)) %% %(size)s)
        """,
        {"level": level_id, "price": PRICE_CENTS, "size": size},
    )
    # The LRU order the past sales left: the most recently served last.
    conn.execute(
        """
        INSERT INTO subscriptions (id, provider_id, competition_level_id, postal_codes, daily_cap,
                                   last_received_at, lru_order, schedule, hourly_cap, weekly_cap,
                                   daily_budget_cents, monthly_budget_cents)
        SELECT s.id, s.provider_id, %(level)s, s.postal_codes, s.daily_cap, last.at,
               row_number() OVER (ORDER BY last.at, s.id), s.schedule, s.hourly_cap,
               s.weekly_cap, s.daily_budget_cents, s.monthly_budget_cents
        FROM seed_sub s
        LEFT JOIN LATERAL (
            SELECT max(a.assigned_at) AS at FROM lead_assignments a WHERE a.subscription_id = s.id
        ) last ON true
        """,
        {"level": level_id},
    )
    # Past sales left a tally for every subscription with a cap or budget (of windows long
    # gone: the past assignments are spread over a year), which the engine reads by key.
    conn.execute(
        """
        INSERT INTO subscription_tallies (subscription_id, hour_count, day_count, day_spend,
                                          week_count, month_count, month_spend)
        SELECT id, 1, 1, %(price)s, 1, 1, %(price)s FROM seed_sub
        WHERE num_nonnulls(daily_cap, hourly_cap, weekly_cap, daily_budget_cents,
                           monthly_budget_cents) > 0
        """,
        {"price": PRICE_CENTS},
    )
    conn.execute("UPDATE niches SET lru_counter = %s WHERE id = %s", (size, niche_id))


def _measure(
    url: str, sizes: list[int], lead_ids: dict[int, list[Any]]
) -> tuple[dict[int, list[float]], dict[int, list[float]], dict[int, int]]:
    from leadflow.domain.model import Actor
    from leadflow.services.distribution import distribute_lead

    latencies: dict[int, list[float]] = {size: [] for size in sizes}
    sold: dict[int, list[float]] = {size: [] for size in sizes}
    sales = dict.fromkeys(sizes, 0)
    pool = common.open_pool(url, size=1)
    try:
        for index in range(len(lead_ids[sizes[0]])):
            for size in sizes:
                began = time.perf_counter()
                result = distribute_lead(
                    pool, lead_id=lead_ids[size][index], triggered_by=Actor.system()
                )
                elapsed = (time.perf_counter() - began) * 1000
                if index < 5:
                    continue  # warm-up: plans cached, connection settled
                latencies[size].append(elapsed)
                if result.assignments:
                    sales[size] += 1
                    sold[size].append(elapsed)
    finally:
        pool.close()
    return latencies, sold, sales


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller niches (100 / 1,000 / 3,000)")
    args = parser.parse_args(argv)
    with common.server() as url:
        print(common.table([run(url, quick=args.quick)]))


if __name__ == "__main__":
    main()
