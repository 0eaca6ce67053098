"""API schemas of the provider portal."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import Field

from leadflow.api.schemas.base import Out


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
    phone_e164: str | None = Field(default=None, description="The phone in E.164.")
    consent: dict[str, Any] | None = Field(
        default=None, description="The consumer's consent as captured at intake (SPEC §11)."
    )
