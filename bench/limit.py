"""The limit: PostgreSQL alone writing exactly the rows a distribution writes, replayed by
pgbench, one transaction per lead, against the same schema (migrated to head) and a market
seeded like the benchmark's.

A lead's transaction writes what SPEC requires its sales to write, and with the engine's own
statements (``db/sql/sale.sql``'s ``write_sale``, ``ledger.sql``'s ``post_entries``,
``events.sql``'s ``record_events``, ``db/audit.py``'s insert), so that it stays exactly the
engine's write as that changes: the run row; per sale its assignment, its ledger entry and the
provider's balance, the subscription's LRU move and its tally (sales and spend per calendar
window, SPEC §12), its ``lead.assigned`` outbox event (the mail
is made from it later) and its ``assignment.created`` audit row, and one webhook delivery per
active endpoint of the buyer (none unless the workload has endpoints); the lead's status and
attempt count, the niche's rotation pointer and LRU counter; and the run's
``distribution.started`` and ``distribution.completed`` audit rows (counted in the tables after
a P1 run: P1's lead, 9 sales, 9 x 6 + 5 = 59 rows inserted or updated; P2's, 1 sale, 11).

What the engine does besides, the limit does not: no lead or niche lock, no candidate read, no
plan, no guard (its provider locks and balance checks), no client work; each transaction is
one round trip (a pgbench pipeline: BEGIN, the next lead from a sequence, the four writes,
COMMIT). The statements' parameters (the sale's document, the postings, the events, the audit
rows) are made beforehand for each lead (``bench_limit_plan``, its sales in rotation over each
level's subscriptions) and read by primary key. The ratio engine ÷ limit says how close the
engine comes to what PostgreSQL alone can do with its writes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench import common, cpu, distributors
from leadflow.db import audit, queries

PLAN = """
DROP TABLE IF EXISTS bench_limit_plan;
DROP SEQUENCE IF EXISTS bench_limit_seq;
CREATE SEQUENCE bench_limit_seq;
CREATE TABLE bench_limit_plan (
    n bigint PRIMARY KEY,
    doc jsonb NOT NULL,
    postings jsonb NOT NULL,
    events jsonb NOT NULL,
    audit jsonb NOT NULL
);
"""

# Lead n (its place in the given order) is the j-th of its niche; at each level of the niche
# (max m, k subscriptions ranked by id) it buys the m subscriptions from rank j * m on, round
# the level: every subscription in turn, as the LRU rotation sells them. What each statement
# takes is made as ``db/sale.py``, ``db/ledger.py``, ``db/events.py`` and ``db/audit.py`` make it.
FILL = """
WITH l AS (
    SELECT x.ord AS n, x.id AS lead_id, leads.niche_id, leadflow_uuid7() AS run_id,
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
    SELECT niche_id, jsonb_agg(id ORDER BY order_position) AS traversal, count(*) AS levels
    FROM competition_levels GROUP BY niche_id
),
-- The UTC calendar windows of now, keyed as ``domain.limits.window_keys`` keys them (the
-- subscriptions have no schedule): every sale counts in its subscription's tally.
w AS (
    SELECT extract(epoch FROM date_trunc('hour', now()))::bigint AS hour_key,
           (u.day - date '0001-01-01') + 1 AS day_key,
           (date_trunc('week', u.day)::date - date '0001-01-01') + 1 AS week_key,
           extract(year FROM u.day)::int * 12 + extract(month FROM u.day)::int - 1 AS month_key
    FROM (SELECT (now() AT TIME ZONE 'UTC')::date AS day) u
),
p AS (
    SELECT l.n, leadflow_uuid7() AS assignment_id, s.*
    FROM l JOIN s ON s.niche_id = l.niche_id AND ((s.r - l.j * s.m) %% s.k + s.k) %% s.k < s.m
)
INSERT INTO bench_limit_plan (n, doc, postings, events, audit)
SELECT l.n,
       jsonb_build_object(
           'id', l.run_id, 'lead_id', l.lead_id, 'niche_id', l.niche_id, 'actor_id', NULL,
           'actor_role', 'system', 'job_id', NULL, 'status', 'success', 'start', 1,
           'traversal', t.traversal, 'sold', count(*), 'skipped', '[]'::jsonb,
           'skipped_total', 0, 'duration_ms', 1, 'trigger', 'distribution',
           'next_pointer', l.j %% t.levels + 1, 'lru_counter', (l.j + 1) * count(*),
           'now', now(), 'level_rules', '[]'::jsonb, 'credits', '[]'::jsonb,
           'rotations', '[]'::jsonb,
           'sales', jsonb_agg(jsonb_build_object(
               'assignment_id', p.assignment_id, 'provider_id', p.provider_id,
               'subscription_id', p.subscription_id, 'level_id', p.level_id,
               'price', p.price, 'lru_order', (l.j + 1) * 100 + p.order_position * 10 + p.r %% 10,
               'hour_key', w.hour_key, 'day_key', w.day_key, 'week_key', w.week_key,
               'month_key', w.month_key
           ) ORDER BY p.order_position, p.r)),
       jsonb_agg(jsonb_build_object(
           'provider_id', p.provider_id, 'amount_cents', -p.price, 'kind', 'lead_charge',
           'assignment_id', p.assignment_id) ORDER BY p.order_position, p.r),
       jsonb_agg(jsonb_build_object(
           'topic', 'lead.assigned',
           'payload', jsonb_build_object('lead_id', l.lead_id, 'assignment_id', p.assignment_id)
       ) ORDER BY p.order_position, p.r),
       jsonb_build_array(jsonb_build_object(
           'actor_id', NULL, 'actor_role', 'system', 'action', 'distribution.started',
           'entity_type', 'lead', 'entity_id', l.lead_id,
           'metadata', jsonb_build_object('job_id', NULL, 'run_id', l.run_id,
                                          'traversal_order', t.traversal,
                                          'start_level_order_position', 1)))
       || jsonb_agg(jsonb_build_object(
           'actor_id', NULL, 'actor_role', 'system', 'action', 'assignment.created',
           'entity_type', 'lead', 'entity_id', l.lead_id,
           'metadata', jsonb_build_object('job_id', NULL, 'run_id', l.run_id,
                                          'provider_id', p.provider_id,
                                          'assignment_id', p.assignment_id,
                                          'subscription_id', p.subscription_id,
                                          'price_charged_cents', p.price,
                                          'competition_level_id', p.level_id)
       ) ORDER BY p.order_position, p.r)
       || jsonb_build_array(jsonb_build_object(
           'actor_id', NULL, 'actor_role', 'system', 'action', 'distribution.completed',
           'entity_type', 'lead', 'entity_id', l.lead_id,
           'metadata', jsonb_build_object('job_id', NULL, 'run_id', l.run_id,
                                          'status', 'success', 'skipped_total', 0,
                                          'assignments_created', count(*))))
FROM l
JOIN t ON t.niche_id = l.niche_id
JOIN p ON p.n = l.n
CROSS JOIN w
GROUP BY l.n, l.lead_id, l.niche_id, l.run_id, l.j, t.traversal, t.levels
"""


def _statement(text: str, parameter: str, column: str) -> str:
    """One of the engine's statements with its JSON parameter read from this lead's plan."""
    # ``column`` is one of the plan's own columns, never input.
    read = f"(SELECT {column} FROM bench_limit_plan WHERE n = (SELECT currval('bench_limit_seq')))"  # noqa: S608
    done = " ".join(text.replace(f"%({parameter})s", read).replace("%%", "%").split())
    assert "%(" not in done, done
    return done + ";"


def script_text() -> str:
    """The pgbench script: one lead's transaction in one round trip."""
    sale = queries.load("sale.sql")
    return "\n".join(
        [
            "\\startpipeline",
            "BEGIN;",
            "SELECT nextval('bench_limit_seq');",
            _statement(sale["write_sale"], "r", "doc"),
            _statement(queries.load("ledger.sql")["post_entries"], "postings", "postings"),
            _statement(queries.load("events.sql")["record_events"], "events", "events"),
            _statement(audit._INSERT_FROM_PAYLOAD, "audit", "audit"),
            "COMMIT;",
            "\\endpipeline",
            "",
        ]
    )


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
            "SELECT min(jsonb_array_length(postings)), max(jsonb_array_length(postings)), "
            "count(*) FROM bench_limit_plan"
        ).fetchone()
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE bench_limit_plan")
    assert row is not None and row[0] == row[1] and row[2] == len(lead_ids), row
    return int(row[0])


@contextlib.contextmanager
def script() -> Iterator[str]:
    path = common.pgbench_script(script_text())
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
    try:
        result = common.pgbench(
            url,
            [
                *("-n", "-M", "prepared", "-c", "2", "-j", "2"),
                *("-T", str(max(1, round(seconds))), "-f", script_path),
            ],
        )
    except RuntimeError as exc:
        raise RuntimeError(f"{exc} ({_remaining(url)} planned leads were left)") from exc
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
        command=result.command.replace(Path(script_path).name, "limit.sql"),
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


def measure(
    url: str,
    lead_ids: Sequence[Any],
    *,
    limit_url: str,
    limit_leads: Sequence[Any],
    seconds: float,
    rounds: int,
    reference: Callable[[float], common.PgbenchResult],
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Two distributors on ``url``'s leads, alternating in ``rounds`` with ``reference`` (a
    pgbench run of so many seconds) and the limit on ``limit_url``'s leads (planned here):
    the engine's summary, the reference's and the limit's."""
    sales_per_lead = prepare(limit_url, limit_leads)
    with script() as path:

        def both(t: float) -> tuple[common.PgbenchResult, LimitResult]:
            return reference(t), run(limit_url, path, t, sales_per_lead)

        measured, refs = distributors.alternate(
            url, lead_ids, seconds=seconds, rounds=rounds, reference=both
        )
    return (
        measured,
        distributors.pgbench_summary([r for r, _ in refs]),
        summary([lim for _, lim in refs], sales_per_lead),
    )


def cpu_note(measured: dict[str, Any], the_limit: dict[str, Any]) -> str:
    """``CPU per lead client 2.10 ms + server 4.20 ms against the limit's server 3.70 ms``."""
    return (
        f"CPU per lead client {common.fmt(measured['client_cpu_ms_per_lead'], 2)} ms + server "
        f"{common.fmt(measured['server_cpu_ms_per_lead'], 2)} ms against the limit's server "
        f"{common.fmt(the_limit['server_cpu_ms_per_lead'], 2)} ms"
    )


def _remaining(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM bench_limit_plan) - last_value FROM bench_limit_seq"
        ).fetchone()
    return int(row[0]) if row else 0


def _written(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM distribution_runs").fetchone()
    return int(row[0]) if row else 0
