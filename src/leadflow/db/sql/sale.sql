-- Statements of a sale (``db/sale.py``). A sale sends them in this order, in one round trip
-- with its COMMIT: [guard_sale, guard_consumer], write_sale, ledger.sql's post_entries, pause_unaffordable,
-- then the run's events (events.sql) and audit rows. The pauses write their own events and
-- audit rows: what they are comes from the pause itself, known only to the server then.

-- guard_sale --
-- For a plan made before the provider locks: lock the providers whose balances the plan
-- relied on, in id order (MATERIALIZED: a CTE with row locks runs once, before anything reads
-- it), and abort the transaction (``leadflow_expect``, SQLSTATE LF001) unless each is active
-- with the balance the plan assumed and the niche's LRU counter and pointer are as read.
-- Statements queued behind it, up to the COMMIT, then fail with it.
WITH expect AS (
    SELECT * FROM jsonb_to_recordset(%(expect)s::jsonb) AS e(id uuid, balance bigint)
),
locked AS MATERIALIZED (
    SELECT id, balance_cents, status FROM providers
    WHERE id = ANY(ARRAY(SELECT id FROM expect)) ORDER BY id FOR NO KEY UPDATE
)
SELECT leadflow_expect(
    EXISTS (SELECT 1 FROM niches n
            WHERE n.id = %(niche_id)s AND n.lru_counter = %(lru_counter)s
              AND n.next_start_level_order_position = %(pointer)s)
    AND (SELECT count(*) FROM locked p JOIN expect e ON p.id = e.id
         WHERE p.balance_cents = e.balance AND p.status = 'active')
        = (SELECT count(*) FROM expect),
    'plan_changed') AS held

-- guard_consumer --
-- After ``guard_sale`` (its own statement, so its snapshot is taken once those provider locks
-- are held, and every sale to them since is seen): abort the transaction like the guard
-- unless none of the providers ``ids`` bought the lead's consumer within its ``dedupe_days``
-- (the engine's ``consumer_buyers``, read before the locks, may be outdated by a sale of the
-- same consumer in another niche committed meanwhile).
SELECT leadflow_expect(NOT EXISTS (
    SELECT 1
    FROM (SELECT id, phone_e164, email_normalized FROM leads WHERE id = %(lead_id)s OFFSET 0) me
    CROSS JOIN LATERAL (
        SELECT o.id FROM leads o
        WHERE o.phone_e164 = me.phone_e164 AND o.phone_e164 IS NOT NULL AND o.id <> me.id
        UNION ALL
        SELECT o.id FROM leads o
        WHERE o.email_normalized = me.email_normalized AND o.email_normalized IS NOT NULL
          AND o.id <> me.id
    ) other
    JOIN lead_assignments a ON a.lead_id = other.id AND a.status = 'active'
    JOIN providers p ON p.id = a.provider_id
    WHERE a.provider_id = ANY(%(ids)s::uuid[]) AND p.dedupe_days > 0
      AND a.assigned_at > now() - make_interval(days => p.dedupe_days)
), 'plan_changed') AS held

-- write_sale --
-- The run and what it changes besides money: its record, the assignments, one webhook
-- delivery per active endpoint of each buyer that matches the niche (the outbox, SPEC §10:
-- written with the sale or not at all), each sold subscription's LRU move and tally (its sales
-- and spend in its time zone's hour, day, week and month, SPEC §12: a window's count restarts
-- when the sale is in a later window, and is added to otherwise, so a sale whose clock lags
-- never empties a window), the weighted credits the picks changed, the levels whose order
-- switched, the lead's status and attempt count, the niche's rotation pointer and LRU counter.
-- One JSON parameter (``sale.document``) carries it all: one value to encode where some thirty
-- to adapt cost the client more than the write. The sale's instant is the document's ``now``
-- (the one its schedules, caps and budgets were decided at). Id lists become InitPlan arrays,
-- so generic plans reach rows through their primary keys.
WITH d AS MATERIALIZED (
    SELECT * FROM jsonb_to_record(%(r)s)
    AS d(id uuid, lead_id uuid, niche_id uuid, actor_id text, actor_role text, job_id bigint,
         status text, start int, sold int, skipped jsonb, skipped_total int, duration_ms int,
         trigger text, next_pointer int, lru_counter bigint, now timestamptz, level_rules jsonb)
),
sale AS (
    SELECT * FROM jsonb_to_recordset(%(r)s->'sales')
    AS t(assignment_id uuid, provider_id uuid, subscription_id uuid, level_id uuid, price bigint,
         lru_order bigint, hour_key bigint, day_key int, week_key int, month_key int)
),
run AS (
    INSERT INTO distribution_runs (id, lead_id, niche_id, triggered_by_actor_id,
                                   triggered_by_role, job_id, status,
                                   start_level_order_position, traversal_order,
                                   assignments_created, skipped, skipped_total, finished_at,
                                   duration_ms, trigger, sale_round, level_rules)
    SELECT d.id, d.lead_id, d.niche_id, actor_id, actor_role, job_id, d.status, start,
           ARRAY(SELECT jsonb_array_elements_text(%(r)s->'traversal')::uuid), sold, skipped,
           skipped_total, clock_timestamp(), duration_ms, trigger,
           CASE WHEN l.resold_at IS NULL THEN 1 ELSE 2 END, level_rules
    FROM d JOIN leads l ON l.id = d.lead_id
    RETURNING id
),
assigned AS (
    INSERT INTO lead_assignments (id, lead_id, provider_id, subscription_id,
                                  competition_level_id, distribution_run_id, price_charged_cents,
                                  assigned_at)
    SELECT sale.assignment_id, d.lead_id, sale.provider_id, sale.subscription_id, sale.level_id,
           run.id, sale.price, d.now
    FROM sale, run, d
),
hooks AS (
    INSERT INTO webhook_deliveries (endpoint_id, provider_id, lead_id, assignment_id, event,
                                    created_at)
    SELECT e.id, sale.provider_id, d.lead_id, sale.assignment_id, 'lead.assigned', d.now
    FROM sale CROSS JOIN d
    JOIN webhook_endpoints e ON e.provider_id = sale.provider_id
    WHERE e.is_active AND (e.niche_id IS NULL OR e.niche_id = d.niche_id)
      AND e.provider_id = ANY(ARRAY(SELECT provider_id FROM sale))
),
served AS (
    UPDATE subscriptions s SET last_received_at = d.now, lru_order = sale.lru_order,
                               updated_at = now()
    FROM sale, d
    WHERE s.id = sale.subscription_id
      AND s.id = ANY(ARRAY(SELECT subscription_id FROM sale))
),
tallied AS (
    INSERT INTO subscription_tallies AS t (subscription_id, hour_key, hour_count, day_key,
                                           day_count, day_spend, week_key, week_count,
                                           month_key, month_count, month_spend)
    SELECT subscription_id, hour_key, 1, day_key, 1, price, week_key, 1, month_key, 1, price
    FROM sale
    ON CONFLICT (subscription_id) DO UPDATE SET
        hour_count = CASE WHEN t.hour_key >= excluded.hour_key THEN t.hour_count + 1 ELSE 1 END,
        hour_key = greatest(t.hour_key, excluded.hour_key),
        day_count = CASE WHEN t.day_key >= excluded.day_key THEN t.day_count + 1 ELSE 1 END,
        day_spend = CASE WHEN t.day_key >= excluded.day_key
                         THEN t.day_spend + excluded.day_spend ELSE excluded.day_spend END,
        day_key = greatest(t.day_key, excluded.day_key),
        week_count = CASE WHEN t.week_key >= excluded.week_key THEN t.week_count + 1 ELSE 1 END,
        week_key = greatest(t.week_key, excluded.week_key),
        month_count = CASE WHEN t.month_key >= excluded.month_key
                           THEN t.month_count + 1 ELSE 1 END,
        month_spend = CASE WHEN t.month_key >= excluded.month_key
                           THEN t.month_spend + excluded.month_spend
                           ELSE excluded.month_spend END,
        month_key = greatest(t.month_key, excluded.month_key)
),
credited AS (
    INSERT INTO subscription_credits AS c (subscription_id, credit, epoch)
    SELECT * FROM jsonb_to_recordset(%(r)s->'credits')
    AS x(subscription_id uuid, credit bigint, epoch int)
    ON CONFLICT (subscription_id) DO UPDATE SET credit = excluded.credit, epoch = excluded.epoch
),
rotated AS (
    INSERT INTO level_rotations AS o (level_id, weighted, credit_epoch)
    SELECT * FROM jsonb_to_recordset(%(r)s->'rotations')
    AS x(level_id uuid, weighted boolean, epoch int)
    ON CONFLICT (level_id) DO UPDATE SET weighted = excluded.weighted,
                                         credit_epoch = excluded.credit_epoch
),
lead AS (
    UPDATE leads SET distribution_attempts = distribution_attempts + 1,
                     status = CASE WHEN d.sold > 0 THEN 'distributed' ELSE leads.status END,
                     distributed_at = CASE WHEN d.sold > 0 THEN d.now ELSE distributed_at END,
                     unsold_at = CASE WHEN d.sold > 0 THEN NULL ELSE now() END
    FROM d WHERE leads.id = d.lead_id
)
UPDATE niches SET next_start_level_order_position = d.next_pointer, lru_counter = d.lru_counter
FROM d WHERE niches.id = d.niche_id

-- pause_unaffordable --
-- After the charges: ``active`` subscriptions of these (locked) providers whose level price
-- the balance no longer covers become ``paused_low_balance``, each with its event (the
-- low-balance mail is made from it) and an audit row.
WITH paused AS (
    UPDATE subscriptions s SET status = 'paused_low_balance', updated_at = now()
    FROM competition_levels l, providers p
    WHERE s.provider_id = ANY(%(ids)s) AND s.status = 'active' AND p.id = ANY(%(ids)s)
      AND l.id = s.competition_level_id AND p.id = s.provider_id
      AND NOT leadflow_affords(p.balance_cents, l.price_per_lead_cents)
    RETURNING s.id, s.provider_id, p.balance_cents, l.price_per_lead_cents
),
facts AS (
    SELECT id, jsonb_build_object('subscription_id', id, 'provider_id', provider_id,
                                  'balance_cents', balance_cents,
                                  'price_per_lead_cents', price_per_lead_cents,
                                  'run_id', %(run_id)s::text) AS payload
    FROM paused
),
events AS (
    INSERT INTO outbox_events (topic, payload)
    SELECT 'subscription.paused', payload FROM facts
)
INSERT INTO audit_log (actor_id, actor_role, action, entity_type, entity_id, metadata)
SELECT %(actor_id)s, %(actor_role)s, 'subscription.paused_low_balance', 'subscription',
       id::text, payload
FROM facts

-- record_failed_run --
-- In its own transaction after a rollback: the ``failed`` run and the attempt count, only
-- while the lead is still ``approved``. Its trigger is the attempt's, or ``resale`` for a lead
-- a return put back. A waiting unsold lead counts the failed attempt as its offer (it is
-- offered again at the next change, not at every tick).
WITH lead AS (
    UPDATE leads SET distribution_attempts = distribution_attempts + 1,
                     unsold_at = CASE WHEN unsold_at IS NULL THEN NULL ELSE now() END
    WHERE id = %(lead_id)s AND status = 'approved'
    RETURNING id, niche_id, resold_at
)
INSERT INTO distribution_runs (id, lead_id, niche_id, triggered_by_actor_id, triggered_by_role,
                               job_id, status, start_level_order_position, finished_at,
                               duration_ms, error, trigger, sale_round)
SELECT %(run_id)s, lead.id, lead.niche_id, %(actor_id)s, %(actor_role)s, %(job_id)s, 'failed',
       NULL, clock_timestamp(), %(duration_ms)s, %(error)s,
       CASE WHEN lead.resold_at IS NULL THEN %(trigger)s ELSE 'resale' END,
       CASE WHEN lead.resold_at IS NULL THEN 1 ELSE 2 END
FROM lead
RETURNING id

-- selling_run --
-- The run that sold the lead last: its resale, if it was resold (at most one per trigger).
SELECT * FROM distribution_runs WHERE lead_id = %s AND assignments_created > 0
ORDER BY started_at DESC LIMIT 1

-- run_assignments --
SELECT id AS assignment_id, provider_id, subscription_id, competition_level_id,
       price_charged_cents
FROM lead_assignments WHERE distribution_run_id = %s ORDER BY assigned_at, id
