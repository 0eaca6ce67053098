"""API schemas (Pydantic), separate from tables and domain records.

Every string is at most 1,000 characters and free of NUL; integers are bounded so that no
value can overflow a column; unknown fields are refused.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
)

from leadflow.domain.money import MAX_DEPOSIT_CENTS

MAX_TEXT = 1000
MAX_INT = 1_000_000_000


def _clean_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode") from exc
    return value


def check_json_strings(value: Any) -> Any:
    """Every string inside a JSON value obeys the ``Text`` rules; numbers are finite."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite (no NaN or Infinity)")
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise ValueError(f"strings must be at most {MAX_TEXT} characters")
        _clean_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_json_strings(key)
            check_json_strings(item)
    elif isinstance(value, list):
        for item in value:
            check_json_strings(item)
    return value


Text = Annotated[str, StringConstraints(max_length=MAX_TEXT), AfterValidator(_clean_text)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_clean_text)]
Email = Annotated[str, StringConstraints(min_length=3, max_length=254), AfterValidator(_clean_text)]
Password = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_TEXT), AfterValidator(_clean_text)
]
Count = Annotated[StrictInt, Field(ge=1, le=MAX_INT)]
Cents = Annotated[StrictInt, Field(ge=0, le=MAX_DEPOSIT_CENTS)]
JsonObject = Annotated[dict[str, Any], AfterValidator(check_json_strings)]
JsonList = Annotated[list[Any], AfterValidator(check_json_strings)]

T = TypeVar("T")


class Body(BaseModel):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PageOut(Out, Generic[T]):
    page: int
    limit: int
    total: int
    items: list[T]


# --- auth -----------------------------------------------------------------------------------


class LoginIn(Body):
    email: Email
    password: Password

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"email": "admin@example.com", "password": "s3cret-pass"}]},
    )


class LoginOut(Out):
    mfa_required: bool
    mfa_token: str | None = None
    access_token: str | None = None
    token_type: str | None = None
    expires_at: datetime | None = None


class MfaIn(Body):
    mfa_token: Text
    code: Annotated[str, StringConstraints(min_length=1, max_length=12)]

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"mfa_token": "…", "code": "123456"}]}
    )


class TokenOut(Out):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime


# --- catalog --------------------------------------------------------------------------------


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
        Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_clean_text)]
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
    str, StringConstraints(min_length=1, max_length=16), AfterValidator(_clean_text)
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


# --- leads ----------------------------------------------------------------------------------


class LeadIn(Body):
    niche: Annotated[
        str, StringConstraints(min_length=1, max_length=64), AfterValidator(_clean_text)
    ]
    name: Name
    email: Email
    phone: Annotated[
        str, StringConstraints(min_length=1, max_length=40), AfterValidator(_clean_text)
    ]
    postal_code: Annotated[
        str, StringConstraints(min_length=1, max_length=16), AfterValidator(_clean_text)
    ]
    attributes: JsonObject = {}

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "niche": "movers",
                    "name": "Jane Doe",
                    "email": "jane@example.com",
                    "phone": "+1 212 555 0100",
                    "postal_code": "10001",
                    "attributes": {"rooms": 3},
                }
            ]
        },
    )


class LeadCreatedOut(Out):
    id: UUID
    status: str


class ConfirmIn(Body):
    token: Annotated[
        str, StringConstraints(min_length=1, max_length=MAX_TEXT), AfterValidator(_clean_text)
    ]


class LeadOut(Out):
    id: UUID
    niche_id: UUID
    niche: str
    name: str
    email: str
    phone: str
    postal_code: str
    attributes: dict[str, Any]
    status: str
    rejection_reason: str | None
    created_at: datetime
    confirmed_at: datetime | None
    approved_at: datetime | None
    rejected_at: datetime | None
    distributed_at: datetime | None
    distribution_attempts: int


class ApprovalOut(Out):
    id: UUID
    status: str
    distribution_job_id: int | None


class RejectIn(Body):
    reason: Annotated[
        str, StringConstraints(min_length=1, max_length=MAX_TEXT), AfterValidator(_clean_text)
    ]


class RejectionOut(Out):
    id: UUID
    status: str
    rejection_reason: str | None
    rejected_at: datetime | None


# --- distribution, jobs, audit --------------------------------------------------------------


class DistributeOut(Out):
    lead_id: UUID
    status: Literal["queued"] = "queued"
    message: str
    job_id: int


class LeadJobOut(Out):
    """The lead's latest job, as the distribution status shows it (SPEC §8)."""

    id: int
    status: str
    attempts: int
    scheduled_at: datetime | None
    last_error: str | None


class JobOut(LeadJobOut):
    """A job in the jobs list."""

    lead_id: UUID | None
    queue: str


class DistributionStatusOut(Out):
    lead_id: UUID
    lead_status: str
    last_attempt_at: datetime | None
    last_attempt_status: str
    assignments_created: int
    start_level_order_position: int | None
    notes: str
    job: LeadJobOut | None


class AssignmentOut(Out):
    assignment_id: UUID
    provider_id: UUID
    provider_name: str
    subscription_id: UUID
    competition_level_id: UUID
    level_name: str
    price_charged: float = Field(description="Dollars, exact to the cent (49.0).")
    price_charged_cents: int
    assigned_at: datetime
    status: str


class SelectionOut(Out):
    provider_id: UUID
    subscription_id: UUID
    competition_level_id: UUID
    price_cents: int


class SkipOut(Out):
    provider_id: UUID
    subscription_id: UUID
    level_id: UUID
    reason: str


class PreviewOut(Out):
    lead_id: UUID
    start_level_order_position: int | None
    traversal_order: list[UUID]
    selections: list[SelectionOut]
    skipped: list[SkipOut]
    status: str


class AuditOut(Out):
    id: UUID
    at: datetime
    actor_id: str | None
    actor_role: str
    action: str
    entity_type: str
    entity_id: str | None
    metadata: dict[str, Any]


# --- provider portal ------------------------------------------------------------------------


class OwnSubscriptionOut(Out):
    id: UUID
    competition_level_id: UUID
    level_name: str
    niche_id: UUID
    niche_name: str
    price_per_lead_cents: int
    status: str
    postal_codes: list[str]
    filters: list[Any]
    daily_cap: int | None
    monthly_cap: int | None
    last_received_at: datetime | None


class ProfileOut(Out):
    id: UUID
    name: str
    email: str
    status: str
    balance_cents: int
    subscriptions: list[OwnSubscriptionOut]


class PurchasedLeadOut(Out):
    assignment_id: UUID
    lead_id: UUID
    niche_id: UUID
    niche_name: str
    competition_level_id: UUID
    level_name: str
    price_charged_cents: int
    status: str
    assigned_at: datetime
    name: str
    email: str
    phone: str
    postal_code: str
    attributes: dict[str, Any]


class Problem(BaseModel):
    """``application/problem+json`` (RFC 9457)."""

    type: str
    title: str
    status: int
    detail: str
