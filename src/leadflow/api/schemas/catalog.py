"""API schemas of the catalog: niches, levels, providers, deposits, ledger, subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
)

from leadflow.api.schemas.base import (
    Body,
    Cents,
    Count,
    Email,
    JsonList,
    Name,
    Out,
    Password,
    Text,
    clean_text,
)
from leadflow.domain.money import MAX_DEPOSIT_CENTS


class LevelOut(Out):
    id: UUID
    niche_id: UUID
    name: str
    order_position: int
    max_recipients: int
    price_per_lead_cents: int
    is_active: bool
    created_at: datetime
    updated_at: datetime


class NicheOut(Out):
    id: UUID
    slug: str
    name: str
    is_active: bool
    require_confirmation: bool
    distribution_mode: str
    next_start_level_order_position: int
    created_at: datetime
    updated_at: datetime


class NicheDetailOut(NicheOut):
    levels: list[LevelOut]


class NicheIn(Body):
    slug: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    name: Name
    is_active: StrictBool = True
    require_confirmation: StrictBool = False
    distribution_mode: Literal["all_levels", "first_level"] = "all_levels"

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"slug": "movers", "name": "Movers", "require_confirmation": False}]
        },
    )


class NichePatch(Body):
    name: Name | None = None
    is_active: StrictBool | None = None
    require_confirmation: StrictBool | None = None
    distribution_mode: Literal["all_levels", "first_level"] | None = None


class LevelIn(Body):
    name: Name
    order_position: Count
    max_recipients: Count
    price_per_lead_cents: Cents
    is_active: StrictBool = True

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Gold",
                    "order_position": 1,
                    "max_recipients": 1,
                    "price_per_lead_cents": 4900,
                }
            ]
        },
    )


class LevelPatch(Body):
    name: Name | None = None
    order_position: Count | None = None
    max_recipients: Count | None = None
    price_per_lead_cents: Cents | None = None
    is_active: StrictBool | None = None


class SubscriptionOut(Out):
    id: UUID
    provider_id: UUID
    competition_level_id: UUID
    status: str
    last_received_at: datetime | None
    postal_codes: list[str]
    filters: list[Any]
    daily_cap: int | None
    monthly_cap: int | None
    created_at: datetime
    updated_at: datetime


class ProviderOut(Out):
    id: UUID
    name: str
    email: str
    status: str
    balance_cents: int
    created_at: datetime
    updated_at: datetime


class ProviderDetailOut(ProviderOut):
    subscriptions: list[SubscriptionOut]


class ProviderIn(Body):
    name: Name
    email: Email
    status: Literal["active", "suspended"] = "active"
    password: Password | None = Field(
        default=None, description="Creates the provider's login (same e-mail)."
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "Acme Movers", "email": "ops@acme.example", "password": "portal-pass"}
            ]
        },
    )


class ProviderPatch(Body):
    name: Name | None = None
    email: Email | None = None
    status: Literal["active", "suspended"] | None = None


class DepositIn(Body):
    amount_cents: Annotated[StrictInt, Field(gt=0, le=MAX_DEPOSIT_CENTS)]
    idempotency_key: (
        Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(clean_text)]
        | None
    ) = None
    note: Text | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"amount_cents": 50000, "idempotency_key": "wire-2026-001"}]
        },
    )


class DepositOut(Out):
    ledger_entry_id: UUID
    balance_cents: int


class LedgerEntryOut(Out):
    id: UUID
    amount_cents: int
    balance_after_cents: int
    kind: str
    assignment_id: UUID | None
    idempotency_key: str | None
    note: str | None
    created_at: datetime


PostalCode = Annotated[
    str, StringConstraints(min_length=1, max_length=16), AfterValidator(clean_text)
]


class SubscriptionIn(Body):
    provider_id: UUID
    competition_level_id: UUID
    postal_codes: Annotated[list[PostalCode], Field(max_length=10_000)] = []
    filters: JsonList = []
    daily_cap: Count | None = None
    monthly_cap: Count | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "provider_id": "00000000-0000-0000-0000-000000000001",
                    "competition_level_id": "00000000-0000-0000-0000-000000000002",
                    "postal_codes": ["10001"],
                    "filters": [{"field": "rooms", "op": "gte", "value": 2}],
                    "daily_cap": 10,
                }
            ]
        },
    )


class SubscriptionPatch(Body):
    status: Literal["active", "paused", "paused_low_balance", "cancelled"] | None = None
    postal_codes: Annotated[list[PostalCode], Field(max_length=10_000)] | None = None
    filters: JsonList | None = None
    daily_cap: Count | None = None
    monthly_cap: Count | None = None
