"""API schemas of intake, lead administration, distribution, jobs and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from leadflow.api.schemas.base import MAX_TEXT, Body, Email, JsonObject, Name, Out, clean_text


class LeadIn(Body):
    niche: Annotated[
        str, StringConstraints(min_length=1, max_length=64), AfterValidator(clean_text)
    ]
    name: Name
    email: Email
    phone: Annotated[
        str, StringConstraints(min_length=1, max_length=40), AfterValidator(clean_text)
    ]
    postal_code: Annotated[
        str, StringConstraints(min_length=1, max_length=16), AfterValidator(clean_text)
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
        str, StringConstraints(min_length=1, max_length=MAX_TEXT), AfterValidator(clean_text)
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
        str, StringConstraints(min_length=1, max_length=MAX_TEXT), AfterValidator(clean_text)
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
