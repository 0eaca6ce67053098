-- Statements of a lead's erasure (``db/erasure.py``, SPEC §11).

-- erase_lead --
-- Erase one lead, once, in one statement: lock it (only while not erased yet: a concurrent
-- second erasure waits, then finds it erased and changes nothing), replace its personal fields
-- with the marker, drop its duplicate keys (so duplicate detection does not survive erasure),
-- redact consent's personal fields (the trigger allows that in the erasing UPDATE only), and
-- every stored copy: its mails (a mail to the consumer is redacted whole, and an unsent one not
-- sent any more; in the others, its e-mail and phone wherever they appear), its webhook bodies
-- (a pending one is built again from the redacted lead at its next attempt), the buyer replies
-- stored with them, and its Idempotency-Key's body hash. In the free text people typed about
-- the lead (its rejection reason, its returns' notes and decisions, the audit rows of both) the
-- consumer's name, e-mail and phone (as typed, in E.164, as bare digits, as its national
-- number) become the marker.
-- Returns nothing for an unknown or already erased lead.
WITH old AS MATERIALIZED (
    SELECT id, name, email, phone, phone_e164, email_normalized,
           ARRAY[name, email, email_normalized, phone, phone_e164, ltrim(phone_e164, '+'),
                 regexp_replace(phone, '\D', '', 'g'),
                 -- The national number: the E.164 digits without a 1- to 3-digit country code.
                 substr(phone_e164, 3), substr(phone_e164, 4), substr(phone_e164, 5)] AS needles
    FROM leads
    WHERE id = %(lead_id)s AND erased_at IS NULL
    FOR UPDATE
),
lead_returns_of AS MATERIALIZED (
    SELECT r.id FROM lead_returns r JOIN lead_assignments a ON a.id = r.assignment_id
    JOIN old ON a.lead_id = old.id
),
lead AS (
    UPDATE leads l
    SET name = %(marker)s, email = %(marker)s, phone = %(marker)s,
        attributes = COALESCE(
            (SELECT jsonb_object_agg(k, to_jsonb(%(marker)s::text))
             FROM jsonb_object_keys(l.attributes) k), '{}'::jsonb),
        consent = CASE WHEN l.consent IS NULL THEN NULL ELSE l.consent || (
            SELECT COALESCE(jsonb_object_agg(f, to_jsonb(%(marker)s::text)), '{}'::jsonb)
            FROM unnest(ARRAY['ip', 'user_agent', 'page_url', 'certificate_url']) f
            WHERE l.consent ? f AND l.consent -> f <> 'null'::jsonb) END,
        phone_e164 = NULL, email_normalized = NULL, erased_at = now(),
        rejection_reason = leadflow_redact(l.rejection_reason, old.needles, %(marker)s)
    FROM old WHERE l.id = old.id
    RETURNING l.id
),
notes AS (
    UPDATE lead_returns r
    SET note = leadflow_redact(r.note, old.needles, %(marker)s),
        decision_reason = leadflow_redact(r.decision_reason, old.needles, %(marker)s)
    FROM old, lead_returns_of o
    WHERE r.id = o.id AND (r.note IS NOT NULL OR r.decision_reason IS NOT NULL)
),
audit AS (
    UPDATE audit_log g
    SET metadata = leadflow_redact(g.metadata::text, old.needles, %(marker)s)::jsonb
    FROM old
    WHERE ((g.entity_type = 'lead' AND g.entity_id = old.id::text)
           OR (g.entity_type = 'lead_return'
               AND g.entity_id = ANY(ARRAY(SELECT id::text FROM lead_returns_of))))
      AND leadflow_redact(g.metadata::text, old.needles, %(marker)s) <> g.metadata::text
),
mails AS (
    UPDATE email_outbox m
    SET to_address = CASE WHEN c.to_consumer THEN %(marker)s ELSE m.to_address END,
        subject = CASE WHEN c.to_consumer THEN %(marker)s ELSE replace(replace(replace(
            m.subject, COALESCE(c.email, ''), %(marker)s), COALESCE(c.phone, ''), %(marker)s),
            COALESCE(c.phone_e164, ''), %(marker)s) END,
        body_text = CASE WHEN c.to_consumer THEN %(marker)s ELSE replace(replace(replace(
            m.body_text, COALESCE(c.email, ''), %(marker)s), COALESCE(c.phone, ''),
            %(marker)s), COALESCE(c.phone_e164, ''), %(marker)s) END,
        status = CASE WHEN m.status = 'pending' AND c.to_consumer THEN 'failed' ELSE m.status END,
        last_error = CASE WHEN m.status = 'pending' AND c.to_consumer THEN 'lead erased'
                          ELSE m.last_error END
    FROM (
        SELECT e.id AS mail_id, o.email, o.phone, o.phone_e164,
               lower(btrim(e.to_address)) = lower(btrim(o.email))
               OR e.template = 'lead_confirmation' AS to_consumer
        FROM email_outbox e JOIN old o ON e.lead_id = o.id
    ) c
    WHERE m.id = c.mail_id
    RETURNING m.id
),
hooks AS (
    UPDATE webhook_deliveries d SET body = NULL
    FROM old WHERE d.lead_id = old.id AND d.body IS NOT NULL
    RETURNING d.id
),
replies AS (
    UPDATE webhook_attempts t SET response_excerpt = NULL
    FROM webhook_deliveries d, old
    WHERE t.delivery_id = d.id AND d.lead_id = old.id AND t.response_excerpt IS NOT NULL
    RETURNING t.id
),
keys AS (
    UPDATE intake_idempotency k SET body_sha256 = %(marker)s
    FROM old WHERE k.lead_id = old.id
    RETURNING k.key
)
SELECT (SELECT count(*) FROM lead) AS leads, (SELECT count(*) FROM mails) AS mails,
       (SELECT count(*) FROM hooks) AS webhook_bodies, (SELECT count(*) FROM replies) AS replies,
       (SELECT count(*) FROM keys) AS idempotency_keys

-- lead_erased_at --
-- Whether the lead exists, and when it was erased (NULL: not erased).
SELECT erased_at FROM leads WHERE id = %s

-- due_for_retention --
-- The oldest leads created before the retention cut-off and not erased yet, at most ``limit``.
SELECT id FROM leads
WHERE erased_at IS NULL AND created_at < now() - make_interval(days => %(days)s)
ORDER BY created_at LIMIT %(limit)s
