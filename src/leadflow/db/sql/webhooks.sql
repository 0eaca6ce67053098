-- Webhooks (``db/webhooks.py``): endpoints, the deliveries outbox, its claims and outcomes.
-- ``lead.assigned`` deliveries are written by the sale itself (sale.sql's write_sale).

-- insert_endpoint --
INSERT INTO webhook_endpoints (provider_id, niche_id, url, is_active, secret_ciphertext)
VALUES (%(provider_id)s, %(niche_id)s, %(url)s, %(is_active)s, %(secret)s)
RETURNING *

-- get_endpoint --
SELECT * FROM webhook_endpoints WHERE id = %(id)s AND deleted_at IS NULL

-- lock_endpoint --
SELECT * FROM webhook_endpoints WHERE id = %(id)s AND deleted_at IS NULL FOR NO KEY UPDATE

-- list_endpoints --
-- A provider's endpoints, oldest first; ``total`` counts them all.
SELECT *, count(*) OVER () AS total FROM webhook_endpoints
WHERE provider_id = %(provider_id)s AND deleted_at IS NULL
ORDER BY created_at, id
LIMIT %(limit)s OFFSET %(offset)s

-- update_endpoint --
-- A re-activated endpoint starts counting its failures again.
UPDATE webhook_endpoints
SET url = %(url)s, niche_id = %(niche_id)s, is_active = %(is_active)s,
    consecutive_failures = CASE WHEN %(is_active)s AND NOT is_active THEN 0
                                ELSE consecutive_failures END,
    disabled_at = CASE WHEN %(is_active)s THEN NULL ELSE disabled_at END,
    disabled_reason = CASE WHEN %(is_active)s THEN NULL ELSE disabled_reason END,
    updated_at = now()
WHERE id = %(id)s
RETURNING *

-- rotate_secret --
-- The new secret signs from now on; the one it replaces signs too until the grace ends.
UPDATE webhook_endpoints
SET previous_secret_ciphertext = CASE WHEN %(grace_hours)s > 0 THEN secret_ciphertext END,
    previous_secret_expires_at = CASE WHEN %(grace_hours)s > 0
                                      THEN now() + make_interval(hours => %(grace_hours)s) END,
    secret_ciphertext = %(secret)s, updated_at = now()
WHERE id = %(id)s
RETURNING *

-- delete_endpoint --
UPDATE webhook_endpoints SET is_active = false, deleted_at = now(), updated_at = now()
WHERE id = %(id)s AND deleted_at IS NULL

-- has_subscription_in_niche --
SELECT EXISTS (
    SELECT 1 FROM subscriptions s JOIN competition_levels l ON l.id = s.competition_level_id
    WHERE s.provider_id = %(provider_id)s AND l.niche_id = %(niche_id)s
      AND s.status <> 'cancelled'
) AS found

-- add_returned_deliveries --
-- ``lead.returned``: one delivery per active endpoint of each approved return's provider that
-- matches its niche. Idempotent: a dispatch that runs again adds nothing.
INSERT INTO webhook_deliveries (endpoint_id, provider_id, lead_id, assignment_id, event,
                                return_id)
SELECT e.id, r.provider_id, a.lead_id, r.assignment_id, 'lead.returned', r.id
FROM lead_returns r
JOIN lead_assignments a ON a.id = r.assignment_id
JOIN webhook_endpoints e ON e.provider_id = r.provider_id AND e.is_active
WHERE r.id = ANY(%(ids)s) AND r.status = 'approved'
  AND (e.niche_id IS NULL OR e.niche_id = r.niche_id)
ON CONFLICT (assignment_id, endpoint_id, event) DO NOTHING

-- claim_due --
-- Up to ``limit`` due deliveries of active endpoints, each endpoint at most its room (the
-- per-endpoint limit less what this process has in flight for it, ``busy``), counting the
-- attempt they start and leasing them: a claimed delivery is not claimed again until its
-- lease ends (its worker died) or its outcome is recorded. SKIP LOCKED: concurrent claims
-- take disjoint deliveries.
WITH busy AS (
    SELECT key::uuid AS endpoint_id, value::int AS n FROM jsonb_each_text(%(busy)s::jsonb)
),
picked AS (
    SELECT w.id FROM webhook_endpoints e
    LEFT JOIN busy b ON b.endpoint_id = e.id
    CROSS JOIN LATERAL (
        SELECT w.id FROM webhook_deliveries w
        WHERE w.endpoint_id = e.id AND w.status = 'pending' AND w.next_attempt_at <= now()
        ORDER BY w.next_attempt_at, w.id
        LIMIT GREATEST(0, %(per_endpoint)s - COALESCE(b.n, 0))
        FOR UPDATE OF w SKIP LOCKED
    ) w
    WHERE e.is_active
    LIMIT %(limit)s
)
UPDATE webhook_deliveries w
SET attempts = w.attempts + 1, round_attempts = w.round_attempts + 1,
    next_attempt_at = now() + make_interval(secs => %(lease)s), updated_at = now()
FROM picked, webhook_endpoints e
WHERE w.id = picked.id AND e.id = w.endpoint_id
RETURNING w.id, w.endpoint_id, w.provider_id, w.lead_id, w.assignment_id, w.return_id, w.event,
          w.body, w.round_attempts, e.url, e.secret_ciphertext,
          CASE WHEN e.previous_secret_expires_at > now() THEN e.previous_secret_ciphertext END
              AS previous_secret_ciphertext

-- assigned_facts --
-- What a ``lead.assigned`` body says, read at its first attempt.
SELECT a.id AS assignment_id, a.price_charged_cents, a.assigned_at,
       l.id AS lead_id, l.name, l.email, l.phone, l.postal_code, l.attributes,
       l.phone_e164, l.consent,
       n.id AS niche_id, n.name AS niche_name,
       c.id AS level_id, c.name AS level_name, c.order_position
FROM lead_assignments a
JOIN leads l ON l.id = a.lead_id
JOIN niches n ON n.id = l.niche_id
JOIN competition_levels c ON c.id = a.competition_level_id
WHERE a.id = ANY(%(ids)s)

-- returned_facts --
-- What a ``lead.returned`` body says.
SELECT r.id AS return_id, r.assignment_id, r.reason, r.decided_at, a.lead_id,
       n.id AS niche_id, n.name AS niche_name, e.amount_cents AS refund_cents
FROM lead_returns r
JOIN lead_assignments a ON a.id = r.assignment_id
JOIN niches n ON n.id = r.niche_id
LEFT JOIN ledger_entries e ON e.id = r.refund_ledger_entry_id
WHERE r.id = ANY(%(ids)s)

-- set_bodies --
-- The bodies fixed at the first attempt: every later attempt sends the same bytes.
UPDATE webhook_deliveries w SET body = b.body
FROM jsonb_to_recordset(%(bodies)s::jsonb) AS b(id uuid, body text)
WHERE w.id = b.id AND w.body IS NULL

-- lock_pending --
-- First in an attempt's recording: another worker whose lease ran out waits here, then finds
-- the delivery recorded.
SELECT id FROM webhook_deliveries WHERE id = %(id)s AND status = 'pending' FOR NO KEY UPDATE

-- record_attempt --
-- One attempt and its outcome, only while the delivery is still pending (a lease that ran out
-- may have let another worker record it first). Returns the endpoint's failure count.
WITH attempt AS (
    INSERT INTO webhook_attempts (delivery_id, outcome, status_code, latency_ms, error,
                                  response_excerpt)
    SELECT id, %(outcome)s, %(status_code)s, %(latency_ms)s, %(error)s, %(excerpt)s
    FROM webhook_deliveries WHERE id = %(id)s AND status = 'pending'
    RETURNING delivery_id
),
delivery AS (
    UPDATE webhook_deliveries w
    SET status = CASE %(outcome)s WHEN 'retry' THEN 'pending' ELSE %(outcome)s END,
        next_attempt_at = now() + make_interval(secs => COALESCE(%(retry_in)s::int, 0)),
        last_status_code = %(status_code)s, last_error = %(error)s,
        buyer_reason = %(buyer_reason)s, filed_return_id = %(filed_return_id)s,
        delivered_at = CASE WHEN %(outcome)s IN ('delivered', 'rejected_by_buyer')
                            THEN now() END,
        updated_at = now()
    FROM attempt WHERE w.id = attempt.delivery_id
    RETURNING w.endpoint_id
)
UPDATE webhook_endpoints e
SET consecutive_failures = CASE %(outcome)s WHEN 'failed' THEN e.consecutive_failures + 1
                                            WHEN 'retry' THEN e.consecutive_failures
                                            ELSE 0 END
FROM delivery WHERE e.id = delivery.endpoint_id
RETURNING e.id, e.provider_id, e.consecutive_failures, e.is_active

-- disable_endpoint --
UPDATE webhook_endpoints
SET is_active = false, disabled_at = now(), disabled_reason = %(reason)s, updated_at = now()
WHERE id = %(id)s AND is_active
RETURNING id

-- endpoint_facts --
-- What the ``endpoint_disabled`` mail says.
SELECT e.id AS endpoint_id, e.url, e.disabled_reason, p.id AS provider_id,
       p.name AS provider_name, p.email AS provider_email
FROM webhook_endpoints e JOIN providers p ON p.id = e.provider_id
WHERE e.id = ANY(%(ids)s)

-- list_deliveries --
-- Deliveries, newest first, every filter optional; ``total`` counts all that match.
SELECT w.id, w.endpoint_id, e.url AS endpoint_url, w.provider_id, p.name AS provider_name,
       w.lead_id, w.assignment_id, w.event, w.return_id, w.status, w.attempts,
       w.next_attempt_at, w.last_status_code, w.last_error, w.buyer_reason, w.filed_return_id,
       w.created_at, w.delivered_at, count(*) OVER () AS total
FROM webhook_deliveries w JOIN webhook_endpoints e ON e.id = w.endpoint_id
     JOIN providers p ON p.id = w.provider_id
WHERE (%(id)s::uuid IS NULL OR w.id = %(id)s)
  AND (%(status)s::text IS NULL OR w.status = %(status)s)
  AND (%(endpoint_id)s::uuid IS NULL OR w.endpoint_id = %(endpoint_id)s)
  AND (%(provider_id)s::uuid IS NULL OR w.provider_id = %(provider_id)s)
ORDER BY w.created_at DESC, w.id
LIMIT %(limit)s OFFSET %(offset)s

-- deliveries_from --
-- Deliveries by keyset, every filter optional: ``db/webhooks.py`` adds the position and the
-- order (``created_at DESC, id``, along ``ix_webhook_deliveries_created_at_id``).
SELECT w.id, w.endpoint_id, e.url AS endpoint_url, w.provider_id, p.name AS provider_name,
       w.lead_id, w.assignment_id, w.event, w.return_id, w.status, w.attempts,
       w.next_attempt_at, w.last_status_code, w.last_error, w.buyer_reason, w.filed_return_id,
       w.created_at, w.delivered_at
FROM webhook_deliveries w JOIN webhook_endpoints e ON e.id = w.endpoint_id
     JOIN providers p ON p.id = w.provider_id
WHERE (%(status)s::text IS NULL OR w.status = %(status)s)
  AND (%(endpoint_id)s::uuid IS NULL OR w.endpoint_id = %(endpoint_id)s)
  AND (%(provider_id)s::uuid IS NULL OR w.provider_id = %(provider_id)s)

-- count_deliveries --
SELECT count(*) AS n FROM webhook_deliveries w
WHERE (%(status)s::text IS NULL OR w.status = %(status)s)
  AND (%(endpoint_id)s::uuid IS NULL OR w.endpoint_id = %(endpoint_id)s)
  AND (%(provider_id)s::uuid IS NULL OR w.provider_id = %(provider_id)s)

-- list_attempts --
SELECT attempted_at, outcome, status_code, latency_ms, error, response_excerpt
FROM webhook_attempts WHERE delivery_id = %(id)s ORDER BY attempted_at, id

-- lock_delivery --
SELECT w.id, w.status, w.provider_id, e.is_active AS endpoint_active
FROM webhook_deliveries w JOIN webhook_endpoints e ON e.id = w.endpoint_id
WHERE w.id = %(id)s FOR NO KEY UPDATE OF w

-- redeliver --
-- Send again, the same body with the same delivery id: due now, a new round of the schedule.
UPDATE webhook_deliveries
SET status = 'pending', round_attempts = 0, next_attempt_at = now(), updated_at = now()
WHERE id = %(id)s

-- has_due --
SELECT EXISTS (
    SELECT 1 FROM webhook_deliveries w JOIN webhook_endpoints e ON e.id = w.endpoint_id
    WHERE w.status = 'pending' AND w.next_attempt_at <= now() AND e.is_active
) AS due

-- queue_depth --
-- Pending deliveries of active endpoints (the ``webhook_queue_depth`` gauge).
SELECT count(*) AS depth
FROM webhook_deliveries w JOIN webhook_endpoints e ON e.id = w.endpoint_id
WHERE w.status = 'pending' AND e.is_active
