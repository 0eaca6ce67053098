"""SPEC §2 invariants, checked on a database after every test that wrote to it."""

from __future__ import annotations

from typing import Any

import psycopg

CHECKS: dict[str, str] = {
    "balance equals the sum of its ledger entries": """
        SELECT p.id FROM providers p
        LEFT JOIN (SELECT provider_id, sum(amount_cents) AS total FROM ledger_entries GROUP BY provider_id) l
               ON l.provider_id = p.id
        WHERE p.balance_cents <> COALESCE(l.total, 0)
    """,
    "balance is never negative": "SELECT id FROM providers WHERE balance_cents < 0",
    "ledger balance_after follows the entries in order": """
        SELECT id FROM (
            SELECT id, balance_after_cents,
                   sum(amount_cents) OVER (PARTITION BY provider_id ORDER BY seq
                                           ROWS UNBOUNDED PRECEDING) AS running
            FROM ledger_entries) t
        WHERE balance_after_cents <> running
    """,
    "every active assignment has exactly one charge of -price": """
        SELECT a.id FROM lead_assignments a
        LEFT JOIN ledger_entries e ON e.assignment_id = a.id AND e.kind = 'lead_charge'
        WHERE a.status = 'active'
        GROUP BY a.id, a.price_charged_cents
        HAVING count(e.id) <> 1 OR min(e.amount_cents) <> -a.price_charged_cents
    """,
    "a lead has at most one run with sales": """
        SELECT lead_id FROM distribution_runs WHERE assignments_created > 0
        GROUP BY lead_id HAVING count(*) > 1
    """,
    "assignments of a lead all come from its one selling run": """
        SELECT a.lead_id FROM lead_assignments a
        JOIN distribution_runs r ON r.id = a.distribution_run_id
        WHERE r.lead_id <> a.lead_id OR r.assignments_created = 0
    """,
    "a run's assignment count matches its assignments": """
        SELECT r.id FROM distribution_runs r
        LEFT JOIN lead_assignments a ON a.distribution_run_id = r.id
        GROUP BY r.id, r.assignments_created HAVING count(a.id) <> r.assignments_created
    """,
    "distributed leads have sales and a timestamp; others have none": """
        SELECT l.id FROM leads l
        WHERE (l.status = 'distributed') <> EXISTS (SELECT 1 FROM lead_assignments a WHERE a.lead_id = l.id)
           OR (l.status = 'distributed') <> (l.distributed_at IS NOT NULL)
    """,
}


def violations(conn: psycopg.Connection[Any]) -> dict[str, list[Any]]:
    """Each broken invariant with up to five offending ids."""
    found: dict[str, list[Any]] = {}
    for name, query in CHECKS.items():
        rows = conn.execute(query).fetchall()  # type: ignore[arg-type]
        if rows:
            found[name] = [row[0] for row in rows[:5]]
    return found


def assert_invariants(conn: psycopg.Connection[Any]) -> None:
    broken = violations(conn)
    assert not broken, f"SPEC §2 invariants broken: {broken}"
