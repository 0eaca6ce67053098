-- The distribution engine's reads (``db/distribution.py``): the lead, niche and provider locks
-- and the candidate snapshot. The write of a run is in sale.sql.

-- niche_state --
-- The niche without locking it (the preview); a distribution locks it with its lead.
SELECT id, name, distribution_mode, next_start_level_order_position, lru_counter
FROM niches WHERE id = %s

-- lead_locked --
-- The lead, locked, with its postal code normalized as the candidate read matches it (the
-- same expression as in ``candidates``); see ``LockedLead``.
SELECT *, upper(regexp_replace(postal_code, '\s', '', 'g')) AS postal_code_key
FROM leads WHERE id = %s FOR NO KEY UPDATE

-- niche_locked_with_levels --
-- The approved lead's niche, locked, with its levels: one row per level (the niche's columns,
-- then the level's, prefixed ``level_``), or one row with no level. The lead is read by id in
-- a fenced subquery (OFFSET 0: the status test cannot be pushed into it); otherwise a generic
-- plan made while few leads were approved (the usual state: they are sold within
-- milliseconds) walks the status index and filters by id, which costs as many rows as the
-- backlog once one builds (4,500 approved leads: 2-3 ms per lookup instead of 0.06 ms), just
-- when the engine must catch up. The levels come from the statement's snapshot, taken before
-- waiting for the niche lock; the niche row itself is read again once locked, so its rotation
-- pointer and LRU counter are current. Distributions never change levels: only an admin's
-- edit does, and that is not ordered against a distribution either way. One statement, not
-- two, so the candidate read follows the lock as closely as the client can send it.
SELECT n.id, n.name, n.distribution_mode, n.next_start_level_order_position, n.lru_counter,
       l.id AS level_id, l.niche_id AS level_niche_id, l.name AS level_name,
       l.order_position AS level_order_position, l.max_recipients AS level_max_recipients,
       l.price_per_lead_cents AS level_price_per_lead_cents, l.is_active AS level_is_active,
       l.created_at AS level_created_at, l.updated_at AS level_updated_at,
       l.price_overrides AS level_price_overrides
FROM niches n LEFT JOIN competition_levels l ON l.niche_id = n.id
WHERE n.id = (SELECT d.niche_id FROM (SELECT niche_id, status FROM leads WHERE id = %s OFFSET 0) d
              WHERE d.status = 'approved')
ORDER BY l.order_position
FOR NO KEY UPDATE OF n

-- candidates --
-- The first ``lim`` candidates of each level in LRU order. The levels come either as lists
-- (``level_ids`` with their ``limits``, and the ``postal_code``: a read again) or from the
-- approved lead ``lead_id`` (its active levels, each with its first read limit, and the lead's
-- postal code normalized as in ``lead_locked``: the first read, in the lock round trip); the
-- other source is empty. A level whose active weights differ (SPEC §12: weighted rotation)
-- needs every candidate, so its first read has no limit; its smallest and largest active
-- weight are the two ends of ``ix_subscriptions_level_weight``. Each level's first ``lim``
-- candidates are the first ``lim`` of two disjoint kinds, each read from the index that suits
-- it, so the work stays flat as a level grows:
-- - subscriptions covering every postal code, in LRU order from their partial index;
-- - subscriptions listing the lead's code, found through the GIN index and then sorted
--   (OFFSET 0 keeps the planner from walking the whole level in LRU order and filtering,
--   which costs as many rows as the level has when few subscriptions list the code). They are
--   sorted before the join, by a key the subquery outputs so that the order carries through
--   it, and the providers are then looked up for the first rows only.
-- The tallies (caps and budgets) are read last, for the chosen rows with a limit only, by
-- primary key; so are the credits, in weighted levels only. A row's ``postal_codes`` are only
-- those that decide for this lead (none, or the lead's code): a list of 50 codes per candidate
-- cost more to send and parse than the rest.
SELECT l.level_id, c.subscription_id, c.provider_id, c.provider_name, c.provider_email,
       c.lru_order, c.postal_codes, NULLIF(c.filters, '[]') AS filters, c.balance_cents,
       c.weight, c.schedule, c.hourly_cap, c.daily_cap, c.weekly_cap, c.monthly_cap,
       c.daily_budget_cents, c.monthly_budget_cents,
       t.hour_key, t.hour_count, t.day_key, t.day_count, t.day_spend, t.week_key, t.week_count,
       t.month_key, t.month_count, t.month_spend,
       cr.credit, cr.epoch AS credit_epoch
FROM (
    SELECT u.level_id, u.lim, %(postal_code)s::text, u.weighted
    FROM unnest(%(level_ids)b::uuid[], %(limits)b::int[], %(weighted)b::boolean[])
         AS u(level_id, lim, weighted)
    UNION ALL
    SELECT v.id,
           CASE WHEN w.weighted THEN 2147483647
                ELSE v.max_recipients * %(per_seat)s + %(extra)s END,
           upper(regexp_replace(d.postal_code, '\s', '', 'g')), w.weighted
    FROM (SELECT niche_id, postal_code, status FROM leads WHERE id = %(lead_id)s OFFSET 0) d
    JOIN competition_levels v ON v.niche_id = d.niche_id AND v.is_active
    CROSS JOIN LATERAL (
        SELECT min(weight) <> max(weight) AS weighted FROM subscriptions
        WHERE competition_level_id = v.id AND status = 'active'
    ) w
    WHERE d.status = 'approved'
) AS l(level_id, lim, postal_code, weighted)
CROSS JOIN LATERAL (
    SELECT * FROM (
        (SELECT s.id AS subscription_id, s.provider_id, p.name AS provider_name,
                p.email AS provider_email, s.lru_order, '{}'::text[] AS postal_codes,
                s.filters, p.balance_cents, s.weight, s.schedule, s.hourly_cap, s.daily_cap,
                s.weekly_cap, s.monthly_cap, s.daily_budget_cents, s.monthly_budget_cents
         FROM subscriptions s
         JOIN providers p ON p.id = s.provider_id
         WHERE s.competition_level_id = l.level_id AND s.status = 'active'
           AND s.postal_codes = '{}'::text[] AND p.status = 'active'
         ORDER BY COALESCE(s.lru_order, 0), s.provider_id
         LIMIT l.lim)
        UNION ALL
        (SELECT s.id, s.provider_id, p.name, p.email, s.lru_order,
                ARRAY[l.postal_code]::text[], s.filters, p.balance_cents, s.weight, s.schedule,
                s.hourly_cap, s.daily_cap, s.weekly_cap, s.monthly_cap, s.daily_budget_cents,
                s.monthly_budget_cents
         FROM (SELECT id, provider_id, lru_order, filters, weight, schedule, hourly_cap,
                      daily_cap, weekly_cap, monthly_cap, daily_budget_cents,
                      monthly_budget_cents, COALESCE(lru_order, 0) AS lru_key
               FROM subscriptions
               WHERE competition_level_id = l.level_id AND status = 'active'
                 AND postal_codes @> ARRAY[l.postal_code]::text[]
               ORDER BY lru_key, provider_id
               OFFSET 0) s
         JOIN providers p ON p.id = s.provider_id
         WHERE p.status = 'active'
         ORDER BY s.lru_key, s.provider_id
         LIMIT l.lim)
    ) u
    ORDER BY COALESCE(u.lru_order, 0), u.provider_id
    LIMIT l.lim
) c
LEFT JOIN subscription_tallies t
    ON t.subscription_id = c.subscription_id
   AND num_nonnulls(c.hourly_cap, c.daily_cap, c.weekly_cap, c.monthly_cap,
                    c.daily_budget_cents, c.monthly_budget_cents) > 0
LEFT JOIN subscription_credits cr
    ON cr.subscription_id = c.subscription_id AND l.weighted

-- level_rules --
-- What the engine needs of the niche's active levels besides their rows, read once the niche
-- is locked (so what the last run wrote is seen): per level whether its active weights differ
-- now, whether its last run used weighted order and its credit epoch; and the database's
-- clock, the instant the run decides schedules, caps and budgets at (one clock for every
-- worker, read after the niche lock, so the runs of a niche see it only move forward). One row.
SELECT clock_timestamp() AS now, COALESCE(jsonb_agg(jsonb_build_object(
           'level_id', v.id, 'weighted', COALESCE(w.lo <> w.hi, false),
           'was_weighted', COALESCE(r.weighted, false),
           'credit_epoch', COALESCE(r.credit_epoch, 0))), '[]') AS levels
FROM competition_levels v
CROSS JOIN LATERAL (
    SELECT min(weight) AS lo, max(weight) AS hi FROM subscriptions
    WHERE competition_level_id = v.id AND status = 'active'
) w
LEFT JOIN level_rotations r ON r.level_id = v.id
WHERE v.is_active
  AND v.niche_id = (SELECT niche_id FROM leads WHERE id = %(lead_id)s OFFSET 0)

-- lock_providers --
-- Lock providers in id order (the global lock order after lead and niche) and read them.
SELECT id, balance_cents, status = 'active' AS active FROM providers
WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE

-- buyers --
-- The providers that already bought the lead (a resale never sells to them again).
SELECT provider_id FROM lead_assignments WHERE lead_id = %s

-- consumer_buyers --
-- The providers that bought the lead's consumer (another lead with the same ``phone_e164`` or
-- ``email_normalized``, in any niche; an erased lead has neither) within their ``dedupe_days``
-- (0 = off), in an active assignment: never sold the consumer again (``duplicate_consumer``).
-- Each key leads its ``(key, niche_id, created_at)`` index, so each is one index range; the
-- lead is read by id in a fenced subquery. ``provider_ids``, when not NULL, limits the answer
-- to those providers (the sale's guard, after their locks).
SELECT DISTINCT a.provider_id
FROM (SELECT id, phone_e164, email_normalized FROM leads WHERE id = %(lead_id)s OFFSET 0) me
CROSS JOIN LATERAL (
    SELECT o.id FROM leads o
    WHERE o.phone_e164 = me.phone_e164 AND o.phone_e164 IS NOT NULL AND o.id <> me.id
    UNION
    SELECT o.id FROM leads o
    WHERE o.email_normalized = me.email_normalized AND o.email_normalized IS NOT NULL
      AND o.id <> me.id
) other
JOIN lead_assignments a ON a.lead_id = other.id AND a.status = 'active'
JOIN providers p ON p.id = a.provider_id
WHERE p.dedupe_days > 0 AND a.assigned_at > now() - make_interval(days => p.dedupe_days)
  AND (%(provider_ids)s::uuid[] IS NULL OR a.provider_id = ANY(%(provider_ids)s::uuid[]))
