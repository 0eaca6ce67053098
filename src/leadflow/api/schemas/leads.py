"""API schemas of intake, lead administration, distribution, jobs and the audit log."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from leadflow.api.schemas.base import (
    Body,
    ContactEmail,
    JsonObject,
    Name,
    NonEmptyText,
    Out,
    clean_text,
)
from leadflow.domain import consent as consent_rules
from leadflow.domain.model import LeadStatus, RunStatus, SkipReason
from leadflow.services.intake import MAX_ATTRIBUTES_BYTES, MAX_IDEMPOTENCY_KEY

# The intake's rules (``services.intake``), on the value before the service strips blanks.
NICHE_SLUG = r"^\s*[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?\s*$"
PHONE = r"^\s*(?=(?:[^0-9]*[0-9]){6})\+?[0-9 ().\-]{6,32}\s*$"
POSTAL_CODE = r"^\s*[A-Za-z0-9][A-Za-z0-9 \-]{1,14}[A-Za-z0-9]\s*$"

# RFC 3339 with an offset, as JSON Schema's ``date-time`` means it (no bare dates, no numbers).
RFC3339 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"
MAX_IP_TEXT = 64
# An ``Idempotency-Key``: visible ASCII (what every HTTP client sends unchanged).
IDEMPOTENCY_KEY = r"^[!-~]+$"


def _timestamp(value: object) -> datetime:
    if not isinstance(value, str) or not re.match(RFC3339, value):
        raise ValueError("must be an RFC 3339 date-time with an offset (2026-12-03T10:00:00Z)")
    return datetime.fromisoformat(value)


def _ip(value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_IP_TEXT:
        raise ValueError("must be an IPv4 or IPv6 address")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError as exc:
        raise ValueError("must be an IPv4 or IPv6 address") from exc


Timestamp = Annotated[
    datetime,
    BeforeValidator(_timestamp),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": RFC3339}),
]
IpAddress = Annotated[
    str,
    BeforeValidator(_ip),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": MAX_IP_TEXT,
            "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}],
        }
    ),
]
Url = Annotated[
    str,
    StringConstraints(max_length=consent_rules.MAX_URL, pattern=consent_rules.URL.pattern),
    AfterValidator(clean_text),
]
IdempotencyKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_IDEMPOTENCY_KEY, pattern=IDEMPOTENCY_KEY),
]

# The API's names of job states (``db.jobs.STATUS_FILTERS`` maps them to Procrastinate's).
JobStatus = Literal["queued", "running", "succeeded", "failed"]


class ConsentIn(Body):
    """TCPA-style proof of the consumer's consent to be contacted (SPEC §11)."""

    text: Annotated[NonEmptyText, Field(description="The wording the consumer agreed to.")]
    version: (
        Annotated[
            str,
            StringConstraints(max_length=consent_rules.MAX_VERSION, pattern=r"^[^\x00]*$"),
            AfterValidator(clean_text),
        ]
        | None
    ) = None
    captured_at: Annotated[
        Timestamp,
        Field(description="When it was given; at most 5 minutes ahead of the server's clock."),
    ]
    ip: Annotated[IpAddress, Field(description="The consumer's IPv4 or IPv6 address.")]
    user_agent: NonEmptyText | None = None
    page_url: Url | None = None
    certificate_url: Annotated[
        Url | None, Field(description="A third-party certificate (TrustedForm, Jornaya, ...).")
    ] = None


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
    consent: ConsentIn | None = Field(
        default=None, description="Required by a niche with ``require_consent``; immutable."
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
                    "consent": {
                        "text": "I agree to be contacted by movers about my move.",
                        "version": "2026-11",
                        "captured_at": "2026-12-03T10:00:00Z",
                        "ip": "203.0.113.7",
                        "page_url": "https://movers.example/quote",
                    },
                }
            ]
        },
    )


class LeadCreatedOut(Out):
    id: UUID
    status: LeadStatus
    duplicate_of: UUID | None = Field(
        default=None, description="For a ``duplicate``: the earliest lead of the same consumer."
    )


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
    phone_e164: str | None
    email_normalized: str | None
    duplicate_of: UUID | None
    consent: dict[str, Any] | None
    erased_at: datetime | None
    unsold_at: datetime | None
    expired_at: datetime | None


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


class ErasureOut(Out):
    id: UUID
    erased_at: datetime


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


class LevelOrderOut(Out):
    """A level that would use weighted order, or switch order (SPEC §12), and why."""

    level_id: UUID
    order: Literal["lru", "weighted"]
    switched: bool
    note: str | None


class PreviewOut(Out):
    lead_id: UUID
    start_level_order_position: int | None
    traversal_order: list[UUID]
    selections: list[SelectionOut]
    skipped: list[SkipOut]
    status: str
    levels: list[LevelOrderOut] = Field(
        default=[], description="Levels that are weighted or would switch order (SPEC §12)."
    )


class AuditOut(Out):
    id: UUID
    at: datetime
    actor_id: str | None
    actor_role: str
    action: str
    entity_type: str
    entity_id: str | None
    metadata: dict[str, Any]
