"""Admin leads: list, detail, approve, reject; distribution (Phases 11-13), jobs, audit log."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, status

from leadflow.api.deps import Context, CurrentAdmin, Paging, Tx, current_admin
from leadflow.api.routes.common import API_PREFIX, errors, page_out
from leadflow.api.schemas.base import PageOut, Text
from leadflow.api.schemas.leads import (
    ApprovalOut,
    AssignmentOut,
    AuditOut,
    DistributeOut,
    DistributionStatusOut,
    ErasureOut,
    JobOut,
    JobStatus,
    LeadOut,
    LevelOrderOut,
    PreviewOut,
    RejectIn,
    RejectionOut,
    SelectionOut,
    SkipOut,
)
from leadflow.db.lead_views import AssignmentView
from leadflow.domain.model import LeadStatus
from leadflow.domain.money import cents_to_dollars
from leadflow.services import distribution, erasure, jobs, lead_admin, leads, runs

router = APIRouter(prefix=f"{API_PREFIX}/admin", dependencies=[Depends(current_admin)])

JobId = Annotated[int, Path(ge=1, le=2**62)]


@router.get("/leads", response_model=PageOut[LeadOut], tags=["admin: leads"])
def list_leads(
    tx: Tx,
    paging: Paging,
    lead_status: Annotated[LeadStatus | None, Query(alias="status")] = None,
    niche_id: UUID | None = None,
) -> PageOut[LeadOut]:
    """Leads, newest first, optionally by ``status`` and ``niche_id``."""
    page = lead_admin.list_leads(tx, status=lead_status, niche_id=niche_id, page=paging)
    return page_out(page, LeadOut.model_validate)


@router.get("/leads/{lead_id}", response_model=LeadOut, tags=["admin: leads"])
def get_lead(lead_id: UUID, tx: Tx) -> LeadOut:
    return LeadOut.model_validate(lead_admin.get_lead(tx, lead_id=lead_id))


@router.post(
    "/leads/{lead_id}/approve",
    response_model=ApprovalOut,
    responses=errors(409),
    tags=["admin: leads"],
)
def approve_lead(lead_id: UUID, admin: CurrentAdmin, context: Context, tx: Tx) -> ApprovalOut:
    """Approve a lead pending approval; with auto-distribution on, its job id comes back."""
    result = leads.approve_lead(tx, settings=context.settings, actor=admin, lead_id=lead_id)
    return ApprovalOut(
        id=result.id, status=result.status, distribution_job_id=result.distribution_job_id
    )


@router.post(
    "/leads/{lead_id}/reject",
    response_model=RejectionOut,
    responses=errors(409),
    tags=["admin: leads"],
)
def reject_lead(lead_id: UUID, body: RejectIn, admin: CurrentAdmin, tx: Tx) -> RejectionOut:
    """Reject a lead that is not distributed yet."""
    lead = leads.reject_lead(tx, actor=admin, lead_id=lead_id, reason=body.reason)
    return RejectionOut.model_validate(lead)


@router.post("/leads/{lead_id}/erase", response_model=ErasureOut, tags=["admin: leads"])
def erase_lead(lead_id: UUID, admin: CurrentAdmin, tx: Tx) -> ErasureOut:
    """Erase the lead's personal data everywhere it is stored (SPEC §11); idempotent."""
    result = erasure.erase_lead(tx, actor=admin, lead_id=lead_id)
    return ErasureOut(id=result.lead_id, erased_at=result.erased_at)


@router.post(
    "/leads/{lead_id}/distribute",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DistributeOut,
    responses=errors(400, 409),
    tags=["admin: distribution"],
)
def distribute_lead(lead_id: UUID, admin: CurrentAdmin, tx: Tx) -> DistributeOut:
    """Queue a distribution of an approved lead (a job already queued or running is returned)."""
    request = jobs.request_distribution(tx, actor=admin, lead_id=lead_id)
    message = (
        "Distribution job queued"
        if request.created
        else "A distribution job for this lead is already queued"
    )
    return DistributeOut(lead_id=request.lead_id, message=message, job_id=request.job_id)


@router.get(
    "/leads/{lead_id}/distribution-status",
    response_model=DistributionStatusOut,
    tags=["admin: distribution"],
)
def distribution_status(lead_id: UUID, tx: Tx) -> DistributionStatusOut:
    return DistributionStatusOut.model_validate(jobs.distribution_status(tx, lead_id=lead_id))


def _assignment(view: AssignmentView) -> AssignmentOut:
    return AssignmentOut(
        assignment_id=view.assignment_id,
        provider_id=view.provider_id,
        provider_name=view.provider_name,
        subscription_id=view.subscription_id,
        competition_level_id=view.competition_level_id,
        level_name=view.level_name,
        price_charged=cents_to_dollars(view.price_charged_cents),
        price_charged_cents=view.price_charged_cents,
        assigned_at=view.assigned_at,
        status=view.status,
    )


@router.get(
    "/leads/{lead_id}/assignments",
    response_model=PageOut[AssignmentOut],
    tags=["admin: distribution"],
)
def lead_assignments(lead_id: UUID, tx: Tx, paging: Paging) -> PageOut[AssignmentOut]:
    """The lead's assignments, newest first; ``price_charged`` in dollars beside the cents."""
    return page_out(lead_admin.list_assignments(tx, lead_id=lead_id, page=paging), _assignment)


@router.post(
    "/leads/{lead_id}/distribution-preview",
    response_model=PreviewOut,
    responses=errors(400, 409),
    tags=["admin: distribution"],
)
def distribution_preview(lead_id: UUID, tx: Tx) -> PreviewOut:
    """The selection a distribution would make now; nothing is charged, written or advanced."""
    preview = distribution.preview_distribution(tx, lead_id=lead_id)
    return PreviewOut(
        lead_id=preview.lead_id,
        start_level_order_position=preview.start_level_order_position,
        traversal_order=list(preview.traversal_order),
        selections=[SelectionOut.model_validate(s) for s in preview.selections],
        skipped=[SkipOut.model_validate(s) for s in preview.skipped],
        status=str(preview.status),
        levels=[
            LevelOrderOut(
                level_id=r.level_id,
                order="weighted" if r.weighted else "lru",
                switched=r.switched,
                note=runs.order_note(r.weighted, r.switched),
            )
            for r in preview.level_rules
        ],
    )


@router.get("/jobs", response_model=PageOut[JobOut], tags=["admin: jobs"])
def list_jobs(
    tx: Tx,
    paging: Paging,
    job_status: Annotated[JobStatus | None, Query(alias="status")] = None,
) -> PageOut[JobOut]:
    """Jobs of the ``distribute_lead`` and ``email`` queues; ``status`` = queued|running|succeeded|failed."""
    return page_out(jobs.list_jobs(tx, status=job_status, page=paging), JobOut.model_validate)


@router.post(
    "/jobs/{job_id}/retry",
    response_model=JobOut,
    responses=errors(400, 409),
    tags=["admin: jobs"],
)
def retry_job(job_id: JobId, admin: CurrentAdmin, tx: Tx) -> JobOut:
    """Requeue a dead-lettered job (409 while another job of its lead is queued or running)."""
    return JobOut.model_validate(jobs.retry_job(tx, actor=admin, job_id=job_id))


@router.get("/audit-log", response_model=PageOut[AuditOut], tags=["admin: audit"])
def audit_log(
    tx: Tx,
    paging: Paging,
    entity_type: Text | None = None,
    entity_id: Text | None = None,
    action: Text | None = None,
) -> PageOut[AuditOut]:
    page = lead_admin.list_audit(
        tx, entity_type=entity_type, entity_id=entity_id, action=action, page=paging
    )
    return page_out(page, AuditOut.model_validate)
