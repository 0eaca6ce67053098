"""Admin pages: dashboard, leads (list, detail with the distribution trace, actions), runs,
jobs with dead letters, the audit log."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Request, Response

from leadflow.api.deps import Context, Tx
from leadflow.console import forms, web
from leadflow.console.forms import PAGE_SIZE, Filter, Text
from leadflow.console.render import keyset_pager, render
from leadflow.console.web import AdminViewer
from leadflow.domain.model import LeadStatus
from leadflow.services import catalog_admin, erasure, jobs, lead_admin, leads, reports, runs
from leadflow.services.pages import Cursor, PageRequest

router = APIRouter(prefix="/console")


@router.get("")
def dashboard(request: Request, viewer: AdminViewer, tx: Tx) -> Response:
    return render(request, "dashboard.html", viewer=viewer, board=reports.dashboard(tx))


@router.get("/leads")
def leads_list(
    request: Request,
    viewer: AdminViewer,
    tx: Tx,
    cursor: Filter = None,
    status: Filter = None,
    niche_id: Filter = None,
) -> Response:
    """Newest first, by keyset: a deep page costs what the first one does."""
    result = lead_admin.leads_from(
        tx,
        status=status or None,
        niche_id=forms.optional_uuid(niche_id),
        cursor=Cursor.decode(cursor) if cursor else None,
        limit=PAGE_SIZE,
    )
    niches = catalog_admin.list_niches(tx, page=PageRequest(limit=200)).items
    return render(
        request,
        "leads.html",
        viewer=viewer,
        leads=result.items,
        pager=keyset_pager(request, result),
        statuses=list(LeadStatus),
        niches=niches,
        status=status or "",
        niche_id=niche_id or "",
    )


def _lead_page(
    request: Request, viewer: web.Viewer, tx: Tx, lead_id: UUID, **extra: object
) -> Response:
    lead = lead_admin.get_lead(tx, lead_id=lead_id)
    return render(
        request,
        "lead.html",
        viewer=viewer,
        lead=lead,
        status=jobs.distribution_status(tx, lead_id=lead_id),
        traces=runs.lead_runs(tx, lead_id=lead_id),
        assignments=lead_admin.list_assignments(
            tx, lead_id=lead_id, page=PageRequest(limit=200)
        ).items,
        preview=extra.get("preview"),
        preview_error=extra.get("preview_error"),
    )


@router.get("/leads/{lead_id}")
def lead_detail(request: Request, lead_id: UUID, viewer: AdminViewer, tx: Tx) -> Response:
    return _lead_page(request, viewer, tx, lead_id)


@router.get("/leads/{lead_id}/preview")
def lead_preview(request: Request, lead_id: UUID, viewer: AdminViewer, tx: Tx) -> Response:
    """What a distribution would do now; nothing is written."""
    lead_admin.get_lead(tx, lead_id=lead_id)
    preview, error = forms.attempt(tx, lambda: runs.preview(tx, lead_id=lead_id))
    return _lead_page(request, viewer, tx, lead_id, preview=preview, preview_error=error)


@router.post("/leads/{lead_id}/approve", dependencies=[web.Csrf])
def approve(lead_id: UUID, viewer: AdminViewer, context: Context, tx: Tx) -> Response:
    return forms.submit(
        tx,
        lambda: leads.approve_lead(
            tx, settings=context.settings, actor=viewer.actor, lead_id=lead_id
        ),
        to=f"/console/leads/{lead_id}",
        flash=lambda result: (
            "Lead approved"
            + (
                f"; distribution job {result.distribution_job_id} queued"
                if result.distribution_job_id
                else ""
            )
        ),
    )


@router.post("/leads/{lead_id}/reject", dependencies=[web.Csrf])
def reject(lead_id: UUID, viewer: AdminViewer, tx: Tx, reason: Text = "") -> Response:
    return forms.submit(
        tx,
        lambda: leads.reject_lead(tx, actor=viewer.actor, lead_id=lead_id, reason=reason),
        to=f"/console/leads/{lead_id}",
        flash="Lead rejected",
    )


@router.post("/leads/{lead_id}/erase", dependencies=[web.Csrf])
def erase(lead_id: UUID, viewer: AdminViewer, tx: Tx) -> Response:
    """The consumer's right to erasure (SPEC §11): the same use case as the API's."""
    return forms.submit(
        tx,
        lambda: erasure.erase_lead(tx, actor=viewer.actor, lead_id=lead_id),
        to=f"/console/leads/{lead_id}",
        flash="Personal data erased",
    )


@router.post("/leads/{lead_id}/distribute", dependencies=[web.Csrf])
def distribute(lead_id: UUID, viewer: AdminViewer, tx: Tx) -> Response:
    return forms.submit(
        tx,
        lambda: jobs.request_distribution(tx, actor=viewer.actor, lead_id=lead_id),
        to=f"/console/leads/{lead_id}",
        flash=lambda queued: (
            f"Distribution job {queued.job_id} "
            + ("queued" if queued.created else "was already queued")
        ),
    )


@router.get("/runs/{run_id}")
def run_page(request: Request, run_id: UUID, viewer: AdminViewer, tx: Tx) -> Response:
    trace = runs.get_run(tx, run_id=run_id)
    return render(request, "run.html", viewer=viewer, trace=trace)


@router.get("/jobs")
def jobs_page(
    request: Request, viewer: AdminViewer, tx: Tx, cursor: Filter = None, status: Filter = None
) -> Response:
    """Newest first (procrastinate's bigint ``id DESC``), by keyset on the job id along the
    table's primary key: a deep page costs what the first one does."""
    result = jobs.jobs_from(
        tx,
        status=status or None,
        cursor=Cursor.decode_seq(cursor) if cursor else None,
        limit=PAGE_SIZE,
    )
    return render(
        request,
        "jobs.html",
        viewer=viewer,
        jobs=result.items,
        pager=keyset_pager(request, result),
        statuses=jobs.JOB_STATUSES,
        status=status or "",
    )


@router.post("/jobs/{job_id}/retry", dependencies=[web.Csrf])
def retry(job_id: Annotated[int, Path(ge=1, le=2**62)], viewer: AdminViewer, tx: Tx) -> Response:
    return forms.submit(
        tx,
        lambda: jobs.retry_job(tx, actor=viewer.actor, job_id=job_id),
        to="/console/jobs?status=failed",
        flash=f"Job {job_id} requeued",
    )


@router.get("/audit")
def audit_page(
    request: Request,
    viewer: AdminViewer,
    tx: Tx,
    cursor: Filter = None,
    entity_type: Filter = None,
    entity_id: Filter = None,
    action: Filter = None,
) -> Response:
    """Newest first, by keyset: a deep page of a long log costs what the first one does."""
    result = lead_admin.audit_from(
        tx,
        entity_type=entity_type or None,
        entity_id=entity_id or None,
        action=action or None,
        cursor=Cursor.decode(cursor) if cursor else None,
        limit=PAGE_SIZE,
    )
    return render(
        request,
        "audit.html",
        viewer=viewer,
        rows=result.items,
        pager=keyset_pager(request, result),
        entity_type=entity_type or "",
        entity_id=entity_id or "",
        action=action or "",
    )
