-- Returns (``db/returns.py``): a provider's request to return an assignment, and its decision.

-- returnable --
-- The assignment as a return request sees it: its niche's return settings and the database's
-- clock; no row unless the assignment is the provider's own.
SELECT a.id AS assignment_id, a.lead_id, a.provider_id, a.status, a.price_charged_cents,
       a.assigned_at, n.id AS niche_id, n.return_window_hours, n.return_reasons,
       n.auto_approve_returns_under_rate, n.resell_returned, now() AS now
FROM lead_assignments a
JOIN competition_levels l ON l.id = a.competition_level_id
JOIN niches n ON n.id = l.niche_id
WHERE a.id = %(assignment_id)s AND a.provider_id = %(provider_id)s

-- lock_assignment --
-- The assignment, locked after its provider (the lock order of a sale: provider, then assignment).
SELECT id, status, price_charged_cents FROM lead_assignments WHERE id = %s FOR NO KEY UPDATE

-- find_by_assignment --
SELECT id FROM lead_returns WHERE assignment_id = %s

-- insert_return --
INSERT INTO lead_returns (assignment_id, provider_id, niche_id, reason, note)
VALUES (%(assignment_id)s, %(provider_id)s, %(niche_id)s, %(reason)s, %(note)s)
RETURNING *

-- approved_rate_counts --
-- A provider's approved returns in a niche and its assignments there over the period: the
-- returns from the partial index of approved returns, the assignments from the provider's
-- (provider_id, assigned_at) index, each a range of recent rows, never the whole history.
SELECT
    (SELECT count(*) FROM lead_returns r
     WHERE r.provider_id = %(provider_id)s AND r.niche_id = %(niche_id)s
       AND r.status = 'approved' AND r.decided_at >= now() - %(period)s) AS approved,
    (SELECT count(*) FROM lead_assignments a
     JOIN competition_levels l ON l.id = a.competition_level_id
     WHERE a.provider_id = %(provider_id)s AND a.assigned_at >= now() - %(period)s
       AND l.niche_id = %(niche_id)s) AS assignments

-- get_return --
SELECT * FROM lead_returns WHERE id = %s

-- lock_return --
SELECT * FROM lead_returns WHERE id = %s FOR UPDATE

-- mark_returned --
UPDATE lead_assignments SET status = 'returned' WHERE id = %s AND status = 'active'
RETURNING id

-- decide --
-- Record a decision on a request that is still open (the caller holds its row lock).
UPDATE lead_returns
SET status = %(status)s, decided_by = %(actor_id)s, decided_by_role = %(actor_role)s,
    decision_reason = %(reason)s, refund_ledger_entry_id = %(refund)s, decided_at = now()
WHERE id = %(id)s AND status = 'requested'
RETURNING *

-- list_views --
-- Returns with what an admin or the provider needs to judge them, newest first; every filter
-- optional. ``total`` is the count of the whole filtered list (a window over the same rows).
SELECT r.id, r.assignment_id, a.lead_id, r.provider_id, p.name AS provider_name, r.niche_id,
       n.name AS niche_name, r.reason, r.note, r.status, r.decided_by, r.decided_by_role,
       r.decision_reason, r.refund_ledger_entry_id, e.amount_cents AS refund_cents,
       a.price_charged_cents, a.assigned_at, r.created_at, r.decided_at,
       count(*) OVER () AS total
FROM lead_returns r
JOIN lead_assignments a ON a.id = r.assignment_id
JOIN providers p ON p.id = r.provider_id
JOIN niches n ON n.id = r.niche_id
LEFT JOIN ledger_entries e ON e.id = r.refund_ledger_entry_id
WHERE (%(id)s::uuid IS NULL OR r.id = %(id)s)
  AND (%(assignment_id)s::uuid IS NULL OR r.assignment_id = %(assignment_id)s)
  AND (%(status)s::text IS NULL OR r.status = %(status)s)
  AND (%(provider_id)s::uuid IS NULL OR r.provider_id = %(provider_id)s)
  AND (%(niche_id)s::uuid IS NULL OR r.niche_id = %(niche_id)s)
ORDER BY r.created_at DESC, r.id
LIMIT %(limit)s OFFSET %(offset)s

-- views_from --
-- The rows of the returns lists read by keyset (``db/returns.py`` adds the cursor's condition,
-- the order and the limit): along ``(status, created_at)`` or ``(provider_id, created_at)``.
SELECT r.id, r.assignment_id, a.lead_id, r.provider_id, p.name AS provider_name, r.niche_id,
       n.name AS niche_name, r.reason, r.note, r.status, r.decided_by, r.decided_by_role,
       r.decision_reason, r.refund_ledger_entry_id, e.amount_cents AS refund_cents,
       a.price_charged_cents, a.assigned_at, r.created_at, r.decided_at
FROM lead_returns r
JOIN lead_assignments a ON a.id = r.assignment_id
JOIN providers p ON p.id = r.provider_id
JOIN niches n ON n.id = r.niche_id
LEFT JOIN ledger_entries e ON e.id = r.refund_ledger_entry_id
WHERE (%(status)s::text IS NULL OR r.status = %(status)s)
  AND (%(provider_id)s::uuid IS NULL OR r.provider_id = %(provider_id)s)

-- count_views --
SELECT count(*) AS n FROM lead_returns r
WHERE (%(status)s::text IS NULL OR r.status = %(status)s)
  AND (%(provider_id)s::uuid IS NULL OR r.provider_id = %(provider_id)s)

-- decision_facts --
-- What a ``return.decided`` mail says, read when it is made.
SELECT r.id AS return_id, r.status, r.reason, r.decision_reason, r.provider_id,
       p.name AS provider_name, p.email AS provider_email, n.name AS niche_name, a.lead_id,
       a.price_charged_cents
FROM lead_returns r
JOIN providers p ON p.id = r.provider_id
JOIN niches n ON n.id = r.niche_id
JOIN lead_assignments a ON a.id = r.assignment_id
WHERE r.id = ANY(%(ids)s)

-- totals --
-- Returns by the status they reached, and the money refunded: database totals for /metrics.
SELECT (SELECT count(*) FROM lead_returns) AS requested,
       (SELECT count(*) FROM lead_returns WHERE status = 'approved') AS approved,
       (SELECT count(*) FROM lead_returns WHERE status = 'denied') AS denied,
       (SELECT COALESCE(sum(amount_cents), 0) FROM ledger_entries WHERE kind = 'refund')
           AS refunded_cents

-- put_back_for_resale --
-- A returned lead of a niche that resells goes back to ``approved`` for ONE more distribution:
-- only a distributed lead never put back before (``resold_at`` is set once).
UPDATE leads SET status = 'approved', resold_at = now(), distributed_at = NULL
WHERE id = %s AND status = 'distributed' AND resold_at IS NULL
RETURNING niche_id
