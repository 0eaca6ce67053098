"""Declared schema (SQLAlchemy Core metadata): the source the Alembic migrations must match."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TIMESTAMP, UUID

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

TZ = TIMESTAMP(timezone=True)


def _id() -> Column[object]:
    return Column(
        "id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )


def _created_at() -> Column[object]:
    return Column("created_at", TZ, nullable=False, server_default=text("now()"))


def _updated_at() -> Column[object]:
    return Column("updated_at", TZ, nullable=False, server_default=text("now()"))


def _fk(
    name: str, target: str, *, nullable: bool = False, ondelete: str | None = None
) -> Column[object]:
    return Column(
        name, UUID(as_uuid=True), ForeignKey(target, ondelete=ondelete), nullable=nullable
    )


niches = Table(
    "niches",
    metadata,
    _id(),
    Column("slug", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("is_active", Boolean, nullable=False, server_default=text("true")),
    Column("require_confirmation", Boolean, nullable=False, server_default=text("false")),
    Column("distribution_mode", Text, nullable=False, server_default=text("'all_levels'")),
    Column("next_start_level_order_position", Integer, nullable=False, server_default=text("1")),
    # Last LRU order key handed out in this niche; bumped under the niche lock (SPEC §8).
    Column("lru_counter", BigInteger, nullable=False, server_default=text("0")),
    _created_at(),
    _updated_at(),
    # Returns (SPEC §9): 0 hours = no returns; NULL rate = never approved automatically.
    Column("return_window_hours", Integer, nullable=False, server_default=text("72")),
    Column(
        "return_reasons",
        ARRAY(Text),
        nullable=False,
        server_default=text("'{bad_contact,duplicate,out_of_area,not_interested,other}'::text[]"),
    ),
    Column("auto_approve_returns_under_rate", Numeric(5, 4), nullable=True),
    Column("resell_returned", Boolean, nullable=False, server_default=text("false")),
    # Leads worth buying (SPEC §11): 0 days = no duplicate check; the region reads phones
    # typed without a country code; an unsold lead waits ``lead_ttl_hours``, then expires.
    Column("duplicate_window_days", Integer, nullable=False, server_default=text("30")),
    Column("require_consent", Boolean, nullable=False, server_default=text("false")),
    Column("lead_ttl_hours", Integer, nullable=False, server_default=text("72")),
    Column("default_region", Text, nullable=False, server_default=text("'US'")),
    CheckConstraint("distribution_mode IN ('all_levels', 'first_level')", name="distribution_mode"),
    CheckConstraint("next_start_level_order_position >= 1", name="pointer_positive"),
    CheckConstraint("return_window_hours >= 0", name="return_window_not_negative"),
    CheckConstraint(
        "auto_approve_returns_under_rate IS NULL"
        " OR auto_approve_returns_under_rate BETWEEN 0 AND 1",
        name="auto_approve_rate_share",
    ),
    CheckConstraint("duplicate_window_days >= 0", name="duplicate_window_not_negative"),
    CheckConstraint("lead_ttl_hours >= 1", name="lead_ttl_positive"),
    CheckConstraint("default_region ~ '^[A-Z]{2}$'", name="default_region_code"),
)

competition_levels = Table(
    "competition_levels",
    metadata,
    _id(),
    _fk("niche_id", "niches.id"),
    Column("name", Text, nullable=False),
    Column("order_position", Integer, nullable=False),
    Column("max_recipients", Integer, nullable=False),
    Column("price_per_lead_cents", BigInteger, nullable=False),
    Column("is_active", Boolean, nullable=False, server_default=text("true")),
    _created_at(),
    _updated_at(),
    # Prices by geography (SPEC §12): ``[{postal_prefix, price_cents}]``, the longest prefix wins.
    Column("price_overrides", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    UniqueConstraint("niche_id", "order_position"),
    CheckConstraint("order_position >= 1", name="order_position_positive"),
    CheckConstraint("max_recipients >= 1", name="max_recipients_positive"),
    CheckConstraint("price_per_lead_cents >= 0", name="price_not_negative"),
    CheckConstraint("jsonb_typeof(price_overrides) = 'array'", name="price_overrides_array"),
)

providers = Table(
    "providers",
    metadata,
    _id(),
    Column("name", Text, nullable=False),
    Column("email", Text, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'active'")),
    Column("balance_cents", BigInteger, nullable=False, server_default=text("0")),
    _created_at(),
    _updated_at(),
    # The engine never sells one consumer to this provider twice within these days (SPEC §11).
    Column("dedupe_days", Integer, nullable=False, server_default=text("30")),
    CheckConstraint("status IN ('active', 'suspended')", name="status"),
    CheckConstraint("balance_cents >= 0", name="balance_not_negative"),
    CheckConstraint("dedupe_days >= 0", name="dedupe_days_not_negative"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    _id(),
    _fk("provider_id", "providers.id"),
    _fk("competition_level_id", "competition_levels.id"),
    Column("status", Text, nullable=False, server_default=text("'active'")),
    Column("last_received_at", TZ, nullable=True),
    # Strictly increasing per sale (from niches.lru_counter); NULL = never served.
    Column("lru_order", BigInteger, nullable=True),
    Column("postal_codes", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("filters", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("daily_cap", Integer, nullable=True),
    Column("monthly_cap", Integer, nullable=True),
    _created_at(),
    _updated_at(),
    # Delivery rules (SPEC §12, migration 0016): business hours in a time zone, more caps,
    # budgets in spend, and the weight of weighted rotation.
    Column("schedule", JSONB, nullable=True),
    Column("hourly_cap", Integer, nullable=True),
    Column("weekly_cap", Integer, nullable=True),
    Column("daily_budget_cents", BigInteger, nullable=True),
    Column("monthly_budget_cents", BigInteger, nullable=True),
    Column("weight", Integer, nullable=False, server_default=text("1")),
    UniqueConstraint("provider_id", "competition_level_id"),
    CheckConstraint(
        "status IN ('active', 'paused', 'paused_low_balance', 'cancelled')", name="status"
    ),
    CheckConstraint("daily_cap IS NULL OR daily_cap >= 1", name="daily_cap_positive"),
    CheckConstraint("monthly_cap IS NULL OR monthly_cap >= 1", name="monthly_cap_positive"),
    CheckConstraint("jsonb_typeof(filters) = 'array'", name="filters_array"),
    CheckConstraint("hourly_cap IS NULL OR hourly_cap >= 1", name="hourly_cap_positive"),
    CheckConstraint("weekly_cap IS NULL OR weekly_cap >= 1", name="weekly_cap_positive"),
    CheckConstraint(
        "daily_budget_cents IS NULL OR daily_budget_cents >= 1", name="daily_budget_cents_positive"
    ),
    CheckConstraint(
        "monthly_budget_cents IS NULL OR monthly_budget_cents >= 1",
        name="monthly_budget_cents_positive",
    ),
    CheckConstraint("weight BETWEEN 1 AND 100", name="weight_range"),
    CheckConstraint(
        "schedule IS NULL OR jsonb_typeof(schedule) = 'object'", name="schedule_object"
    ),
)
# The fairness order, for subscriptions that cover every postal code: active ones of a level in
# LRU order (never served first). With the GIN index below (for those listing the lead's code) a
# level's candidates are read without walking the whole level. No index holds every
# subscription of a level in that order: each would take an entry at every LRU move.
Index(
    "ix_subscriptions_everywhere",
    subscriptions.c.competition_level_id,
    text("COALESCE(lru_order, 0)"),
    subscriptions.c.provider_id,
    postgresql_where=text("status = 'active' AND postal_codes = '{}'::text[]"),
)
# A level's smallest and largest active weight, each from one end: equal means Part I's LRU
# order, different means weighted rotation (SPEC §12).
Index(
    "ix_subscriptions_level_weight",
    subscriptions.c.competition_level_id,
    subscriptions.c.weight,
    postgresql_where=text("status = 'active'"),
)
Index(
    "ix_subscriptions_postal_codes",
    subscriptions.c.postal_codes,
    postgresql_using="gin",
    postgresql_where=text("status = 'active'"),
)
# The console's subscriptions list (newest first, ties by id; migration 0017), so a page is
# read from its cursor, not sorted.
Index("ix_subscriptions_created_at_id", subscriptions.c.created_at.desc(), subscriptions.c.id)
Index(
    "ix_subscriptions_status_created_at_id",
    subscriptions.c.status,
    subscriptions.c.created_at.desc(),
    subscriptions.c.id,
)

leads = Table(
    "leads",
    metadata,
    _id(),
    _fk("niche_id", "niches.id"),
    Column("name", Text, nullable=False),
    Column("email", Text, nullable=False),
    Column("phone", Text, nullable=False),
    Column("postal_code", Text, nullable=False),
    Column("attributes", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("status", Text, nullable=False),
    Column("confirmation_token_hash", Text, nullable=True, unique=True),
    Column("rejection_reason", Text, nullable=True),
    _created_at(),
    Column("confirmed_at", TZ, nullable=True),
    Column("approved_at", TZ, nullable=True),
    Column("rejected_at", TZ, nullable=True),
    Column("distributed_at", TZ, nullable=True),
    Column("distribution_attempts", Integer, nullable=False, server_default=text("0")),
    # Put back to ``approved`` by an approved return for its one resale (SPEC §9); set once.
    Column("resold_at", TZ, nullable=True),
    # The consumer's duplicate keys (SPEC §11): E.164, and the e-mail lower-cased and trimmed.
    Column("phone_e164", Text, nullable=True),
    Column("email_normalized", Text, nullable=True),
    # The earliest lead of the same consumer in the niche's window, for a ``duplicate``.
    _fk("duplicate_of", "leads.id", nullable=True),
    # TCPA-style proof, immutable (trigger ``leads_consent_immutable``, migration 0014).
    Column("consent", JSONB, nullable=True),
    Column("erased_at", TZ, nullable=True),
    # Set by a run that sold nothing, cleared by a sale: since when the lead waits (SPEC §11).
    Column("unsold_at", TZ, nullable=True),
    Column("expired_at", TZ, nullable=True),
    CheckConstraint(
        "status IN ('pending_confirmation', 'pending_approval', 'approved', 'distributed',"
        " 'rejected', 'duplicate', 'expired')",
        name="status",
    ),
    CheckConstraint("jsonb_typeof(attributes) = 'object'", name="attributes_object"),
    CheckConstraint(
        "status <> 'duplicate' OR duplicate_of IS NOT NULL", name="duplicate_has_original"
    ),
    CheckConstraint("consent IS NULL OR jsonb_typeof(consent) = 'object'", name="consent_object"),
)
Index("ix_leads_status_created_at", leads.c.status, leads.c.created_at)
Index("ix_leads_niche_id_created_at", leads.c.niche_id, leads.c.created_at)
# The lead lists' order (newest first, ties by id), so a page is read, not sorted.
Index("ix_leads_created_at_id", leads.c.created_at.desc(), leads.c.id)
Index("ix_leads_status_created_at_id", leads.c.status, leads.c.created_at.desc(), leads.c.id)
# The leads waiting for a buyer, per niche and oldest first: what resale and expiry read.
Index(
    "ix_leads_unsold",
    leads.c.niche_id,
    leads.c.created_at,
    leads.c.id,
    postgresql_where=text("status = 'approved' AND unsold_at IS NOT NULL"),
)
# One index per duplicate key, the key first: intake's check (key and niche equal, created_at in
# the window) and the engine's cross-niche check (the key alone) are each one range of it.
Index(
    "ix_leads_phone_e164_niche_id_created_at",
    leads.c.phone_e164,
    leads.c.niche_id,
    leads.c.created_at,
    postgresql_where=text("phone_e164 IS NOT NULL"),
)
Index(
    "ix_leads_email_normalized_niche_id_created_at",
    leads.c.email_normalized,
    leads.c.niche_id,
    leads.c.created_at,
    postgresql_where=text("email_normalized IS NOT NULL"),
)

# ``Idempotency-Key`` of ``POST /leads`` (SPEC §11): the body's SHA-256 and the first answer,
# kept 24 h (pruned by the maintenance task).
intake_idempotency = Table(
    "intake_idempotency",
    metadata,
    Column("key", Text, primary_key=True),
    Column("body_sha256", Text, nullable=False),
    _fk("lead_id", "leads.id", nullable=True),
    Column("status_code", Integer, nullable=True),
    Column("response", JSONB, nullable=True),
    _created_at(),
    CheckConstraint("length(key) <= 255", name="key_length"),
    CheckConstraint("(status_code IS NULL) = (response IS NULL)", name="answered"),
)
Index("ix_intake_idempotency_created_at", intake_idempotency.c.created_at)
Index("ix_intake_idempotency_lead_id", intake_idempotency.c.lead_id)

# Niches where capacity may have returned while leads wait (SPEC §11): the worker offers those
# leads again in bounded batches, ``last_job_id`` the last job of the batch in flight.
unsold_wakeups = Table(
    "unsold_wakeups",
    metadata,
    _fk("niche_id", "niches.id", ondelete="CASCADE"),
    Column("requested_at", TZ, nullable=False, server_default=text("now()")),
    Column("reason", Text, nullable=False),
    # When the worker began serving the latest request: leads whose last run is older are due.
    Column("pass_at", TZ, nullable=True),
    Column("last_job_id", BigInteger, nullable=True),
    PrimaryKeyConstraint("niche_id"),
)

distribution_runs = Table(
    "distribution_runs",
    metadata,
    _id(),
    _fk("lead_id", "leads.id"),
    _fk("niche_id", "niches.id"),
    Column("triggered_by_actor_id", Text, nullable=True),
    Column("triggered_by_role", Text, nullable=False),
    Column("job_id", BigInteger, nullable=True),
    Column("status", Text, nullable=False),
    Column("start_level_order_position", Integer, nullable=True),
    Column(
        "traversal_order",
        ARRAY(UUID(as_uuid=True)),
        nullable=False,
        server_default=text("'{}'::uuid[]"),
    ),
    Column("assignments_created", Integer, nullable=False, server_default=text("0")),
    Column("skipped", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("skipped_total", Integer, nullable=False, server_default=text("0")),
    Column("started_at", TZ, nullable=False, server_default=text("now()")),
    Column("finished_at", TZ, nullable=True),
    Column("duration_ms", Integer, nullable=True),
    Column("error", Text, nullable=True),
    # What started the run: the lead's approval (or an operator), or a resale: a re-run of an
    # unsold lead when capacity may have returned, or the one more sale after a return.
    Column("trigger", Text, nullable=False, server_default=text("'distribution'")),
    # Which sale of the lead the run is: 1, or 2 after a return put it back (``resold_at``).
    Column("sale_round", SmallInteger, nullable=False, server_default=text("1")),
    # Per level: its order (``lru`` or ``weighted``) and whether it switched in this run.
    Column("level_rules", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    CheckConstraint(
        "status IN ('queued', 'running', 'success', 'partial', 'no_eligible', 'failed')",
        name="status",
    ),
    CheckConstraint("trigger IN ('distribution', 'resale')", name="trigger"),
    CheckConstraint("sale_round IN (1, 2)", name="sale_round"),
)
Index(
    "ix_distribution_runs_lead_id_started_at",
    distribution_runs.c.lead_id,
    distribution_runs.c.started_at,
)
# Invariant 3 (as Part II reads it), enforced by the database: at most one run with sales per
# lead and sale round: the sale, and at most one more after a return.
Index(
    "uq_distribution_runs_lead_id_sale_round_sold",
    distribution_runs.c.lead_id,
    distribution_runs.c.sale_round,
    unique=True,
    postgresql_where=text("assignments_created > 0"),
)

lead_assignments = Table(
    "lead_assignments",
    metadata,
    _id(),
    _fk("lead_id", "leads.id"),
    _fk("provider_id", "providers.id"),
    _fk("subscription_id", "subscriptions.id"),
    _fk("competition_level_id", "competition_levels.id"),
    _fk("distribution_run_id", "distribution_runs.id"),
    Column("price_charged_cents", BigInteger, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'active'")),
    Column("assigned_at", TZ, nullable=False, server_default=text("now()")),
    UniqueConstraint("lead_id", "provider_id"),
    CheckConstraint("status IN ('active', 'returned')", name="status"),
    CheckConstraint("price_charged_cents >= 0", name="price_not_negative"),
)
# Caps count a subscription's assignments in the current UTC day / month from this index.
Index(
    "ix_lead_assignments_subscription_id_assigned_at",
    lead_assignments.c.subscription_id,
    lead_assignments.c.assigned_at,
)
Index(
    "ix_lead_assignments_provider_id_assigned_at",
    lead_assignments.c.provider_id,
    lead_assignments.c.assigned_at,
)

# Sales and spend of a subscription in its current hour, day, week and month (its time zone's
# calendar windows), each with its window's key; kept by the sale writer, read by the engine for
# caps and budgets (SPEC §12): one primary-key lookup, however many sales there were.
subscription_tallies = Table(
    "subscription_tallies",
    metadata,
    Column("subscription_id", UUID(as_uuid=True), ForeignKey("subscriptions.id"), primary_key=True),
    Column("hour_key", BigInteger, nullable=False, server_default=text("0")),
    Column("hour_count", Integer, nullable=False, server_default=text("0")),
    Column("day_key", Integer, nullable=False, server_default=text("0")),
    Column("day_count", Integer, nullable=False, server_default=text("0")),
    Column("day_spend", BigInteger, nullable=False, server_default=text("0")),
    Column("week_key", Integer, nullable=False, server_default=text("0")),
    Column("week_count", Integer, nullable=False, server_default=text("0")),
    Column("month_key", Integer, nullable=False, server_default=text("0")),
    Column("month_count", Integer, nullable=False, server_default=text("0")),
    Column("month_spend", BigInteger, nullable=False, server_default=text("0")),
)

# Smooth weighted round-robin credits (SPEC §12), narrow and with no other index, so the sale's
# updates of them are HOT. A credit of another epoch than its level's counts as 0.
subscription_credits = Table(
    "subscription_credits",
    metadata,
    Column("subscription_id", UUID(as_uuid=True), ForeignKey("subscriptions.id"), primary_key=True),
    Column("credit", BigInteger, nullable=False, server_default=text("0")),
    Column("epoch", Integer, nullable=False, server_default=text("0")),
)

# Per level, the order its last run used and its credit epoch (a switch to weighted order
# starts a new one).
level_rotations = Table(
    "level_rotations",
    metadata,
    Column("level_id", UUID(as_uuid=True), ForeignKey("competition_levels.id"), primary_key=True),
    Column("weighted", Boolean, nullable=False, server_default=text("false")),
    Column("credit_epoch", Integer, nullable=False, server_default=text("0")),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    _id(),
    # Order of entries per provider (created_at ties within a transaction).
    Column("seq", BigInteger, Identity(always=True), nullable=False, unique=True),
    _fk("provider_id", "providers.id"),
    Column("amount_cents", BigInteger, nullable=False),
    Column("balance_after_cents", BigInteger, nullable=False),
    Column("kind", Text, nullable=False),
    _fk("assignment_id", "lead_assignments.id", nullable=True),
    Column("idempotency_key", Text, nullable=True),
    Column("note", Text, nullable=True),
    Column("actor_id", Text, nullable=True),
    _created_at(),
    CheckConstraint("kind IN ('deposit', 'lead_charge', 'refund', 'adjustment')", name="kind"),
    CheckConstraint("balance_after_cents >= 0", name="balance_after_not_negative"),
    CheckConstraint("kind <> 'deposit' OR amount_cents > 0", name="deposit_positive"),
    CheckConstraint(
        "kind <> 'lead_charge' OR (assignment_id IS NOT NULL AND amount_cents <= 0)",
        name="charge_has_assignment",
    ),
    CheckConstraint(
        "kind <> 'refund' OR (assignment_id IS NOT NULL AND amount_cents >= 0)",
        name="refund_has_assignment",
    ),
    CheckConstraint(
        "kind <> 'adjustment' OR (assignment_id IS NULL AND amount_cents <> 0)",
        name="adjustment_not_zero",
    ),
)
# A provider's ledger in the console's order (``seq DESC``, by keyset; migration 0017), and
# its count and sum (the ``provider_id`` prefix).
Index("ix_ledger_entries_provider_id_seq", ledger_entries.c.provider_id, ledger_entries.c.seq)
# A deposit's idempotency key is unique per provider; charges carry none, so they take no entry.
Index(
    "uq_ledger_entries_provider_id_idempotency_key_given",
    ledger_entries.c.provider_id,
    ledger_entries.c.idempotency_key,
    unique=True,
    postgresql_where=text("idempotency_key IS NOT NULL"),
)
# Invariant 2, enforced by the database: one charge per assignment.
Index(
    "uq_ledger_entries_assignment_id_charge",
    ledger_entries.c.assignment_id,
    unique=True,
    postgresql_where=text("kind = 'lead_charge'"),
)
# Invariant 5, enforced by the database: at most one refund per assignment.
Index(
    "uq_ledger_entries_assignment_id_refund",
    ledger_entries.c.assignment_id,
    unique=True,
    postgresql_where=text("kind = 'refund'"),
)

# A provider's request to return one assignment (SPEC §9), and its decision: one per assignment.
lead_returns = Table(
    "lead_returns",
    metadata,
    _id(),
    _fk("assignment_id", "lead_assignments.id"),
    _fk("provider_id", "providers.id"),
    _fk("niche_id", "niches.id"),
    Column("reason", Text, nullable=False),
    Column("note", Text, nullable=True),
    Column("status", Text, nullable=False, server_default=text("'requested'")),
    Column("decided_by", Text, nullable=True),
    Column("decided_by_role", Text, nullable=True),
    Column("decision_reason", Text, nullable=True),
    _fk("refund_ledger_entry_id", "ledger_entries.id", nullable=True),
    _created_at(),
    Column("decided_at", TZ, nullable=True),
    UniqueConstraint("assignment_id"),
    CheckConstraint("status IN ('requested', 'approved', 'denied')", name="status"),
    CheckConstraint("(status = 'requested') = (decided_at IS NULL)", name="decided"),
    CheckConstraint(
        "(status = 'approved') = (refund_ledger_entry_id IS NOT NULL)", name="approved_has_refund"
    ),
)
Index("ix_lead_returns_status_created_at", lead_returns.c.status, lead_returns.c.created_at)
Index(
    "ix_lead_returns_provider_id_created_at", lead_returns.c.provider_id, lead_returns.c.created_at
)
Index("ix_lead_returns_niche_id_created_at", lead_returns.c.niche_id, lead_returns.c.created_at)
# Auto-approval reads a provider's approved returns in a niche over the last 30 days from here.
Index(
    "ix_lead_returns_approved",
    lead_returns.c.provider_id,
    lead_returns.c.niche_id,
    lead_returns.c.decided_at,
    postgresql_where=text("status = 'approved'"),
)

audit_log = Table(
    "audit_log",
    metadata,
    _id(),
    Column("at", TZ, nullable=False, server_default=text("now()")),
    Column("actor_id", Text, nullable=True),
    Column("actor_role", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("entity_type", Text, nullable=False),
    Column("entity_id", Text, nullable=True),
    Column("metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
)
Index(
    "ix_audit_log_entity_type_entity_id_at",
    audit_log.c.entity_type,
    audit_log.c.entity_id,
    audit_log.c.at,
)
Index("ix_audit_log_action_at", audit_log.c.action, audit_log.c.at)
Index("ix_audit_log_at", audit_log.c.at)

email_outbox = Table(
    "email_outbox",
    metadata,
    _id(),
    Column("template", Text, nullable=False),
    Column("to_address", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("body_text", Text, nullable=False),
    # Stable per row, so a resend after a crash is recognisable by the receiver.
    Column("message_id", Text, nullable=False, unique=True),
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text, nullable=True),
    _fk("provider_id", "providers.id", nullable=True),
    _fk("lead_id", "leads.id", nullable=True),
    _created_at(),
    Column("next_attempt_at", TZ, nullable=False, server_default=text("now()")),
    Column("sent_at", TZ, nullable=True),
    # The event the mail was made from (``outbox_events``); NULL for mails written directly.
    Column("event_id", BigInteger, nullable=True),
    CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
)
# Exactly once per event and consumer: a dispatch that ran twice cannot mail twice.
Index(
    "uq_email_outbox_event_id_template",
    email_outbox.c.event_id,
    email_outbox.c.template,
    unique=True,
    postgresql_where=text("event_id IS NOT NULL"),
)
Index(
    "ix_email_outbox_pending",
    email_outbox.c.next_attempt_at,
    postgresql_where=text("status = 'pending'"),
)
# The confirmation-mail throttle (one per recipient per 10 minutes) looks only at these.
Index(
    "ix_email_outbox_confirmations",
    email_outbox.c.to_address,
    email_outbox.c.created_at,
    postgresql_where=text("template = 'lead_confirmation'"),
)

users = Table(
    "users",
    metadata,
    _id(),
    Column("email", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("role", Text, nullable=False),
    _fk("provider_id", "providers.id", nullable=True),
    Column("mfa_secret", Text, nullable=True),
    # Last accepted TOTP time step: a code is accepted once.
    Column("last_totp_step", BigInteger, nullable=True),
    Column("is_active", Boolean, nullable=False, server_default=text("true")),
    _created_at(),
    _updated_at(),
    CheckConstraint("role IN ('admin', 'provider')", name="role"),
    CheckConstraint(
        "role <> 'provider' OR provider_id IS NOT NULL", name="provider_user_has_provider"
    ),
)
Index("uq_users_email_lower", func.lower(users.c.email), unique=True)

sessions = Table(
    "sessions",
    metadata,
    _id(),
    _fk("user_id", "users.id"),
    Column("token_hash", Text, nullable=False, unique=True),
    _created_at(),
    Column("expires_at", TZ, nullable=False),
    Column("revoked_at", TZ, nullable=True),
)
Index("ix_sessions_user_id", sessions.c.user_id)

# --- Auth and abuse limits (SPEC §8): kept in PostgreSQL so they hold across processes. ---

mfa_challenges = Table(
    "mfa_challenges",
    metadata,
    _id(),
    _fk("user_id", "users.id"),
    Column("token_hash", Text, nullable=False, unique=True),
    _created_at(),
    Column("expires_at", TZ, nullable=False),
    Column("failed_attempts", Integer, nullable=False, server_default=text("0")),
    Column("used_at", TZ, nullable=True),
)
Index("ix_mfa_challenges_user_id", mfa_challenges.c.user_id)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    # Lower-cased e-mail as typed: unknown accounts are counted exactly like known ones.
    Column("account", Text, nullable=False),
    Column("client_address", Text, nullable=False),
    Column("at", TZ, nullable=False, server_default=text("now()")),
)
Index("ix_login_failures_client_address_at", login_failures.c.client_address, login_failures.c.at)
Index(
    "ix_login_failures_account_client_address_at",
    login_failures.c.account,
    login_failures.c.client_address,
    login_failures.c.at,
)

rate_limit_windows = Table(
    "rate_limit_windows",
    metadata,
    # Fixed windows: one counter row per (key, window start), e.g. intake per client address.
    Column("key", Text, primary_key=True),
    Column("window_start", TZ, primary_key=True),
    Column("hits", Integer, nullable=False),
)

# Facts recorded in the transaction that caused them; the worker's dispatcher turns each into
# its consumers' work (mails now, webhook deliveries later). Balances: see migration 0009.
outbox_events = Table(
    "outbox_events",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("topic", Text, nullable=False),
    Column("payload", JSONB, nullable=False),
    _created_at(),
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", TZ, nullable=False, server_default=text("now()")),
    Column("last_error", Text, nullable=True),
    Column("dispatched_at", TZ, nullable=True),
    CheckConstraint("status IN ('pending', 'dispatched', 'failed')", name="status"),
)
Index(
    "ix_outbox_events_pending",
    outbox_events.c.next_attempt_at,
    postgresql_where=text("status = 'pending'"),
)

# Webhooks (SPEC §10): a provider's endpoints, with the signing secret encrypted at rest.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    _id(),
    _fk("provider_id", "providers.id"),
    _fk("niche_id", "niches.id", nullable=True),
    Column("url", Text, nullable=False),
    Column("is_active", Boolean, nullable=False, server_default=text("true")),
    Column("secret_ciphertext", Text, nullable=False),
    # The secret a rotation replaced: it signs too until it expires.
    Column("previous_secret_ciphertext", Text, nullable=True),
    Column("previous_secret_expires_at", TZ, nullable=True),
    Column("consecutive_failures", Integer, nullable=False, server_default=text("0")),
    Column("disabled_at", TZ, nullable=True),
    Column("disabled_reason", Text, nullable=True),
    # Deleted endpoints stay (their deliveries name them), inactive and out of every list.
    Column("deleted_at", TZ, nullable=True),
    _created_at(),
    _updated_at(),
    CheckConstraint("length(url) <= 2048", name="url_length"),
    CheckConstraint("deleted_at IS NULL OR NOT is_active", name="deleted_inactive"),
)
# The sale's lookup: the active endpoints of the providers it sells to.
Index(
    "ix_webhook_endpoints_active_provider_id",
    webhook_endpoints.c.provider_id,
    postgresql_where=text("is_active"),
)
Index(
    "ix_webhook_endpoints_provider_id_created_at",
    webhook_endpoints.c.provider_id,
    webhook_endpoints.c.created_at,
)

# The webhook outbox: one row per (endpoint, assignment, event); ``lead.assigned`` rows are
# written by the sale itself (invariant 6). The body is fixed at the first attempt.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    # Time-ordered (migration 0013's ``leadflow_uuid7``): the sale's inserts append.
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("leadflow_uuid7()")),
    _fk("endpoint_id", "webhook_endpoints.id"),
    _fk("provider_id", "providers.id"),
    _fk("lead_id", "leads.id"),
    _fk("assignment_id", "lead_assignments.id"),
    Column("event", Text, nullable=False),
    _fk("return_id", "lead_returns.id", nullable=True),
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    Column("body", Text, nullable=True),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    # Attempts since the delivery was made or last redelivered: what the retry schedule counts.
    Column("round_attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", TZ, nullable=False, server_default=text("now()")),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    # The buyer said no (SPEC §10): its reason, and the return that filed.
    Column("buyer_reason", Text, nullable=True),
    _fk("filed_return_id", "lead_returns.id", nullable=True),
    _created_at(),
    Column("delivered_at", TZ, nullable=True),
    _updated_at(),
    # Leading with the assignment: it also serves the lookups by assignment.
    UniqueConstraint("assignment_id", "endpoint_id", "event"),
    CheckConstraint(
        "status IN ('pending', 'delivered', 'failed', 'rejected_by_buyer')", name="status"
    ),
    CheckConstraint("event IN ('lead.assigned', 'lead.returned')", name="event"),
    CheckConstraint(
        "(event = 'lead.returned') = (return_id IS NOT NULL)", name="returned_has_return"
    ),
)
Index(
    "ix_webhook_deliveries_pending",
    webhook_deliveries.c.endpoint_id,
    webhook_deliveries.c.next_attempt_at,
    postgresql_where=text("status = 'pending'"),
)
Index(
    "ix_webhook_deliveries_created_at_id",
    webhook_deliveries.c.created_at.desc(),
    webhook_deliveries.c.id,
)
Index(
    "ix_webhook_deliveries_provider_id_created_at",
    webhook_deliveries.c.provider_id,
    webhook_deliveries.c.created_at,
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    _fk("delivery_id", "webhook_deliveries.id"),
    Column("attempted_at", TZ, nullable=False, server_default=text("now()")),
    Column("outcome", Text, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("latency_ms", Integer, nullable=False),
    Column("error", Text, nullable=True),
    # The first 1 KiB of the reply.
    Column("response_excerpt", Text, nullable=True),
    CheckConstraint(
        "outcome IN ('delivered', 'rejected_by_buyer', 'retry', 'failed')", name="outcome"
    ),
)
Index(
    "ix_webhook_attempts_delivery_id_attempted_at",
    webhook_attempts.c.delivery_id,
    webhook_attempts.c.attempted_at,
)
