-- Statements of unsold leads (``db/unsold.py``, SPEC §11): wake-ups where capacity may have
-- returned, the resale batches that serve them, and the expiry of leads that waited too long.

-- niches_of --
-- The niches of the given levels, subscriptions and providers (their subscriptions' levels):
-- index lookups each (a bitmap OR of the subscriptions' primary key and provider index).
SELECT niche_id FROM competition_levels WHERE id = ANY(%(level_ids)s::uuid[])
UNION
SELECT l.niche_id
FROM subscriptions s JOIN competition_levels l ON l.id = s.competition_level_id
WHERE s.id = ANY(%(subscription_ids)s::uuid[]) OR s.provider_id = ANY(%(provider_ids)s::uuid[])

-- wake --
-- Capacity may have returned in these niches: ask the worker to offer their unsold leads again.
-- A request already waiting is renewed (its pass starts over, so changes that come together
-- are served by one pass). Written whether or not leads wait now: a lead whose run read the
-- old capacity may commit its ``no_eligible`` just after this.
INSERT INTO unsold_wakeups (niche_id, reason)
SELECT id, %(reason)s FROM niches WHERE id = ANY(%(niche_ids)s::uuid[])
ON CONFLICT (niche_id) DO UPDATE
SET requested_at = now(), reason = EXCLUDED.reason, pass_at = NULL

-- wakeups --
-- The requests waiting, longest first, with the last job of each one's batch in flight.
SELECT niche_id, last_job_id FROM unsold_wakeups ORDER BY requested_at LIMIT %(limit)s

-- claim_wakeup --
-- Serve this request (locked: another worker's tick skips it), unless it changed since it was
-- read. ``pass_at`` is stamped on the first visit, from the clock, after the change has
-- committed: leads whose last run ended before it have not been offered the new capacity.
WITH claimed AS (
    SELECT niche_id FROM unsold_wakeups
    WHERE niche_id = %(niche_id)s AND last_job_id IS NOT DISTINCT FROM %(last_job_id)s
    FOR UPDATE SKIP LOCKED
)
UPDATE unsold_wakeups w SET pass_at = COALESCE(w.pass_at, clock_timestamp())
FROM claimed WHERE w.niche_id = claimed.niche_id
RETURNING w.niche_id, w.pass_at, w.reason

-- due_leads --
-- The next batch of a pass: the niche's waiting leads, oldest first, whose last run ended
-- before the pass began and at least ``min_interval`` seconds ago; locked, skipping a lead a
-- distribution holds (that run is its offer).
SELECT id FROM leads
WHERE niche_id = %(niche_id)s AND status = 'approved' AND unsold_at IS NOT NULL
  AND unsold_at < %(pass_at)s
  AND unsold_at <= clock_timestamp() - make_interval(secs => %(min_interval)s)
ORDER BY created_at, id
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED

-- pass_pending --
-- Leads of the pass still to be offered once their ``min_interval`` has passed.
SELECT EXISTS (
    SELECT 1 FROM leads
    WHERE niche_id = %(niche_id)s AND status = 'approved' AND unsold_at IS NOT NULL
      AND unsold_at < %(pass_at)s
) AS pending

-- batch_queued --
-- A batch went out: remember its last job, and say so in each lead's audit history.
WITH batch AS (
    UPDATE unsold_wakeups SET last_job_id = %(last_job_id)s WHERE niche_id = %(niche_id)s
)
INSERT INTO audit_log (actor_id, actor_role, action, entity_type, entity_id, metadata)
SELECT NULL, 'system', 'distribution.requested', 'lead', id::text,
       jsonb_build_object('trigger', 'resale', 'reason', %(reason)s::text)
FROM unnest(%(lead_ids)s::uuid[]) AS id

-- finish_wakeup --
-- The pass is over: nothing of it waits. Only once the pass is ``grace`` seconds old, so a run
-- that read the old capacity and committed late is still seen by it.
DELETE FROM unsold_wakeups
WHERE niche_id = %(niche_id)s AND pass_at < clock_timestamp() - make_interval(secs => %(grace)s)

-- expire_due --
-- Leads that waited longer than their niche's ``lead_ttl_hours`` since they came in become
-- ``expired``, never sold, each with its audit row; at most ``limit``, oldest first per niche,
-- skipping a lead a distribution holds.
WITH due AS (
    SELECT w.id, n.lead_ttl_hours
    FROM niches n
    CROSS JOIN LATERAL (
        SELECT id FROM leads
        WHERE niche_id = n.id AND status = 'approved' AND unsold_at IS NOT NULL
          AND created_at < now() - make_interval(hours => n.lead_ttl_hours)
        ORDER BY created_at, id
        LIMIT %(limit)s
    ) w
    LIMIT %(limit)s
),
locked AS (
    SELECT l.id, due.lead_ttl_hours FROM leads l JOIN due ON due.id = l.id
    WHERE l.status = 'approved' AND l.unsold_at IS NOT NULL
    FOR UPDATE OF l SKIP LOCKED
),
expired AS (
    UPDATE leads SET status = 'expired', expired_at = now()
    FROM locked WHERE leads.id = locked.id
    RETURNING leads.id, leads.niche_id, leads.created_at, leads.unsold_at, locked.lead_ttl_hours
),
audited AS (
    INSERT INTO audit_log (actor_id, actor_role, action, entity_type, entity_id, metadata)
    SELECT NULL, 'system', 'lead.expired', 'lead', id::text,
           jsonb_build_object('niche_id', niche_id, 'lead_ttl_hours', lead_ttl_hours,
                              'created_at', created_at, 'unsold_at', unsold_at)
    FROM expired
)
SELECT count(*) AS expired FROM expired

-- clock_rules --
-- The active subscriptions with a schedule, a cap or a budget in niches where leads wait: those
-- the clock alone may give capacity again (a schedule opens, a window rolls over).
SELECT l.niche_id, s.schedule, s.hourly_cap, s.daily_cap, s.weekly_cap, s.monthly_cap,
       s.daily_budget_cents, s.monthly_budget_cents
FROM (SELECT DISTINCT niche_id FROM leads
      WHERE status = 'approved' AND unsold_at IS NOT NULL) w
JOIN competition_levels l ON l.niche_id = w.niche_id
JOIN subscriptions s ON s.competition_level_id = l.id
WHERE s.status = 'active'
  AND (s.schedule IS NOT NULL OR s.hourly_cap IS NOT NULL OR s.daily_cap IS NOT NULL
       OR s.weekly_cap IS NOT NULL OR s.monthly_cap IS NOT NULL
       OR s.daily_budget_cents IS NOT NULL OR s.monthly_budget_cents IS NOT NULL)
