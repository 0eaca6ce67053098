"""Catalog use cases: create niches, levels, providers and subscriptions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from leadflow.db import audit, catalog
from leadflow.db.connection import Connection
from leadflow.db.errors import translated
from leadflow.domain.contact import (
    DEFAULT_DEDUPE_DAYS,
    DEFAULT_DUPLICATE_WINDOW_DAYS,
    DEFAULT_LEAD_TTL_HOURS,
    DEFAULT_REGION,
    check_days,
    check_region,
    check_ttl_hours,
)
from leadflow.domain.eligibility import normalize_postal_code, parse_filters
from leadflow.domain.errors import InvalidInput, NotFound, found
from leadflow.domain.limits import check_limit
from leadflow.domain.model import Actor, DistributionMode, ProviderStatus, SubscriptionStatus
from leadflow.domain.money import affords
from leadflow.domain.pricing import parse_overrides
from leadflow.domain.returns import (
    DEFAULT_RETURN_REASONS,
    DEFAULT_RETURN_WINDOW_HOURS,
    check_window_hours,
    clean_rate,
    clean_reasons,
)
from leadflow.domain.schedule import parse_schedule
from leadflow.domain.selection import DEFAULT_WEIGHT, check_weight
from leadflow.services import unsold

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
MAX_NAME = 200
MAX_POSTAL_CODES = 10_000
MAX_POSTAL_CODE_LENGTH = 16


def require_name(value: str, what: str = "name") -> str:
    value = value.strip()
    if not value or len(value) > MAX_NAME:
        raise InvalidInput(f"{what} must be 1..{MAX_NAME} characters")
    return value


def clean_postal_codes(codes: Sequence[str]) -> list[str]:
    """Normalized, de-duplicated, sorted postal codes; empty means everywhere."""
    if len(codes) > MAX_POSTAL_CODES:
        raise InvalidInput(f"at most {MAX_POSTAL_CODES} postal codes")
    cleaned = {normalize_postal_code(code) for code in codes}
    if any(not c or len(c) > MAX_POSTAL_CODE_LENGTH for c in cleaned):
        raise InvalidInput(f"postal codes must be 1..{MAX_POSTAL_CODE_LENGTH} characters")
    return sorted(cleaned)


def check_cap(value: int | None, what: str) -> int | None:
    if value is not None and (isinstance(value, bool) or value < 1):
        raise InvalidInput(f"{what} must be at least 1 (or absent for no cap)")
    return value


# A subscription's delivery rules (SPEC §12) by column, and how each is validated.
LIMIT_FIELDS = ("hourly_cap", "weekly_cap", "daily_budget_cents", "monthly_budget_cents")


def clean_rules(changes: dict[str, Any]) -> dict[str, Any]:
    """Validate the delivery rules among ``changes`` (in place: a schedule in its stored form)
    and return them; ``InvalidInput`` names the first bad one."""
    if "schedule" in changes:
        schedule = parse_schedule(changes["schedule"])
        changes["schedule"] = None if schedule is None else schedule.as_json()
    for name in LIMIT_FIELDS:
        if name in changes:
            check_limit(changes[name], name)
    if "weight" in changes:
        check_weight(changes["weight"])
    return changes


def clean_price_overrides(raw: object) -> list[dict[str, Any]]:
    """Validated price overrides (SPEC §12) in their stored form: prefixes normalized."""
    return [override.as_json() for override in parse_overrides(raw)]


def create_niche(
    tx: Connection,
    *,
    actor: Actor,
    slug: str,
    name: str,
    is_active: bool = True,
    require_confirmation: bool = False,
    distribution_mode: str = DistributionMode.ALL_LEVELS,
    return_window_hours: int = DEFAULT_RETURN_WINDOW_HOURS,
    return_reasons: Sequence[str] = DEFAULT_RETURN_REASONS,
    auto_approve_returns_under_rate: float | Decimal | None = None,
    resell_returned: bool = False,
    duplicate_window_days: int = DEFAULT_DUPLICATE_WINDOW_DAYS,
    require_consent: bool = False,
    lead_ttl_hours: int = DEFAULT_LEAD_TTL_HOURS,
    default_region: str = DEFAULT_REGION,
) -> catalog.NicheRecord:
    if not SLUG.match(slug):
        raise InvalidInput("slug must be lowercase letters, digits and dashes (1..64)")
    if distribution_mode not in set(DistributionMode):
        raise InvalidInput("distribution_mode must be all_levels or first_level")
    with translated():
        niche = catalog.insert_niche(
            tx,
            slug=slug,
            name=require_name(name),
            is_active=is_active,
            require_confirmation=require_confirmation,
            distribution_mode=distribution_mode,
            return_window_hours=check_window_hours(return_window_hours),
            return_reasons=clean_reasons(return_reasons),
            auto_approve_returns_under_rate=clean_rate(auto_approve_returns_under_rate),
            resell_returned=resell_returned,
            duplicate_window_days=check_days(duplicate_window_days, "duplicate_window_days"),
            require_consent=require_consent,
            lead_ttl_hours=check_ttl_hours(lead_ttl_hours),
            default_region=check_region(default_region),
        )
        audit.record(tx, actor, "niche.created", "niche", niche.id, {"slug": slug})
        return niche


def create_level(
    tx: Connection,
    *,
    actor: Actor,
    niche_id: UUID,
    name: str,
    order_position: int,
    max_recipients: int,
    price_per_lead_cents: int,
    is_active: bool = True,
    price_overrides: list[Any] | None = None,
) -> catalog.LevelRecord:
    overrides = clean_price_overrides(price_overrides if price_overrides is not None else [])
    if order_position < 1:
        raise InvalidInput("order_position must be at least 1")
    if max_recipients < 1:
        raise InvalidInput("max_recipients must be at least 1")
    if price_per_lead_cents < 0:
        raise InvalidInput("price_per_lead_cents must not be negative")
    with translated():
        if catalog.get_niche(tx, niche_id) is None:
            raise NotFound("niche", niche_id)
        level = catalog.insert_level(
            tx,
            niche_id=niche_id,
            name=require_name(name),
            order_position=order_position,
            max_recipients=max_recipients,
            price_per_lead_cents=price_per_lead_cents,
            is_active=is_active,
            price_overrides=overrides,
        )
        audit.record(
            tx, actor, "level.created", "competition_level", level.id, {"niche_id": str(niche_id)}
        )
        return level


def create_provider(
    tx: Connection,
    *,
    actor: Actor,
    name: str,
    email: str,
    status: str = ProviderStatus.ACTIVE,
    dedupe_days: int = DEFAULT_DEDUPE_DAYS,
) -> catalog.ProviderRecord:
    if status not in set(ProviderStatus):
        raise InvalidInput("status must be active or suspended")
    if "@" not in email or len(email) > 254:
        raise InvalidInput("email must be an e-mail address")
    with translated():
        provider = catalog.insert_provider(
            tx,
            name=require_name(name),
            email=email.strip(),
            status=status,
            dedupe_days=check_days(dedupe_days, "dedupe_days"),
        )
        audit.record(tx, actor, "provider.created", "provider", provider.id, {})
        return provider


def create_subscription(
    tx: Connection,
    *,
    actor: Actor,
    provider_id: UUID,
    competition_level_id: UUID,
    postal_codes: Sequence[str] = (),
    filters: list[Any] | None = None,
    daily_cap: int | None = None,
    monthly_cap: int | None = None,
    schedule: dict[str, Any] | None = None,
    hourly_cap: int | None = None,
    weekly_cap: int | None = None,
    daily_budget_cents: int | None = None,
    monthly_budget_cents: int | None = None,
    weight: int = DEFAULT_WEIGHT,
) -> catalog.SubscriptionRecord:
    """Subscribe a provider to a level; it starts ``paused_low_balance`` if the balance
    does not cover the level's price (SPEC §8). The delivery rules (SPEC §12) are validated
    like everything else before anything is written."""
    rules = parse_filters(filters if filters is not None else [])
    codes = clean_postal_codes(postal_codes)
    check_cap(daily_cap, "daily_cap")
    check_cap(monthly_cap, "monthly_cap")
    delivery = clean_rules(
        {
            "schedule": schedule,
            "hourly_cap": hourly_cap,
            "weekly_cap": weekly_cap,
            "daily_budget_cents": daily_budget_cents,
            "monthly_budget_cents": monthly_budget_cents,
            "weight": weight,
        }
    )
    with translated():
        provider = found(catalog.get_provider(tx, provider_id, lock=True), "provider", provider_id)
        level = found(
            catalog.get_level(tx, competition_level_id), "competition level", competition_level_id
        )
        affordable = affords(provider.balance_cents, level.price_per_lead_cents)
        subscription = catalog.insert_subscription(
            tx,
            provider_id=provider_id,
            competition_level_id=competition_level_id,
            status=SubscriptionStatus.ACTIVE
            if affordable
            else SubscriptionStatus.PAUSED_LOW_BALANCE,
            postal_codes=codes,
            filters=[rule.as_json() for rule in rules],
            daily_cap=daily_cap,
            monthly_cap=monthly_cap,
            rules=delivery,
        )
        audit.record(
            tx,
            actor,
            "subscription.created",
            "subscription",
            subscription.id,
            {"provider_id": str(provider_id), "competition_level_id": str(competition_level_id)},
        )
        if subscription.status == SubscriptionStatus.ACTIVE:
            unsold.capacity_may_have_returned(
                tx, reason="subscription_created", level_ids=[competition_level_id]
            )
        return subscription
