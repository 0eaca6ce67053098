-- The ledger (``db/ledger.py``): the one way a balance moves.

-- post_entries --
-- Post ledger entries, at most one per provider: the insert trigger of migration 0009 applies
-- each amount to its provider's balance and sets ``balance_after_cents`` (the balance CHECK
-- refuses an overdraft), so the balance and its ledger cannot be written one without the other.
INSERT INTO ledger_entries (provider_id, amount_cents, kind, assignment_id, idempotency_key,
                            note, actor_id)
SELECT p.provider_id, p.amount_cents, p.kind, p.assignment_id, p.idempotency_key, p.note,
       p.actor_id
FROM jsonb_to_recordset(%(postings)s::jsonb)
     AS p(provider_id uuid, amount_cents bigint, kind text, assignment_id uuid,
          idempotency_key text, note text, actor_id text)
RETURNING *

-- find_by_idempotency_key --
SELECT * FROM ledger_entries WHERE provider_id = %s AND idempotency_key = %s

-- mismatches --
-- Providers whose balance is not the sum of their ledger entries (always none, if all is well).
SELECT p.id FROM providers p
LEFT JOIN (SELECT provider_id, sum(amount_cents) AS total FROM ledger_entries
           GROUP BY provider_id) l ON l.provider_id = p.id
WHERE p.balance_cents <> COALESCE(l.total, 0) OR p.balance_cents < 0
