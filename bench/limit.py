"""The limit: PostgreSQL alone writing exactly the rows a distribution writes, replayed by
pgbench, one transaction per lead, against the same schema (migrated to head) and a market
seeded like the benchmark's.

A lead's transaction writes what SPEC requires its sales to write, as the engine's sale does
(``db/sql/sale.sql``, ``ledger.sql``, ``events.sql``; counted in the tables after a P1 run):
the run row; per sale its assignment, its ledger entry and the provider's balance (through
``leadflow_post_entries``, the one way a balance moves), the subscription's LRU move, its
``lead.assigned`` outbox event (the mail is made from it later) and its ``assignment.created``
audit row, and one webhook delivery per active endpoint of the buyer (none unless the workload
has endpoints); the lead's status and attempt count, the niche's rotation pointer and LRU
counter; and the run's ``distribution.started`` and ``distribution.completed`` audit rows. P1's
lead (9 sales): 9 x 6 + 5 = 59 rows inserted or updated; P2's (1 sale): 11.

What the engine does besides, the limit does not: no lead or niche lock read, no candidate
read, no plan, no guard, no client work; each transaction is one round trip (a pgbench
pipeline: BEGIN, the sale, the ledger posting, the events and audit rows, COMMIT). Which
subscriptions each lead buys is planned beforehand (``bench_limit_plan``, in rotation over each
level's subscriptions), and each transaction takes the next lead from a sequence. The ratio
engine ÷ limit says how close the engine comes to what PostgreSQL alone can do here.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from bench import common, cpu

PLAN = """
DROP TABLE IF EXISTS bench_limit_plan;
DROP SEQUENCE IF EXISTS bench_limit_seq;
CREATE SEQUENCE bench_limit_seq;
CREATE TABLE bench_limit_plan (
    n bigint PRIMARY KEY,
    lead_id uuid NOT NULL,
    niche_id uuid NOT NULL,
    run_id uuid NOT NULL,
    traversal uuid[] NOT NULL,
    sales jsonb NOT NULL
);
"""

# Lead n (its place in the given order) is the j-th of its niche; at each level of the niche
# (max m, k subscriptions ranked by id) it buys the m subscriptions from rank j * m on, round
# the level: every subscription in turn, as the LRU rotation sells them.
FILL = """
WITH l AS (
    SELECT x.ord AS n, x.id AS lead_id, leads.niche_id,
           row_number() OVER (PARTITION BY leads.niche_id ORDER BY x.ord) - 1 AS j
    FROM unnest(%(ids)s::uuid[]) WITH ORDINALITY AS x(id, ord)
    JOIN leads ON leads.id = x.id
),
s AS (
    SELECT sub.id AS subscription_id, sub.provider_id, cl.id AS level_id, cl.niche_id,
           cl.order_position, cl.max_recipients AS m, cl.price_per_lead_cents AS price,
           row_number() OVER (PARTITION BY cl.id ORDER BY sub.id) - 1 AS r,
           count(*) OVER (PARTITION BY cl.id) AS k
    FROM subscriptions sub JOIN competition_levels cl ON cl.id = sub.competition_level_id
),
t AS (
    SELECT niche_id, array_agg(id ORDER BY order_position) AS traversal
    FROM competition_levels GROUP BY niche_id
)
INSERT INTO bench_limit_plan (n, lead_id, niche_id, run_id, traversal, sales)
SELECT l.n, l.lead_id, l.niche_id, leadflow_uuid7(), t.traversal,
       jsonb_agg(jsonb_build_object(
           'assignment_id', leadflow_uuid7(), 'provider_id', s.provider_id,
           'subscription_id', s.subscription_id, 'level_id', s.level_id, 'price', s.price,
           'lru_order', l.n * 100 + s.order_position * 10 + s.r %% 10
       ) ORDER BY s.order_position, s.r)
FROM l
JOIN t ON t.niche_id = l.niche_id
JOIN s ON s.niche_id = l.niche_id AND ((s.r - l.j * s.m) %% s.k + s.k) %% s.k < s.m
GROUP BY l.n, l.lead_id, l.niche_id, t.traversal
"""

# One transaction per lead, in one round trip. The statements follow the engine's sale
# (``write_sale``, ``post_entries``, ``record_events``, the audit rows); each finds its lead's
# plan by primary key (the sequence's value, through an InitPlan so the index is used).
SCRIPT = r"""
\startpipeline
BEGIN;
WITH d AS MATERIALIZED (
    SELECT * FROM bench_limit_plan WHERE n = (SELECT nextval('bench_limit_seq'))
),
sale AS (
    SELECT s.* FROM d, jsonb_to_recordset(d.sales)
    AS s(assignment_id uuid, provider_id uuid, subscription_id uuid, level_id uuid,
         price bigint, lru_order bigint)
),
run AS (
    INSERT INTO distribution_runs (id, lead_id, niche_id, triggered_by_actor_id,
                                   triggered_by_role, job_id, status,
                                   start_level_order_position, traversal_order,
                                   assignments_created, skipped, skipped_total, finished_at,
                                   duration_ms, trigger)
    SELECT run_id, lead_id, niche_id, NULL, 'system', NULL, 'success', 1, traversal,
           jsonb_array_length(sales), '[]'::jsonb, 0, clock_timestamp(), 1, 'distribution'
    FROM d
    RETURNING id
),
assigned AS (
    INSERT INTO lead_assignments (id, lead_id, provider_id, subscription_id,
                                  competition_level_id, distribution_run_id, price_charged_cents)
    SELECT sale.assignment_id, d.lead_id, sale.provider_id, sale.subscription_id, sale.level_id,
           run.id, sale.price
    FROM sale, run, d
),
hooks AS (
    INSERT INTO webhook_deliveries (endpoint_id, provider_id, lead_id, assignment_id, event)
    SELECT e.id, sale.provider_id, d.lead_id, sale.assignment_id, 'lead.assigned'
    FROM sale CROSS JOIN d
    JOIN webhook_endpoints e ON e.provider_id = sale.provider_id
    WHERE e.is_active AND (e.niche_id IS NULL OR e.niche_id = d.niche_id)
      AND e.provider_id = ANY(ARRAY(SELECT provider_id FROM sale))
),
served AS (
    UPDATE subscriptions s SET last_received_at = now(), lru_order = sale.lru_order,
                               updated_at = now()
    FROM sale
    WHERE s.id = sale.subscription_id
      AND s.id = ANY(ARRAY(SELECT subscription_id FROM sale))
),
lead AS (
    UPDATE leads SET distribution_attempts = distribution_attempts + 1,
                     status = 'distributed', distributed_at = now()
    FROM d WHERE leads.id = d.lead_id
)
UPDATE niches SET next_start_level_order_position = d.n % cardinality(d.traversal) + 1,
                  lru_counter = niches.lru_counter + jsonb_array_length(d.sales)
FROM d WHERE niches.id = d.niche_id;
SELECT count(*) FROM leadflow_post_entries((
    SELECT jsonb_agg(jsonb_build_object(
        'provider_id', s->>'provider_id', 'amount_cents', -(s->>'price')::bigint,
        'kind', 'lead_charge', 'assignment_id', s->>'assignment_id'))
    FROM bench_limit_plan p, jsonb_array_elements(p.sales) s
    WHERE p.n = (SELECT currval('bench_limit_seq'))
));
WITH d AS MATERIALIZED (
    SELECT * FROM bench_limit_plan WHERE n = (SELECT currval('bench_limit_seq'))
),
sale AS (
    SELECT s.* FROM d, jsonb_to_recordset(d.sales)
    AS s(assignment_id uuid, provider_id uuid, subscription_id uuid, level_id uuid,
         price bigint)
),
events AS (
    INSERT INTO outbox_events (topic, payload)
    SELECT 'lead.assigned', jsonb_build_object('lead_id', d.lead_id,
                                               'assignment_id', sale.assignment_id)
    FROM d, sale
)
INSERT INTO audit_log (actor_id, actor_role, action, entity_type, entity_id, metadata)
SELECT NULL, 'system', 'distribution.started', 'lead', d.lead_id::text,
       jsonb_build_object('job_id', NULL, 'run_id', d.run_id, 'traversal_order', d.traversal,
                          'start_level_order_position', 1)
FROM d
UNION ALL
SELECT NULL, 'system', 'assignment.created', 'lead', d.lead_id::text,
       jsonb_build_object('job_id', NULL, 'run_id', d.run_id, 'provider_id', sale.provider_id,
                          'assignment_id', sale.assignment_id,
                          'subscription_id', sale.subscription_id,
                          'price_charged_cents', sale.price,
                          'competition_level_id', sale.level_id)
FROM d, sale
UNION ALL
SELECT NULL, 'system', 'distribution.completed', 'lead', d.lead_id::text,
       jsonb_build_object('job_id', NULL, 'run_id', d.run_id, 'status', 'success',
                          'skipped_total', 0,
                          'assignments_created', jsonb_array_length(d.sales))
FROM d;
COMMIT;
\endpipeline
"""


@dataclass(frozen=True)
class LimitResult:
    """One pgbench run of the limit: its throughput and the server's CPU meanwhile."""

    tps: float
    sales_per_s: float
    transactions: int
    server_cpu_s: float | None
    command: str


def prepare(url: str, lead_ids: Sequence[Any]) -> int:
    """Plan the limit's sales for ``lead_ids`` (approved leads of ``url``'s market, in the
    order they are to be sold); returns the sales per lead (the same for every lead)."""
    with psycopg.connect(url) as conn:
        conn.execute(PLAN)
        conn.execute(FILL, {"ids": list(lead_ids)})
        row = conn.execute(
            "SELECT min(jsonb_array_length(sales)), max(jsonb_array_length(sales)), count(*) "
            "FROM bench_limit_plan"
        ).fetchone()
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE bench_limit_plan")
    assert row is not None and row[0] == row[1] and row[2] == len(lead_ids), row
    return int(row[0])


@contextlib.contextmanager
def script() -> Iterator[str]:
    path = common.pgbench_script(SCRIPT)
    try:
        yield path
    finally:
        os.unlink(path)


def run(url: str, script_path: str, seconds: float, sales_per_lead: int) -> LimitResult:
    """``pgbench -c 2 -j 2`` (as two distributors) for ``seconds`` on the planned leads; fails
    if the plan ran out of leads (a transaction without a lead would write nothing)."""
    before = _written(url)
    postmaster = cpu.server_pid(url)
    cpu_before = cpu.tree_seconds(postmaster)
    result = common.pgbench(
        url,
        [
            "-n",
            "-M",
            "prepared",
            "-c",
            "2",
            "-j",
            "2",
            "-T",
            str(max(1, round(seconds))),
            "-f",
            script_path,
        ],
    )
    cpu_after = cpu.tree_seconds(postmaster)
    written = _written(url) - before
    if written != result.transactions:
        raise RuntimeError(
            f"the limit wrote {written} runs in {result.transactions} transactions: "
            "its plan ran out of leads (plan more)"
        )
    return LimitResult(
        tps=result.tps,
        sales_per_s=result.tps * sales_per_lead,
        transactions=result.transactions,
        server_cpu_s=(
            cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
        ),
        command=result.command.replace(script_path, "limit.sql"),
    )


def summary(refs: Sequence[LimitResult], sales_per_lead: int) -> dict[str, Any]:
    """The limit's rounds as one reference: mean TPS, sales/s, server CPU per lead."""
    transactions = sum(r.transactions for r in refs)
    server = [r.server_cpu_s for r in refs if r.server_cpu_s is not None]
    tps = sum(r.tps for r in refs) / len(refs)
    return {
        "command": refs[0].command,
        "rounds": len(refs),
        "sales_per_lead": sales_per_lead,
        "tps": tps,
        "sales_per_s": tps * sales_per_lead,
        "tps_by_round": [r.tps for r in refs],
        "transactions": transactions,
        "server_cpu_ms_per_lead": (
            sum(server) * 1000 / transactions if server and transactions else None
        ),
    }


def _written(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM distribution_runs").fetchone()
    return int(row[0]) if row else 0
