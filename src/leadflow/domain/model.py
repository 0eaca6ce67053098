"""Value types shared across the domain: actors and the status vocabularies."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ActorRole(StrEnum):
    ADMIN = "admin"
    PROVIDER = "provider"
    SYSTEM = "system"
    PUBLIC = "public"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who caused a change; recorded in audit rows and distribution runs."""

    role: ActorRole
    id: str | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(role=ActorRole.SYSTEM, id=None)

    @classmethod
    def admin(cls, user_id: str) -> Actor:
        return cls(role=ActorRole.ADMIN, id=user_id)


class LeadStatus(StrEnum):
    PENDING_CONFIRMATION = "pending_confirmation"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    DISTRIBUTED = "distributed"
    REJECTED = "rejected"
    # SPEC §11: the same consumer as an earlier lead of the niche; an admin may still approve it.
    DUPLICATE = "duplicate"
    # SPEC §11: unsold for the niche's ``lead_ttl_hours``; never sold.
    EXPIRED = "expired"


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    PAUSED_LOW_BALANCE = "paused_low_balance"
    CANCELLED = "cancelled"


class AssignmentStatus(StrEnum):
    ACTIVE = "active"
    RETURNED = "returned"


class ReturnStatus(StrEnum):
    """A lead return (SPEC §9): open, then decided once."""

    REQUESTED = "requested"
    APPROVED = "approved"
    DENIED = "denied"


class ProviderStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class DistributionMode(StrEnum):
    ALL_LEVELS = "all_levels"
    FIRST_LEVEL = "first_level"


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    PARTIAL = "partial"
    NO_ELIGIBLE = "no_eligible"
    FAILED = "failed"


class RunTrigger(StrEnum):
    """What started a run: the lead's approval or an operator (``distribution``), or a resale:
    an unsold lead offered again when capacity may have returned, or the sale after a return."""

    DISTRIBUTION = "distribution"
    RESALE = "resale"


class SkipReason(StrEnum):
    DUPLICATE = "duplicate"
    DUPLICATE_CONSUMER = "duplicate_consumer"
    CAP_REACHED = "cap_reached"
    # SPEC §12: outside the subscription's schedule; past a daily or monthly budget.
    OUTSIDE_SCHEDULE = "outside_schedule"
    BUDGET_REACHED = "budget_reached"
    ELIGIBILITY_ERROR = "eligibility_error"
    INSUFFICIENT_BALANCE = "insufficient_balance"


class LedgerKind(StrEnum):
    DEPOSIT = "deposit"
    LEAD_CHARGE = "lead_charge"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"
