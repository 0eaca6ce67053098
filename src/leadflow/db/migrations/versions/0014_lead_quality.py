"""Leads worth buying (SPEC §11): everything issue 16 stores, intake's part and the engine's.

- ``leads``: the normalized duplicate keys ``phone_e164`` (E.164, from ``phonenumbers`` with the
  niche's ``default_region``) and ``email_normalized`` (lower-case, trimmed), ``duplicate_of``
  (the earliest lead of the same consumer in the niche's window), ``consent`` (TCPA-style proof,
  immutable, see below) and ``erased_at`` (erasure, SPEC §11); statuses grow ``duplicate`` and
  ``expired``.
- One index per key, ``(key, niche_id, created_at)``, partial on the key being known: the
  intake's duplicate check (both equalities and the window's range) and the engine's
  cross-niche ``duplicate_consumer`` check (the key alone, leading) are each one index range.
  A btree does not care in which order equality columns come, so the niche-scoped check needs
  no index of its own, and intake writes two index entries, not four.
- ``niches``: ``duplicate_window_days`` (0 = off), ``require_consent``, ``lead_ttl_hours`` (an
  unsold lead's wait before ``expired``), ``default_region`` (how a phone without ``+`` is read).
- ``providers``: ``dedupe_days`` (the engine never sells one consumer to a provider twice within
  them, in any niche).
- ``intake_idempotency``: an ``Idempotency-Key`` of ``POST /leads``, the SHA-256 of the body it
  came with and the first answer; pruned after 24 h by the maintenance task.
- ``leadflow_duplicate_of``: the duplicate check as one atomic step (advisory locks on the
  consumer's keys, then the lookup with a fresh snapshot), so intake stays one statement.
- Trigger ``leads_consent_immutable``: a stored consent never changes, except that the UPDATE
  that erases the lead (``erased_at`` NULL to a value) may redact its personal fields.

Backfill: ``email_normalized`` is computed in SQL for existing leads; ``phone_e164`` only for
phones typed with a ``+`` (their digits are the E.164 number). Other old phones need
``phonenumbers`` and the niche's region, so they stay NULL: such leads are matched by e-mail only.

Revision ID: 0014_lead_quality
Revises: 0013_webhooks
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014_lead_quality"
down_revision = "0013_webhooks"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=True)
TZ = postgresql.TIMESTAMP(timezone=True)
OLD_STATUSES = "'pending_confirmation', 'pending_approval', 'approved', 'distributed', 'rejected'"
# What an erasure may redact in a consent; the rest (the wording, its version, when) is kept.
PERSONAL_CONSENT_FIELDS = "ARRAY['ip', 'user_agent', 'page_url', 'certificate_url']"


def upgrade() -> None:
    op.add_column("leads", sa.Column("phone_e164", sa.Text(), nullable=True))
    op.add_column("leads", sa.Column("email_normalized", sa.Text(), nullable=True))
    op.add_column("leads", sa.Column("duplicate_of", UUID, nullable=True))
    op.add_column("leads", sa.Column("consent", postgresql.JSONB(), nullable=True))
    op.add_column("leads", sa.Column("erased_at", TZ, nullable=True))
    op.create_foreign_key(
        op.f("fk_leads_duplicate_of_leads"), "leads", "leads", ["duplicate_of"], ["id"]
    )
    op.drop_constraint(op.f("ck_leads_status"), "leads", type_="check")
    op.create_check_constraint(
        op.f("ck_leads_status"), "leads", f"status IN ({OLD_STATUSES}, 'duplicate', 'expired')"
    )
    op.create_check_constraint(
        op.f("ck_leads_duplicate_has_original"),
        "leads",
        "status <> 'duplicate' OR duplicate_of IS NOT NULL",
    )
    op.create_check_constraint(
        op.f("ck_leads_consent_object"),
        "leads",
        "consent IS NULL OR jsonb_typeof(consent) = 'object'",
    )
    op.execute(
        """
        UPDATE leads SET email_normalized = lower(btrim(email)),
                         phone_e164 = CASE WHEN btrim(phone) LIKE '+%'
                                           THEN '+' || regexp_replace(phone, '[^0-9]', '', 'g') END
        """
    )
    op.create_index(
        "ix_leads_phone_e164_niche_id_created_at",
        "leads",
        ["phone_e164", "niche_id", "created_at"],
        postgresql_where=sa.text("phone_e164 IS NOT NULL"),
    )
    op.create_index(
        "ix_leads_email_normalized_niche_id_created_at",
        "leads",
        ["email_normalized", "niche_id", "created_at"],
        postgresql_where=sa.text("email_normalized IS NOT NULL"),
    )

    op.add_column(
        "niches",
        sa.Column(
            "duplicate_window_days", sa.Integer(), server_default=sa.text("30"), nullable=False
        ),
    )
    op.add_column(
        "niches",
        sa.Column("require_consent", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column(
        "niches",
        sa.Column("lead_ttl_hours", sa.Integer(), server_default=sa.text("72"), nullable=False),
    )
    op.add_column(
        "niches",
        sa.Column("default_region", sa.Text(), server_default=sa.text("'US'"), nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_niches_duplicate_window_not_negative"), "niches", "duplicate_window_days >= 0"
    )
    op.create_check_constraint(op.f("ck_niches_lead_ttl_positive"), "niches", "lead_ttl_hours >= 1")
    op.create_check_constraint(
        op.f("ck_niches_default_region_code"), "niches", "default_region ~ '^[A-Z]{2}$'"
    )

    op.add_column(
        "providers",
        sa.Column("dedupe_days", sa.Integer(), server_default=sa.text("30"), nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_providers_dedupe_days_not_negative"), "providers", "dedupe_days >= 0"
    )

    op.create_table(
        "intake_idempotency",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("body_sha256", sa.Text(), nullable=False),
        sa.Column("lead_id", UUID, nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response", postgresql.JSONB(), nullable=True),
        sa.Column("created_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("length(key) <= 255", name=op.f("ck_intake_idempotency_key_length")),
        sa.CheckConstraint(
            "(status_code IS NULL) = (response IS NULL)",
            name=op.f("ck_intake_idempotency_answered"),
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_intake_idempotency_lead_id_leads")
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_intake_idempotency")),
    )
    op.create_index("ix_intake_idempotency_created_at", "intake_idempotency", ["created_at"])
    op.create_index("ix_intake_idempotency_lead_id", "intake_idempotency", ["lead_id"])

    # Race-free duplicate check, one atomic step. The consumer's keys are locked first (advisory
    # transaction locks on a hash of niche and key, in ascending order so that two leads sharing
    # both keys cannot deadlock), then the earliest lead of either key in the window is looked
    # up. The function is VOLATILE, so in READ COMMITTED its lookup takes a fresh snapshot after
    # the locks: a lead of the same consumer committed while this one waited is seen. Called
    # from intake's single INSERT statement, whose commit releases the locks.
    op.execute(
        """
        CREATE FUNCTION leadflow_duplicate_of(
            in_niche uuid, in_phone text, in_email text, window_days integer
        ) RETURNS uuid LANGUAGE plpgsql VOLATILE AS $$
        DECLARE
            phone_key bigint := hashtextextended(in_niche::text || ' phone ' || in_phone, 16);
            email_key bigint := hashtextextended(in_niche::text || ' email ' || in_email, 16);
            original uuid;
        BEGIN
            IF window_days <= 0 THEN
                RETURN NULL;
            END IF;
            IF phone_key IS NULL OR email_key IS NULL THEN
                PERFORM pg_advisory_xact_lock(COALESCE(phone_key, email_key));
            ELSE
                PERFORM pg_advisory_xact_lock(least(phone_key, email_key));
                IF phone_key <> email_key THEN
                    PERFORM pg_advisory_xact_lock(greatest(phone_key, email_key));
                END IF;
            END IF;
            SELECT m.id INTO original FROM (
                (SELECT l.id, l.created_at FROM leads l
                 WHERE l.phone_e164 = in_phone AND l.niche_id = in_niche AND l.erased_at IS NULL
                   AND l.created_at > now() - make_interval(days => window_days)
                 ORDER BY l.created_at, l.id LIMIT 1)
                UNION ALL
                (SELECT l.id, l.created_at FROM leads l
                 WHERE l.email_normalized = in_email AND l.niche_id = in_niche
                   AND l.erased_at IS NULL
                   AND l.created_at > now() - make_interval(days => window_days)
                 ORDER BY l.created_at, l.id LIMIT 1)
            ) m ORDER BY m.created_at, m.id LIMIT 1;
            RETURN original;
        END $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION leadflow_guard_consent() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.erased_at IS NULL AND NEW.erased_at IS NOT NULL
               AND OLD.consent IS NOT NULL AND NEW.consent IS NOT NULL
               AND jsonb_typeof(NEW.consent) = 'object'
               AND NEW.consent - {PERSONAL_CONSENT_FIELDS} = OLD.consent - {PERSONAL_CONSENT_FIELDS}
            THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION USING ERRCODE = 'LF003',
                MESSAGE = 'a lead''s consent is never changed (its erasure may redact its personal fields)';
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER leads_consent_immutable BEFORE UPDATE OF consent ON leads
        FOR EACH ROW WHEN (OLD.consent IS DISTINCT FROM NEW.consent)
        EXECUTE FUNCTION leadflow_guard_consent()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER leads_consent_immutable ON leads")
    op.execute("DROP FUNCTION leadflow_guard_consent()")
    op.execute("DROP FUNCTION leadflow_duplicate_of(uuid, text, text, integer)")
    op.drop_table("intake_idempotency")
    op.drop_constraint(op.f("ck_providers_dedupe_days_not_negative"), "providers", type_="check")
    op.drop_column("providers", "dedupe_days")
    for name in (
        "ck_niches_default_region_code",
        "ck_niches_lead_ttl_positive",
        "ck_niches_duplicate_window_not_negative",
    ):
        op.drop_constraint(op.f(name), "niches", type_="check")
    for column in ("default_region", "lead_ttl_hours", "require_consent", "duplicate_window_days"):
        op.drop_column("niches", column)
    op.drop_index("ix_leads_email_normalized_niche_id_created_at", table_name="leads")
    op.drop_index("ix_leads_phone_e164_niche_id_created_at", table_name="leads")
    op.drop_constraint(op.f("ck_leads_consent_object"), "leads", type_="check")
    op.drop_constraint(op.f("ck_leads_duplicate_has_original"), "leads", type_="check")
    op.drop_constraint(op.f("ck_leads_status"), "leads", type_="check")
    op.execute("UPDATE leads SET status = 'rejected' WHERE status IN ('duplicate', 'expired')")
    op.create_check_constraint(op.f("ck_leads_status"), "leads", f"status IN ({OLD_STATUSES})")
    op.drop_constraint(op.f("fk_leads_duplicate_of_leads"), "leads", type_="foreignkey")
    for column in ("erased_at", "consent", "duplicate_of", "email_normalized", "phone_e164"):
        op.drop_column("leads", column)
