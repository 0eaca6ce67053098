"""The provider portal: my leads with their contact, one lead (404 unless it is mine), my
ledger and balance, through ``services.portal``."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from leadflow.api.deps import Tx
from leadflow.console.forms import PAGE_SIZE, PageNo
from leadflow.console.render import pager, render
from leadflow.console.web import ProviderViewer
from leadflow.services import portal
from leadflow.services.pages import PageRequest

router = APIRouter(prefix="/portal")


def _provider_id(viewer: ProviderViewer) -> UUID:
    assert viewer.provider_id is not None
    return viewer.provider_id


@router.get("")
def my_leads(request: Request, viewer: ProviderViewer, tx: Tx, page: PageNo = 1) -> Response:
    provider_id = _provider_id(viewer)
    result = portal.assignments(
        tx, provider_id=provider_id, page=PageRequest(page=page, limit=PAGE_SIZE)
    )
    return render(
        request,
        "portal_leads.html",
        viewer=viewer,
        profile=portal.profile(tx, provider_id=provider_id),
        leads=result.items,
        pager=pager(request, result),
    )


@router.get("/leads/{assignment_id}")
def my_lead(request: Request, assignment_id: UUID, viewer: ProviderViewer, tx: Tx) -> Response:
    provider_id = _provider_id(viewer)
    lead = portal.assignment(tx, provider_id=provider_id, assignment_id=assignment_id)
    return render(
        request,
        "portal_lead.html",
        viewer=viewer,
        profile=portal.profile(tx, provider_id=provider_id),
        lead=lead,
    )


@router.get("/ledger")
def my_ledger(request: Request, viewer: ProviderViewer, tx: Tx, page: PageNo = 1) -> Response:
    provider_id = _provider_id(viewer)
    result = portal.ledger(
        tx, provider_id=provider_id, page=PageRequest(page=page, limit=PAGE_SIZE)
    )
    return render(
        request,
        "portal_ledger.html",
        viewer=viewer,
        profile=portal.profile(tx, provider_id=provider_id),
        ledger=result.items,
        pager=pager(request, result),
    )
