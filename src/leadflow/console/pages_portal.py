"""The provider portal: my leads with their contact, one lead (404 unless it is mine) and its
return, my returns, my ledger and balance, through ``services.portal`` and
``services.returns``."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response

from leadflow.api.deps import Tx
from leadflow.console import forms, web
from leadflow.console.forms import PAGE_SIZE, Filter, Text
from leadflow.console.render import keyset_pager, render
from leadflow.console.web import ProviderViewer
from leadflow.domain.model import ReturnStatus
from leadflow.services import portal, returns
from leadflow.services.pages import Cursor

router = APIRouter(prefix="/portal")


def provider_of(viewer: web.Viewer) -> UUID:
    assert viewer.provider_id is not None
    return viewer.provider_id


@router.get("")
def my_leads(request: Request, viewer: ProviderViewer, tx: Tx, cursor: Filter = None) -> Response:
    """Newest first (``assigned_at DESC, id``), by keyset: a deep page costs what the first
    one does."""
    provider_id = provider_of(viewer)
    result = portal.assignments_from(
        tx,
        provider_id=provider_id,
        cursor=Cursor.decode(cursor) if cursor else None,
        limit=PAGE_SIZE,
    )
    return render(
        request,
        "portal_leads.html",
        viewer=viewer,
        profile=portal.profile(tx, provider_id=provider_id),
        leads=result.items,
        pager=keyset_pager(request, result),
    )


def _lead_page(
    request: Request, viewer: web.Viewer, tx: Tx, assignment_id: UUID, **form: Any
) -> Response:
    provider_id = provider_of(viewer)
    lead = portal.assignment(tx, provider_id=provider_id, assignment_id=assignment_id)
    return render(
        request,
        "portal_lead.html",
        viewer=viewer,
        status_code=422 if form.get("error") else 200,
        profile=portal.profile(tx, provider_id=provider_id),
        lead=lead,
        options=returns.return_options(tx, provider_id=provider_id, assignment_id=assignment_id),
        form=form,
    )


@router.get("/leads/{assignment_id}")
def my_lead(request: Request, assignment_id: UUID, viewer: ProviderViewer, tx: Tx) -> Response:
    return _lead_page(request, viewer, tx, assignment_id)


@router.post("/leads/{assignment_id}/return", dependencies=[web.Csrf])
def return_lead(
    request: Request,
    assignment_id: UUID,
    viewer: ProviderViewer,
    tx: Tx,
    reason: Text = "",
    note: Text = "",
) -> Response:
    """Ask for a refund of this lead (SPEC §9); approved at once when the niche allows."""
    return forms.submit(
        tx,
        lambda: returns.request_return(
            tx,
            actor=viewer.actor,
            provider_id=provider_of(viewer),
            assignment_id=assignment_id,
            reason=reason,
            note=note or None,
        ),
        to=f"/portal/leads/{assignment_id}",
        flash=lambda record: (
            "Return approved; the price is refunded"
            if record.status == ReturnStatus.APPROVED
            else "Return requested; an operator will decide"
        ),
        failed=lambda error: _lead_page(
            request, viewer, tx, assignment_id, error=error, reason=reason, note=note
        ),
    )


@router.get("/returns")
def my_returns(request: Request, viewer: ProviderViewer, tx: Tx, cursor: Filter = None) -> Response:
    provider_id = provider_of(viewer)
    result = returns.returns_from(
        tx,
        status=None,
        provider_id=provider_id,
        cursor=Cursor.decode(cursor) if cursor else None,
        limit=PAGE_SIZE,
    )
    return render(
        request,
        "portal_returns.html",
        viewer=viewer,
        profile=portal.profile(tx, provider_id=provider_id),
        returns=result.items,
        pager=keyset_pager(request, result),
    )


@router.get("/ledger")
def my_ledger(request: Request, viewer: ProviderViewer, tx: Tx, cursor: Filter = None) -> Response:
    """Newest first (``seq DESC``), by keyset on ``seq``: a deep page costs what the first
    one does."""
    provider_id = provider_of(viewer)
    result = portal.ledger_from(
        tx,
        provider_id=provider_id,
        cursor=Cursor.decode_seq(cursor) if cursor else None,
        limit=PAGE_SIZE,
    )
    return render(
        request,
        "portal_ledger.html",
        viewer=viewer,
        profile=portal.profile(tx, provider_id=provider_id),
        ledger=result.items,
        pager=keyset_pager(request, result),
    )
