"""API schemas of the catalog: niches, levels, providers, deposits, ledger, subscriptions."""

from __future__ import annotations

import typing
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
    WithJsonSchema,
)

from leadflow.api.schemas.base import (
    INTEGRAL,
    MAX_TEXT,
    NO_NUL,
    NOT_BLANK,
    Body,
    Cents,
    ContactEmail,
    Count,
    FiniteNumber,
    JsonValue,
    Name,
    Omittable,
    Out,
    Text,
    clean_text,
)
from leadflow.domain.contact import (
    DEFAULT_DEDUPE_DAYS,
    DEFAULT_DUPLICATE_WINDOW_DAYS,
    DEFAULT_LEAD_TTL_HOURS,
    DEFAULT_REGION,
    MAX_LEAD_TTL_HOURS,
    MAX_WINDOW_DAYS,
    REGIONS,
)
from leadflow.domain.eligibility import MAX_FILTERS, MAX_IN_VALUES
from leadflow.domain.model import (
    DistributionMode,
    LedgerKind,
    ProviderStatus,
    SubscriptionStatus,
)
from leadflow.domain.money import MAX_ADJUSTMENT_CENTS, MAX_DEPOSIT_CENTS
from leadflow.domain.pricing import MAX_OVERRIDES, MAX_PREFIX_LENGTH, MAX_PRICE_CENTS
from leadflow.domain.returns import (
    DEFAULT_RETURN_REASONS,
    DEFAULT_RETURN_WINDOW_HOURS,
    MAX_REASONS,
    MAX_RETURN_WINDOW_HOURS,
)
from leadflow.domain.schedule import DAYS, MAX_INTERVALS_PER_DAY
from leadflow.domain.selection import DEFAULT_WEIGHT, MAX_WEIGHT, MIN_WEIGHT
from leadflow.services.auth import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from leadflow.services.billing import MAX_IDEMPOTENCY_KEY_LENGTH
from leadflow.services.catalog import SLUG

ReturnWindowHours = Annotated[StrictInt, Field(ge=0, le=MAX_RETURN_WINDOW_HOURS), INTEGRAL]
ReasonName = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$"), AfterValidator(clean_text)
]


def _distinct(reasons: list[str]) -> list[str]:
    if len(set(reasons)) != len(reasons):
        raise ValueError("must not repeat a reason")
    return reasons


ReturnReasons = Annotated[
    list[ReasonName],
    Field(min_length=1, max_length=MAX_REASONS, json_schema_extra={"uniqueItems": True}),
    AfterValidator(_distinct),
]
IdempotencyKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_IDEMPOTENCY_KEY_LENGTH, pattern=NO_NUL),
    AfterValidator(clean_text),
]
WindowDays = Annotated[
    StrictInt, Field(ge=0, le=MAX_WINDOW_DAYS, description="0 turns it off."), INTEGRAL
]
LeadTtlHours = Annotated[StrictInt, Field(ge=1, le=MAX_LEAD_TTL_HOURS), INTEGRAL]


def _known_region(value: str) -> str:
    if value not in REGIONS:
        raise ValueError("must be a two-letter region code such as US or GB")
    return value


Region = Annotated[
    str,
    AfterValidator(_known_region),
    WithJsonSchema(
        {
            "type": "string",
            "enum": sorted(REGIONS),
            "description": "Two-letter region (ISO 3166-1) a phone without `+` is read in.",
        }
    ),
]
# A share 0..1 (a JSON number; true/false refused).
Share = Annotated[float, Field(strict=True, ge=0, le=1, allow_inf_nan=False)]


class PriceOverride(Body):
    """The price of a lead whose postal code starts with ``postal_prefix`` (the longest wins)."""

    postal_prefix: Annotated[
        str,
        StringConstraints(
            min_length=1,
            max_length=MAX_PREFIX_LENGTH,
            pattern=r"^[A-Za-z0-9 -]*[A-Za-z0-9][A-Za-z0-9 -]*$",
        ),
    ]
    price_cents: Annotated[StrictInt, Field(ge=0, le=MAX_PRICE_CENTS), INTEGRAL]


PriceOverrides = Annotated[
    list[PriceOverride],
    Field(
        max_length=MAX_OVERRIDES,
        description="Prices by postal-code prefix; the longest matching prefix wins (SPEC §12).",
    ),
]


class LevelOut(Out):
    id: UUID
    niche_id: UUID
    name: str
    order_position: int
    max_recipients: int
    price_per_lead_cents: int
    is_active: bool
    price_overrides: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime


class NicheOut(Out):
    id: UUID
    slug: str
    name: str
    is_active: bool
    require_confirmation: bool
    distribution_mode: DistributionMode
    next_start_level_order_position: int
    return_window_hours: int
    return_reasons: list[str]
    auto_approve_returns_under_rate: float | None
    resell_returned: bool
    duplicate_window_days: int
    require_consent: bool
    lead_ttl_hours: int
    default_region: str
    created_at: datetime
    updated_at: datetime


class NicheDetailOut(NicheOut):
    levels: list[LevelOut]


class NicheIn(Body):
    slug: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=SLUG.pattern)]
    name: Name
    is_active: StrictBool = True
    require_confirmation: StrictBool = False
    distribution_mode: DistributionMode = DistributionMode.ALL_LEVELS
    return_window_hours: ReturnWindowHours = DEFAULT_RETURN_WINDOW_HOURS
    return_reasons: ReturnReasons = list(DEFAULT_RETURN_REASONS)
    auto_approve_returns_under_rate: Share | None = None
    resell_returned: StrictBool = False
    duplicate_window_days: WindowDays = DEFAULT_DUPLICATE_WINDOW_DAYS
    require_consent: StrictBool = False
    lead_ttl_hours: LeadTtlHours = DEFAULT_LEAD_TTL_HOURS
    default_region: Region = DEFAULT_REGION

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "slug": "movers",
                    "name": "Movers",
                    "require_confirmation": False,
                    "return_window_hours": 72,
                    "auto_approve_returns_under_rate": 0.1,
                }
            ]
        },
    )


class NichePatch(Body):
    name: Omittable[Name] = None
    is_active: Omittable[StrictBool] = None
    require_confirmation: Omittable[StrictBool] = None
    distribution_mode: Omittable[DistributionMode] = None
    return_window_hours: Omittable[ReturnWindowHours] = None
    return_reasons: Omittable[ReturnReasons] = None
    auto_approve_returns_under_rate: Share | None = Field(
        default=None, description="null turns auto-approval off."
    )
    resell_returned: Omittable[StrictBool] = None
    duplicate_window_days: Omittable[WindowDays] = None
    require_consent: Omittable[StrictBool] = None
    lead_ttl_hours: Omittable[LeadTtlHours] = None
    default_region: Omittable[Region] = None

    model_config = ConfigDict(json_schema_extra={"examples": [{"is_active": False}]})


class LevelIn(Body):
    name: Name
    order_position: Count
    max_recipients: Count
    price_per_lead_cents: Cents
    is_active: StrictBool = True
    price_overrides: PriceOverrides = []

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Gold",
                    "order_position": 1,
                    "max_recipients": 1,
                    "price_per_lead_cents": 4900,
                    "price_overrides": [{"postal_prefix": "100", "price_cents": 5900}],
                }
            ]
        },
    )


class LevelPatch(Body):
    name: Omittable[Name] = None
    order_position: Omittable[Count] = None
    max_recipients: Omittable[Count] = None
    price_per_lead_cents: Omittable[Cents] = None
    is_active: Omittable[StrictBool] = None
    price_overrides: Omittable[PriceOverrides] = None

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"price_per_lead_cents": 5900}]},
    )


class SubscriptionOut(Out):
    id: UUID
    provider_id: UUID
    competition_level_id: UUID
    status: SubscriptionStatus
    last_received_at: datetime | None
    postal_codes: list[str]
    filters: list[dict[str, Any]]
    daily_cap: int | None
    monthly_cap: int | None
    schedule: dict[str, Any] | None
    hourly_cap: int | None
    weekly_cap: int | None
    daily_budget_cents: int | None
    monthly_budget_cents: int | None
    weight: int
    created_at: datetime
    updated_at: datetime


class ProviderOut(Out):
    id: UUID
    name: str
    email: str
    status: ProviderStatus
    balance_cents: int
    dedupe_days: int
    created_at: datetime
    updated_at: datetime


class ProviderDetailOut(ProviderOut):
    subscriptions: list[SubscriptionOut]


PortalPassword = Annotated[
    str,
    StringConstraints(
        min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH, pattern=NO_NUL
    ),
    AfterValidator(clean_text),
]


class ProviderIn(Body):
    name: Name
    email: ContactEmail
    status: ProviderStatus = ProviderStatus.ACTIVE
    password: PortalPassword | None = Field(
        default=None, description="Creates the provider's login (same e-mail)."
    )
    dedupe_days: Annotated[
        WindowDays,
        Field(description="Never sold the same consumer twice within these days (0: off)."),
    ] = DEFAULT_DEDUPE_DAYS

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "Acme Movers", "email": "ops@acme.example", "password": "portal-pass"}
            ]
        },
    )


class ProviderPatch(Body):
    name: Omittable[Name] = None
    email: Omittable[ContactEmail] = None
    status: Omittable[ProviderStatus] = Field(
        default=None, description="``suspended`` revokes the provider users' access tokens."
    )
    dedupe_days: Omittable[WindowDays] = None

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "suspended"}]})


class DepositIn(Body):
    amount_cents: Annotated[StrictInt, Field(ge=1, le=MAX_DEPOSIT_CENTS), INTEGRAL]
    idempotency_key: IdempotencyKey | None = None
    note: Text | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"amount_cents": 50000, "idempotency_key": "wire-2026-001"}]
        },
    )


class DepositOut(Out):
    ledger_entry_id: UUID
    balance_cents: int


def _not_zero(value: int) -> int:
    if value == 0:
        raise ValueError("must not be 0")
    return value


class AdjustmentIn(Body):
    amount_cents: Annotated[
        StrictInt,
        Field(
            ge=-MAX_ADJUSTMENT_CENTS,
            le=MAX_ADJUSTMENT_CENTS,
            description="Signed: a credit (> 0) or a debit (< 0), never 0.",
            json_schema_extra={"not": {"const": 0}},
        ),
        INTEGRAL,
        AfterValidator(_not_zero),
    ]
    reason: Annotated[
        str,
        StringConstraints(min_length=1, max_length=MAX_TEXT, pattern=NOT_BLANK),
        AfterValidator(clean_text),
    ]
    idempotency_key: IdempotencyKey | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"amount_cents": -1500, "reason": "duplicate deposit", "idempotency_key": "adj-7"}
            ]
        },
    )


class LedgerEntryOut(Out):
    id: UUID
    amount_cents: int
    balance_after_cents: int
    kind: LedgerKind
    assignment_id: UUID | None
    idempotency_key: str | None
    note: str | None
    created_at: datetime


class AdjustmentOut(Out):
    ledger_entry_id: UUID
    balance_cents: int
    ledger_entry: LedgerEntryOut


# Postal codes compare without blanks and case (``sw1a 1aa`` = ``SW1A1AA``), and a lead's is
# letters, digits, blanks and dashes; a code with other characters could never match one.
PostalCode = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=16, pattern=r"^[A-Za-z0-9 -]*[A-Za-z0-9][A-Za-z0-9 -]*$"
    ),
]
# A request body holds at most 64 KiB: that many full-length codes fit, with room to spare.
MAX_POSTAL_CODES = 3000
PostalCodes = Annotated[list[PostalCode], Field(max_length=MAX_POSTAL_CODES)]
AttributeName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_TEXT, pattern=NOT_BLANK),
    AfterValidator(clean_text),
]


class _Rule(Body):
    field: AttributeName = Field(description="The lead attribute the rule reads.")


class EqRule(_Rule):
    """The attribute equals ``value`` (JSON equality; another type does not match)."""

    op: Literal["eq"]
    value: JsonValue


class InRule(_Rule):
    """The attribute equals one of ``value``."""

    op: Literal["in"]
    value: Annotated[list[JsonValue], Field(min_length=1, max_length=MAX_IN_VALUES)]


class BoundRule(_Rule):
    """The attribute is a number at least (``gte``) or at most (``lte``) ``value``."""

    op: Literal["gte", "lte"]
    value: FiniteNumber


class BetweenRule(_Rule):
    """The attribute is a number within ``[low, high]``, both included; ``low <= high``."""

    op: Literal["between"]
    value: Annotated[list[FiniteNumber], Field(min_length=2, max_length=2)]


FilterRule = Annotated[EqRule | InRule | BoundRule | BetweenRule, Field(discriminator="op")]
Filters = Annotated[list[FilterRule], Field(max_length=MAX_FILTERS)]


ClockTime = Annotated[
    str,
    StringConstraints(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"),
    Field(description="Wall-clock time HH:MM in the schedule's zone; 24:00 ends a day."),
]
Interval = Annotated[
    list[ClockTime],
    Field(min_length=2, max_length=2, description="[start, end): start before end."),
]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
assert typing.get_args(Day) == DAYS, "the API's days are the schedule's"


class Schedule(Body):
    """Business hours (SPEC §12): a lead is a candidate only within them, on the zone's clock;
    a day not listed is closed. Intervals of a day must not overlap."""

    timezone: Annotated[
        str,
        StringConstraints(min_length=1, max_length=64, pattern=NO_NUL),
        Field(description="An IANA time zone, e.g. America/New_York."),
    ]
    hours: Annotated[
        dict[Day, Annotated[list[Interval], Field(max_length=MAX_INTERVALS_PER_DAY)]],
        Field(max_length=7),
    ]


Weight = Annotated[StrictInt, Field(ge=MIN_WEIGHT, le=MAX_WEIGHT), INTEGRAL]
LimitCount = Annotated[Count | None, Field(description="null: no limit.")]
LimitCents = Annotated[
    Annotated[StrictInt, Field(ge=1, le=MAX_DEPOSIT_CENTS), INTEGRAL] | None,
    Field(description="Spend in cents; null: no budget."),
]


class SubscriptionIn(Body):
    provider_id: UUID
    competition_level_id: UUID
    postal_codes: PostalCodes = []
    filters: Filters = []
    daily_cap: Count | None = Field(default=None, description="null: no daily cap.")
    monthly_cap: Count | None = Field(default=None, description="null: no monthly cap.")
    schedule: Schedule | None = Field(default=None, description="null: always open.")
    hourly_cap: LimitCount = None
    weekly_cap: LimitCount = None
    daily_budget_cents: LimitCents = None
    monthly_budget_cents: LimitCents = None
    weight: Weight = Field(
        default=DEFAULT_WEIGHT, description="Share of the level's leads when weights differ."
    )

    model_config = ConfigDict(
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
    status: Omittable[SubscriptionStatus] = None
    postal_codes: Omittable[PostalCodes] = None
    filters: Omittable[Filters] = None
    daily_cap: Count | None = Field(default=None, description="null removes the cap.")
    monthly_cap: Count | None = Field(default=None, description="null removes the cap.")
    schedule: Schedule | None = Field(default=None, description="null removes the schedule.")
    hourly_cap: LimitCount = None
    weekly_cap: LimitCount = None
    daily_budget_cents: LimitCents = None
    monthly_budget_cents: LimitCents = None
    weight: Omittable[Weight] = None

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "paused", "daily_cap": 5}]},
    )
