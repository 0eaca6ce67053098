"""Admin use cases over the catalog beyond creation: lists, details, partial updates,
provider logins and ledgers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from leadflow.db import audit, catalog, subscription_views
from leadflow.db import auth as auth_db
from leadflow.db import catalog_admin as db
from leadflow.db.connection import Connection
from leadflow.db.errors import translated
from leadflow.db.ledger import LedgerEntryRecord
from leadflow.domain.contact import (
    DEFAULT_DEDUPE_DAYS,
    check_days,
    check_region,
    check_ttl_hours,
)
from leadflow.domain.eligibility import parse_filters
from leadflow.domain.errors import InvalidInput, NotFound, found
from leadflow.domain.model import Actor, DistributionMode, ProviderStatus, SubscriptionStatus
from leadflow.domain.money import affords
from leadflow.domain.returns import check_window_hours, clean_rate, clean_reasons
from leadflow.services import auth, unsold
from leadflow.services.catalog import (
    check_cap,
    clean_postal_codes,
    clean_price_overrides,
    clean_rules,
    require_name,
)
from leadflow.services.pages import Cursor, KeysetPage, Page, PageRequest, Stamped, keyset_page


@dataclass(frozen=True, slots=True)
class NicheDetail:
    niche: catalog.NicheRecord
    levels: list[catalog.LevelRecord]


@dataclass(frozen=True, slots=True)
class ProviderDetail:
    provider: catalog.ProviderRecord
    subscriptions: list[catalog.SubscriptionRecord]
    has_login: bool = False


def list_niches(tx: Connection, *, page: PageRequest) -> Page[catalog.NicheRecord]:
    total, items = db.list_niches(tx, limit=page.limit, offset=page.offset)
    return Page.of(page, total, items)


def get_niche(tx: Connection, *, niche_id: UUID) -> NicheDetail:
    niche = found(catalog.get_niche(tx, niche_id), "niche", niche_id)
    return NicheDetail(niche=niche, levels=catalog.list_levels(tx, niche_id))


def update_niche(
    tx: Connection, *, actor: Actor, niche_id: UUID, changes: Mapping[str, Any]
) -> NicheDetail:
    changes = dict(changes)
    _no_nulls(
        changes,
        "name",
        "is_active",
        "require_confirmation",
        "distribution_mode",
        "return_window_hours",
        "return_reasons",
        "resell_returned",
        "duplicate_window_days",
        "require_consent",
        "lead_ttl_hours",
        "default_region",
    )
    if "duplicate_window_days" in changes:
        check_days(changes["duplicate_window_days"], "duplicate_window_days")
    if "lead_ttl_hours" in changes:
        check_ttl_hours(changes["lead_ttl_hours"])
    if "default_region" in changes:
        check_region(changes["default_region"])
    if "name" in changes:
        changes["name"] = require_name(changes["name"])
    if "return_window_hours" in changes:
        check_window_hours(changes["return_window_hours"])
    if "return_reasons" in changes:
        changes["return_reasons"] = clean_reasons(changes["return_reasons"])
    if "auto_approve_returns_under_rate" in changes:
        changes["auto_approve_returns_under_rate"] = clean_rate(
            changes["auto_approve_returns_under_rate"]
        )
    if "distribution_mode" in changes and changes["distribution_mode"] not in set(DistributionMode):
        raise InvalidInput("distribution_mode must be all_levels or first_level")
    with translated():
        niche = (
            db.update(tx, "niches", niche_id, changes, catalog.NicheRecord)
            if changes
            else catalog.get_niche(tx, niche_id)
        )
        if niche is None:
            raise NotFound("niche", niche_id)
        if niche.is_active and changes.keys() & {"is_active", "distribution_mode"}:
            unsold.capacity_may_have_returned(tx, reason="niche_updated", niche_ids=[niche_id])
        audit.record(tx, actor, "niche.updated", "niche", niche_id, {"changes": _jsonable(changes)})
        return NicheDetail(niche=niche, levels=catalog.list_levels(tx, niche_id))


def update_level(
    tx: Connection, *, actor: Actor, level_id: UUID, changes: Mapping[str, Any]
) -> catalog.LevelRecord:
    """Change a level. A new price does not re-evaluate subscriptions by itself (SPEC §8)."""
    changes = dict(changes)
    _no_nulls(
        changes,
        "name",
        "order_position",
        "max_recipients",
        "price_per_lead_cents",
        "is_active",
        "price_overrides",
    )
    if "price_overrides" in changes:
        changes["price_overrides"] = clean_price_overrides(changes["price_overrides"])
    if "name" in changes:
        changes["name"] = require_name(changes["name"])
    if changes.get("order_position", 1) < 1:
        raise InvalidInput("order_position must be at least 1")
    if changes.get("max_recipients", 1) < 1:
        raise InvalidInput("max_recipients must be at least 1")
    if changes.get("price_per_lead_cents", 0) < 0:
        raise InvalidInput("price_per_lead_cents must not be negative")
    with translated():
        level = (
            db.update(tx, "competition_levels", level_id, changes, catalog.LevelRecord)
            if changes
            else db.get_level(tx, level_id)
        )
        if level is None:
            raise NotFound("competition level", level_id)
        if level.is_active and changes.keys() & {
            "is_active",
            "max_recipients",
            "price_per_lead_cents",
            "price_overrides",
        }:
            unsold.capacity_may_have_returned(tx, reason="level_updated", level_ids=[level_id])
        audit.record(
            tx,
            actor,
            "level.updated",
            "competition_level",
            level_id,
            {"changes": _jsonable(changes)},
        )
        return level


def register_provider(
    tx: Connection,
    *,
    actor: Actor,
    passwords: auth.Passwords,
    name: str,
    email: str,
    status: str = ProviderStatus.ACTIVE,
    password: str | None = None,
    dedupe_days: int = DEFAULT_DEDUPE_DAYS,
) -> ProviderDetail:
    """Create a provider; with a password, also the provider's login (same e-mail)."""
    if status not in set(ProviderStatus):
        raise InvalidInput("status must be active or suspended")
    email = auth.check_email(email)
    password_hash = (
        None if password is None else passwords.hash(auth.check_password_rules(password))
    )
    with translated():
        provider = catalog.insert_provider(
            tx,
            name=require_name(name),
            email=email,
            status=status,
            dedupe_days=check_days(dedupe_days, "dedupe_days"),
        )
        if password_hash is not None:
            auth.create_provider_user(
                tx, provider_id=provider.id, email=email, password_hash=password_hash
            )
        audit.record(
            tx,
            actor,
            "provider.created",
            "provider",
            provider.id,
            {"login": password_hash is not None},
        )
        return ProviderDetail(
            provider=provider, subscriptions=[], has_login=password_hash is not None
        )


def list_providers(
    tx: Connection, *, status: str | None, page: PageRequest
) -> Page[catalog.ProviderRecord]:
    if status is not None and status not in set(ProviderStatus):
        raise InvalidInput("status must be active or suspended")
    total, items = db.list_providers(tx, status=status, limit=page.limit, offset=page.offset)
    return Page.of(page, total, items)


def get_provider(tx: Connection, *, provider_id: UUID) -> ProviderDetail:
    provider = found(catalog.get_provider(tx, provider_id), "provider", provider_id)
    return ProviderDetail(
        provider=provider, subscriptions=db.provider_subscriptions(tx, provider_id)
    )


def update_provider(
    tx: Connection, *, actor: Actor, provider_id: UUID, changes: Mapping[str, Any]
) -> ProviderDetail:
    """Change a provider; suspending one revokes every access token of its users."""
    changes = dict(changes)
    _no_nulls(changes, "name", "email", "status", "dedupe_days")
    if "dedupe_days" in changes:
        check_days(changes["dedupe_days"], "dedupe_days")
    if "name" in changes:
        changes["name"] = require_name(changes["name"])
    if "email" in changes:
        changes["email"] = auth.check_email(changes["email"])
    if "status" in changes and changes["status"] not in set(ProviderStatus):
        raise InvalidInput("status must be active or suspended")
    with translated():
        before = catalog.get_provider(tx, provider_id, lock=True)
        if before is None:
            raise NotFound("provider", provider_id)
        provider = (
            db.update(tx, "providers", provider_id, changes, catalog.ProviderRecord)
            if changes
            else None
        )
        provider = provider or catalog.get_provider(tx, provider_id)
        assert provider is not None
        revoked = 0
        if provider.status == ProviderStatus.SUSPENDED:
            revoked = auth_db.revoke_provider_sessions(tx, provider_id)
        elif before.status == ProviderStatus.SUSPENDED:
            unsold.capacity_may_have_returned(
                tx, reason="provider_reactivated", provider_ids=[provider_id]
            )
        audit.record(
            tx,
            actor,
            "provider.updated",
            "provider",
            provider_id,
            {"changes": _jsonable(changes), "revoked_sessions": revoked},
        )
        return ProviderDetail(
            provider=provider, subscriptions=db.provider_subscriptions(tx, provider_id)
        )


def list_ledger(tx: Connection, *, provider_id: UUID, page: PageRequest) -> Page[LedgerEntryRecord]:
    if catalog.get_provider(tx, provider_id) is None:
        raise NotFound("provider", provider_id)
    total, items = db.list_ledger(tx, provider_id, limit=page.limit, offset=page.offset)
    return Page.of(page, total, items)


def ledger_from(
    tx: Connection, *, provider_id: UUID, cursor: Cursor[int] | None, limit: int
) -> KeysetPage[LedgerEntryRecord, int]:
    """A provider's ledger by keyset (newest first, ``seq DESC``): the page next to ``cursor``,
    or the first."""
    if catalog.get_provider(tx, provider_id) is None:
        raise NotFound("provider", provider_id)
    return keyset_page(
        cursor,
        limit,
        lambda after, newer, n: db.ledger_from(tx, provider_id, after=after, newer=newer, limit=n),
        key=lambda entry: entry.seq,
        total=db.count_ledger(tx, provider_id),
    )


def get_subscription(tx: Connection, *, subscription_id: UUID) -> catalog.SubscriptionRecord:
    subscription = found(db.get_subscription(tx, subscription_id), "subscription", subscription_id)
    return subscription


def update_subscription(
    tx: Connection,
    *,
    actor: Actor,
    subscription_id: UUID,
    changes: Mapping[str, Any],
) -> catalog.SubscriptionRecord:
    """Change status, postal codes, filters, caps or delivery rules (schedule, budgets, weight),
    validated as on create. Setting ``active`` on a subscription whose provider cannot pay the
    level's price gives ``paused_low_balance``."""
    changes = dict(changes)
    _no_nulls(changes, "status", "postal_codes", "filters", "weight")
    clean_rules(changes)
    if "filters" in changes:
        changes["filters"] = [rule.as_json() for rule in parse_filters(changes["filters"])]
    if "postal_codes" in changes:
        changes["postal_codes"] = clean_postal_codes(changes["postal_codes"])
    for cap in ("daily_cap", "monthly_cap"):
        if cap in changes:
            check_cap(changes[cap], cap)
    if "status" in changes and changes["status"] not in set(SubscriptionStatus):
        raise InvalidInput("status must be active, paused, paused_low_balance or cancelled")
    with translated():
        current = found(db.get_subscription(tx, subscription_id), "subscription", subscription_id)
        # Lock order as everywhere: the provider first, then its subscription.
        provider = catalog.get_provider(tx, current.provider_id, lock=True)
        level = catalog.get_level(tx, current.competition_level_id)
        assert provider is not None and level is not None
        if changes.get("status") == SubscriptionStatus.ACTIVE and not affords(
            provider.balance_cents, level.price_per_lead_cents
        ):
            changes["status"] = SubscriptionStatus.PAUSED_LOW_BALANCE
        subscription = (
            db.update(tx, "subscriptions", subscription_id, changes, catalog.SubscriptionRecord)
            if changes
            else current
        )
        assert subscription is not None
        if subscription.status == SubscriptionStatus.ACTIVE and (
            current.status != SubscriptionStatus.ACTIVE or changes.keys() & _WIDENING
        ):
            unsold.capacity_may_have_returned(
                tx, reason="subscription_updated", subscription_ids=[subscription_id]
            )
        audit.record(
            tx,
            actor,
            "subscription.updated",
            "subscription",
            subscription_id,
            {"changes": _jsonable(changes)},
        )
        return subscription


# Edits of an active subscription that may let it take leads it could not take before.
_WIDENING = frozenset(
    {
        "postal_codes",
        "filters",
        "schedule",
        "hourly_cap",
        "daily_cap",
        "weekly_cap",
        "monthly_cap",
        "daily_budget_cents",
        "monthly_budget_cents",
    }
)


def _no_nulls(changes: Mapping[str, Any], *fields: str) -> None:
    for name in fields:
        if name in changes and changes[name] is None:
            raise InvalidInput(f"{name} must not be null")


def _jsonable(changes: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, UUID | Decimal) else v) for k, v in changes.items()}


def list_subscriptions(
    tx: Connection,
    *,
    provider_id: UUID | None,
    level_id: UUID | None,
    niche_id: UUID | None,
    status: str | None,
    page: PageRequest,
) -> Page[subscription_views.SubscriptionView]:
    """Subscriptions with their provider, level and niche, by any of those and by status."""
    if status is not None and status not in set(SubscriptionStatus):
        raise InvalidInput("status must be active, paused, paused_low_balance or cancelled")
    total, items = subscription_views.list_subscription_views(
        tx,
        provider_id=provider_id,
        level_id=level_id,
        niche_id=niche_id,
        status=status,
        limit=page.limit,
        offset=page.offset,
    )
    return Page.of(page, total, items)


def subscriptions_from(
    tx: Connection,
    *,
    provider_id: UUID | None,
    level_id: UUID | None,
    niche_id: UUID | None,
    status: str | None,
    cursor: Cursor[Stamped] | None,
    limit: int,
) -> KeysetPage[subscription_views.SubscriptionView, Stamped]:
    """The subscriptions list by keyset (newest first): the page next to ``cursor``, or the
    first."""
    if status is not None and status not in set(SubscriptionStatus):
        raise InvalidInput("status must be active, paused, paused_low_balance or cancelled")
    return keyset_page(
        cursor,
        limit,
        lambda after, newer, n: subscription_views.subscription_views_from(
            tx,
            provider_id=provider_id,
            level_id=level_id,
            niche_id=niche_id,
            status=status,
            after=after,
            newer=newer,
            limit=n,
        ),
        key=lambda sub: (sub.created_at, sub.id),
        total=subscription_views.count_subscription_views(
            tx, provider_id=provider_id, level_id=level_id, niche_id=niche_id, status=status
        ),
    )
