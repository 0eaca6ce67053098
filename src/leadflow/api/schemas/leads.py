"""API schemas of intake, lead administration, distribution, jobs and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    ConfigDict,
    Field,
    StringConstraints,
)

from leadflow.api.schemas.base import (
    Body,
    ContactEmail,
    JsonObject,
    Name,
    NonEmptyText,
    Out,
)
from leadflow.domain.model import LeadStatus, RunStatus, SkipReason
from leadflow.services.intake import MAX_ATTRIBUTES_BYTES

# The intake's rules (``services.intake``), on the value before the service strips blanks.
NICHE_SLUG = r"^\s*[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?\s*$"
PHONE = r"^\s*(?=(?:[^0-9]*[0-9]){6})\+?[0-9 ().\-]{6,32}\s*$"
POSTAL_CODE = r"^\s*[A-Za-z0-9][A-Za-z0-9 \-]{1,14}[A-Za-z0-9]\s*$"

# The API's names of job states (``db.jobs.STATUS_FILTERS`` maps them to Procrastinate's).
JobStatus = Literal["queued", "running", "succeeded", "failed"]


class LeadIn(Body):
    niche: Annotated[
        str,
        StringConstraints(min_length=1, max_length=64, pattern=NICHE_SLUG),
        Field(description="The slug of an active niche (else 422)."),
    ]
    name: Name
    email: ContactEmail
    phone: Annotated[str, StringConstraints(min_length=6, max_length=40, pattern=PHONE)]
    postal_code: Annotated[str, StringConstraints(min_length=3, max_length=16, pattern=POSTAL_CODE)]
    attributes: JsonObject = Field(
        default_factory=dict,
        description=f"Free-form; at most {MAX_ATTRIBUTES_BYTES} bytes as JSON.",
    )

    model_config = ConfigDict(
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
    status: LeadStatus


class ConfirmIn(Body):
    token: NonEmptyText

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"token": "the-token-from-the-mail"}]}
    )


class LeadOut(Out):
    id: UUID
    niche_id: UUID
    niche: str
    name: str
    email: str
    phone: str
    postal_code: str
    attributes: dict[str, Any]
    status: LeadStatus
    rejection_reason: str | None
    created_at: datetime
    confirmed_at: datetime | None
    approved_at: datetime | None
    rejected_at: datetime | None
    distributed_at: datetime | None
    distribution_attempts: int


class ApprovalOut(Out):
    id: UUID
    status: LeadStatus
    distribution_job_id: int | None


class RejectIn(Body):
    reason: NonEmptyText

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "duplicate of an earlier lead"}]}
    )


class RejectionOut(Out):
    id: UUID
    status: LeadStatus
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
    status: JobStatus
    attempts: int
    scheduled_at: datetime | None
    last_error: str | None


class JobOut(LeadJobOut):
    """A job in the jobs list."""

    lead_id: UUID | None
    queue: str


class DistributionStatusOut(Out):
    lead_id: UUID
    lead_status: LeadStatus
    last_attempt_at: datetime | None
    last_attempt_status: RunStatus | Literal["none"]
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
    reason: SkipReason


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
