"""An operator's decision on a lead: approve (and queue its distribution) or reject."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from leadflow.db import approval, audit, jobs, leads
from leadflow.db.connection import Connection
from leadflow.domain.errors import InvalidInput, InvalidState, found
from leadflow.domain.model import Actor, LeadStatus
from leadflow.settings import Settings

MAX_REASON = 1000
REJECTABLE = frozenset(
    {
        LeadStatus.PENDING_CONFIRMATION,
        LeadStatus.PENDING_APPROVAL,
        LeadStatus.APPROVED,
        LeadStatus.DUPLICATE,
    }
)
# A duplicate (SPEC §11) is held back, not refused: an admin who knows better may approve it.
APPROVABLE = frozenset({LeadStatus.PENDING_APPROVAL, LeadStatus.DUPLICATE})


@dataclass(frozen=True, slots=True)
class ApprovalResult:
    id: UUID
    status: str
    distribution_job_id: int | None


def approve_lead(
    tx: Connection, *, settings: Settings, actor: Actor, lead_id: UUID
) -> ApprovalResult:
    """Approve a lead awaiting approval, or a duplicate. With auto-distribution on, its
    ``distribute_lead`` job is queued in the same transaction, so a committed approval always
    has its job."""
    lead = found(leads.get_lead(tx, lead_id, lock=True), "lead", lead_id)
    if lead.status not in APPROVABLE:
        raise InvalidState(
            f"lead is {lead.status}; only a lead pending approval or a duplicate can be approved"
        )
    approved = approval.approve(tx, lead_id)
    job_id = None
    if settings.auto_distribute:
        # Auto-distribution is the system's doing (SPEC §8); the approval is the admin's.
        job_id = jobs.defer_distribution(
            tx,
            lead_id=lead_id,
            niche_id=lead.niche_id,
            actor=Actor.system(),
            requested_at=datetime.now(UTC),
        )
    metadata: dict[str, object] = {"distribution_job_id": job_id}
    if lead.status == LeadStatus.DUPLICATE:
        metadata["approved_duplicate_of"] = str(lead.duplicate_of)
    audit.record(tx, actor, "lead.approved", "lead", lead_id, metadata)
    return ApprovalResult(id=lead_id, status=approved.status, distribution_job_id=job_id)


def reject_lead(tx: Connection, *, actor: Actor, lead_id: UUID, reason: str) -> leads.LeadRecord:
    """Reject a lead that is not distributed yet; a queued job then ends as not approved."""
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON or "\x00" in reason:
        raise InvalidInput(f"reason must be 1..{MAX_REASON} characters")
    lead = found(leads.get_lead(tx, lead_id, lock=True), "lead", lead_id)
    if lead.status not in REJECTABLE:
        raise InvalidState(f"lead is {lead.status}; it can no longer be rejected")
    rejected = approval.reject(tx, lead_id, reason)
    audit.record(
        tx,
        actor,
        "lead.rejected",
        "lead",
        lead_id,
        {"previous_status": lead.status, "reason": reason},
    )
    return rejected
