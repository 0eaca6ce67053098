"""SPEC §2 and §14 invariants, checked on a database after every test that wrote to it."""

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
    "a returned assignment has one charge and one refund of the same amount (inv. 5)": """
        SELECT a.id FROM lead_assignments a
        LEFT JOIN ledger_entries c ON c.assignment_id = a.id AND c.kind = 'lead_charge'
        LEFT JOIN ledger_entries r ON r.assignment_id = a.id AND r.kind = 'refund'
        WHERE a.status = 'returned'
        GROUP BY a.id, a.price_charged_cents
        HAVING count(DISTINCT c.id) <> 1 OR count(DISTINCT r.id) <> 1
            OR min(c.amount_cents) <> -a.price_charged_cents
            OR min(r.amount_cents) <> a.price_charged_cents
    """,
    "an active assignment has no refund (inv. 5)": """
        SELECT a.id FROM lead_assignments a
        JOIN ledger_entries r ON r.assignment_id = a.id AND r.kind = 'refund'
        WHERE a.status = 'active'
    """,
    "refunds never exceed charges per assignment (inv. 5)": """
        SELECT assignment_id FROM ledger_entries
        WHERE assignment_id IS NOT NULL AND kind IN ('lead_charge', 'refund')
        GROUP BY assignment_id HAVING sum(amount_cents) > 0
    """,
    "an approved return is its assignment's refund; returned means approved": """
        SELECT a.id FROM lead_assignments a
        LEFT JOIN lead_returns rt ON rt.assignment_id = a.id AND rt.status = 'approved'
        LEFT JOIN ledger_entries e ON e.id = rt.refund_ledger_entry_id
        WHERE (a.status = 'returned') <> (rt.id IS NOT NULL)
           OR (rt.id IS NOT NULL AND (e.kind <> 'refund' OR e.assignment_id <> a.id))
    """,
    # Invariant 3 as Part II reads it (SPEC §9): the sale, and ONE more after a return.
    "a lead has at most one run with sales per sale round (sale, after a return)": """
        SELECT lead_id FROM distribution_runs WHERE assignments_created > 0
        GROUP BY lead_id, sale_round HAVING count(*) > 1
    """,
    "a second sale round is only for a lead put back for resale, after its first sale": """
        SELECT r.lead_id FROM distribution_runs r JOIN leads l ON l.id = r.lead_id
        WHERE r.sale_round = 2
          AND (l.resold_at IS NULL OR r.trigger <> 'resale' OR NOT EXISTS (
                   SELECT 1 FROM distribution_runs s WHERE s.lead_id = r.lead_id
                   AND s.sale_round = 1 AND s.assignments_created > 0))
           OR (r.sale_round = 1 AND l.resold_at IS NOT NULL AND r.started_at > l.resold_at)
    """,
    "assignments of a lead all come from its one selling run": """
        SELECT a.lead_id FROM lead_assignments a
        JOIN distribution_runs r ON r.id = a.distribution_run_id
        WHERE r.lead_id <> a.lead_id OR r.assignments_created = 0
    """,
    # Invariant 7 (intake's part, SPEC §14): held back or expired, a lead is never sold.
    "a duplicate or expired lead has no assignment (inv. 7)": """
        SELECT l.id FROM leads l JOIN lead_assignments a ON a.lead_id = l.id
        WHERE l.status IN ('duplicate', 'expired')
    """,
    "only an approved lead waits unsold, and an expired one expired while it waited": """
        SELECT id FROM leads
        WHERE (unsold_at IS NOT NULL AND status NOT IN ('approved', 'expired'))
           OR ((status = 'expired') <> (expired_at IS NOT NULL))
           OR (status = 'expired' AND unsold_at IS NULL)
    """,
    "a duplicate names a lead of its own niche": """
        SELECT l.id FROM leads l JOIN leads o ON o.id = l.duplicate_of
        WHERE o.niche_id <> l.niche_id
    """,
    "a run's assignment count matches its assignments": """
        SELECT r.id FROM distribution_runs r
        LEFT JOIN lead_assignments a ON a.distribution_run_id = r.id
        GROUP BY r.id, r.assignments_created HAVING count(a.id) <> r.assignments_created
    """,
    # A lead put back for resale keeps the sales of its first run (returned or not) while it
    # waits; it is distributed again once its resale run sells.
    "distributed leads have sales (of their current round) and a timestamp; others have none": """
        SELECT l.id FROM leads l
        WHERE (l.status = 'distributed') <> EXISTS (
                  SELECT 1 FROM lead_assignments a
                  JOIN distribution_runs r ON r.id = a.distribution_run_id
                  WHERE a.lead_id = l.id
                    AND r.sale_round = CASE WHEN l.resold_at IS NULL THEN 1 ELSE 2 END)
           OR (l.status <> 'distributed' AND l.resold_at IS NULL
               AND EXISTS (SELECT 1 FROM lead_assignments a WHERE a.lead_id = l.id))
           OR (l.status = 'distributed') <> (l.distributed_at IS NOT NULL)
    """,
    "a delivery goes to its assignment's buyer, at most once per endpoint (inv. 6)": """
        SELECT d.id FROM webhook_deliveries d
        JOIN lead_assignments a ON a.id = d.assignment_id
        JOIN webhook_endpoints e ON e.id = d.endpoint_id
        WHERE d.provider_id <> a.provider_id OR e.provider_id <> a.provider_id
           OR d.lead_id <> a.lead_id
    """,
    "a sale's deliveries were written with it: one per matching endpoint then (inv. 6)": """
        SELECT d.id FROM webhook_deliveries d
        JOIN lead_assignments a ON a.id = d.assignment_id
        JOIN webhook_endpoints e ON e.id = d.endpoint_id
        JOIN leads l ON l.id = a.lead_id
        WHERE d.event = 'lead.assigned'
          AND (d.created_at <> a.assigned_at OR e.created_at > a.assigned_at
               OR (e.niche_id IS NOT NULL AND e.niche_id <> l.niche_id))
    """,
    "a delivery is delivered only after a 2xx (or the buyer's 409) (inv. 6)": """
        SELECT d.id FROM webhook_deliveries d
        WHERE d.status IN ('delivered', 'rejected_by_buyer')
          AND NOT EXISTS (SELECT 1 FROM webhook_attempts t
                          WHERE t.delivery_id = d.id AND t.outcome = d.status
                            AND (t.status_code BETWEEN 200 AND 299 OR t.status_code = 409))
    """,
    # SPEC §11 / invariant 7: within a provider's dedupe_days (0 = off), never two active
    # assignments of one consumer (the same non-null phone_e164 or email_normalized). Read
    # with the dedupe_days of now: a test that changes it after the sales asks for trouble.
    "no provider has one consumer twice within its dedupe_days (inv. 7)": """
        SELECT a1.id FROM lead_assignments a1
        JOIN leads l1 ON l1.id = a1.lead_id
        JOIN providers p ON p.id = a1.provider_id
        JOIN lead_assignments a2 ON a2.provider_id = a1.provider_id AND a2.id <> a1.id
             AND a2.status = 'active' AND a2.assigned_at <= a1.assigned_at
        JOIN leads l2 ON l2.id = a2.lead_id AND l2.id <> l1.id
        WHERE a1.status = 'active' AND p.dedupe_days > 0
          AND (l1.phone_e164 = l2.phone_e164 OR l1.email_normalized = l2.email_normalized)
          AND a1.assigned_at - a2.assigned_at < make_interval(days => p.dedupe_days)
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
    assert not broken, f"SPEC §2/§14 invariants broken: {broken}"
