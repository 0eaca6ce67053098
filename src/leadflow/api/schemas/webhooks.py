"""API schemas of webhook endpoints and deliveries (SPEC §10)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, ConfigDict, Field, StrictBool, StrictInt, StringConstraints

from leadflow.api.schemas.base import INTEGRAL, NO_NUL, Body, Omittable, Out, clean_text
from leadflow.services.webhooks import DEFAULT_GRACE_HOURS, MAX_GRACE_HOURS
from leadflow.webhooks.addresses import MAX_URL_LENGTH

Url = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_URL_LENGTH, pattern=NO_NUL),
    AfterValidator(clean_text),
    Field(
        description="https (http only to a host in LEADFLOW_WEBHOOK_ALLOW_HOSTS); it must "
        "resolve to public addresses only.",
        examples=["https://crm.example.com/leadflow"],
    ),
]
DeliveryStatus = Literal["pending", "delivered", "failed", "rejected_by_buyer"]
GraceHours = Annotated[StrictInt, Field(ge=0, le=MAX_GRACE_HOURS), INTEGRAL]


class EndpointIn(Body):
    url: Url
    niche_id: UUID | None = Field(
        default=None, description="Only this niche's sales (the provider must buy in it)."
    )
    is_active: StrictBool = True

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"url": "https://crm.example.com/leadflow"}]},
    )


class EndpointPatch(Body):
    url: Omittable[Url] = None
    niche_id: UUID | None = Field(default=None, description="null: every niche.")
    is_active: Omittable[StrictBool] = None

    model_config = ConfigDict(json_schema_extra={"examples": [{"is_active": True}]})


class RotateIn(Body):
    grace_hours: GraceHours = Field(
        default=DEFAULT_GRACE_HOURS,
        description="How long the old secret keeps signing too (0: it stops at once).",
    )

    model_config = ConfigDict(json_schema_extra={"examples": [{"grace_hours": 24}]})


class EndpointOut(Out):
    id: UUID
    provider_id: UUID
    niche_id: UUID | None
    url: str
    is_active: bool
    consecutive_failures: int
    disabled_at: datetime | None
    disabled_reason: str | None
    previous_secret_expires_at: datetime | None = Field(
        description="While set and in the future, the previous secret signs too."
    )
    created_at: datetime
    updated_at: datetime


class EndpointSecretOut(EndpointOut):
    secret: str = Field(description="The signing secret. Shown this once; store it now.")


class DeliveryOut(Out):
    id: UUID = Field(description="The Leadflow-Delivery header: receivers deduplicate by it.")
    endpoint_id: UUID
    endpoint_url: str
    provider_id: UUID
    lead_id: UUID
    assignment_id: UUID
    event: Literal["lead.assigned", "lead.returned"]
    return_id: UUID | None
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: datetime | None = Field(description="While pending: when it is tried next.")
    last_status_code: int | None
    last_error: str | None
    buyer_reason: str | None = Field(description="What the buyer said when it refused the lead.")
    filed_return_id: UUID | None = Field(description="The return the buyer's refusal filed.")
    created_at: datetime
    delivered_at: datetime | None


class AttemptOut(Out):
    attempted_at: datetime
    outcome: Literal["delivered", "rejected_by_buyer", "retry", "failed"]
    status_code: int | None
    latency_ms: int
    error: str | None
    response_excerpt: str | None = Field(description="The first 1 KiB of the reply.")


class DeliveryDetailOut(DeliveryOut):
    attempts: list[AttemptOut] = Field(description="Every attempt, oldest first.")
