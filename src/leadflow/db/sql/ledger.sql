-- The ledger (``db/ledger.py``): the one way a balance moves.

-- post_entries --
-- Post ledger entries, at most one per provider, through ``leadflow_post_entries`` (migration
-- 0009): it moves each provider's balance and writes its entry with ``balance_after_cents`` in
-- one statement (the balance CHECK refuses an overdraft); nothing else may write either.
SELECT * FROM leadflow_post_entries(%(postings)s::jsonb)

-- find_by_idempotency_key --
SELECT * FROM ledger_entries WHERE provider_id = %s AND idempotency_key = %s

-- mismatches --
-- Providers whose balance is not the sum of their ledger entries (always none, if all is well).
SELECT p.id FROM providers p
LEFT JOIN (SELECT provider_id, sum(amount_cents) AS total FROM ledger_entries
           GROUP BY provider_id) l ON l.provider_id = p.id
WHERE p.balance_cents <> COALESCE(l.total, 0) OR p.balance_cents < 0
