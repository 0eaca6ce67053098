-- The event outbox (``db/events.py``) and the facts its consumers read.

-- record_events --
INSERT INTO outbox_events (topic, payload)
SELECT e.topic, e.payload FROM jsonb_to_recordset(%(events)s::jsonb) AS e(topic text, payload jsonb)

-- claim_due --
-- Due events, oldest first, locked for the dispatching transaction; events another dispatcher
-- holds are skipped, not waited for.
SELECT id, topic, payload, attempts + 1 AS attempts FROM outbox_events
WHERE status = 'pending' AND next_attempt_at <= now()
ORDER BY id LIMIT %(limit)s
FOR UPDATE SKIP LOCKED

-- mark_dispatched --
UPDATE outbox_events SET status = 'dispatched', dispatched_at = now(), attempts = attempts + 1,
                         last_error = NULL
WHERE id = ANY(%(ids)s)

-- mark_failed --
-- A failed dispatch: due again in ``retry_in`` seconds, or ``failed`` for good (NULL).
UPDATE outbox_events
SET attempts = attempts + 1, last_error = %(error)s,
    status = CASE WHEN %(retry_in)s::int IS NULL THEN 'failed' ELSE 'pending' END,
    next_attempt_at = now() + make_interval(secs => COALESCE(%(retry_in)s::int, 0))
WHERE id = %(id)s AND status = 'pending'

-- has_due --
SELECT EXISTS (SELECT 1 FROM outbox_events
               WHERE status = 'pending' AND next_attempt_at <= now()) AS due

-- assignment_facts --
-- What a ``lead.assigned`` mail says, read when it is made: the sale and the names as they are.
SELECT a.id AS assignment_id, a.lead_id, a.provider_id, p.name AS provider_name,
       p.email AS provider_email, l.name AS level_name, n.name AS niche_name,
       a.price_charged_cents
FROM lead_assignments a
JOIN providers p ON p.id = a.provider_id
JOIN competition_levels l ON l.id = a.competition_level_id
JOIN niches n ON n.id = l.niche_id
WHERE a.id = ANY(%(ids)s)

-- subscription_facts --
-- What a ``subscription.paused`` mail says besides the balance and price the event recorded.
SELECT s.id AS subscription_id, p.id AS provider_id, p.name AS provider_name,
       p.email AS provider_email, l.name AS level_name, n.name AS niche_name
FROM subscriptions s
JOIN providers p ON p.id = s.provider_id
JOIN competition_levels l ON l.id = s.competition_level_id
JOIN niches n ON n.id = l.niche_id
WHERE s.id = ANY(%(ids)s)

-- prune_dispatched --
-- Dispatched events past their use (what they made is in the mail outbox, the audit log and
-- the ledger); pending and failed ones are kept.
DELETE FROM outbox_events
WHERE status = 'dispatched' AND dispatched_at < now() - make_interval(secs => %(older_than)s)
