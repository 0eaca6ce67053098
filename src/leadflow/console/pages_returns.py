"""The returns queue (SPEC §9): open returns first, approve (refund) or deny with a reason,
through ``services.returns``."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from leadflow.api.deps import Tx
from leadflow.console import forms, web
from leadflow.console.forms import PAGE_SIZE, PageNo, Text
from leadflow.console.render import pager, render
from leadflow.console.web import AdminViewer
from leadflow.domain.model import ReturnStatus
from leadflow.services import returns
from leadflow.services.pages import PageRequest

router = APIRouter(prefix="/console")


@router.get("/returns")
def returns_page(
    request: Request,
    viewer: AdminViewer,
    tx: Tx,
    page: PageNo = 1,
    status: Annotated[str | None, Query(max_length=40)] = ReturnStatus.REQUESTED,
) -> Response:
    result = returns.list_returns(
        tx,
        status=status or None,
        provider_id=None,
        niche_id=None,
        page=PageRequest(page=page, limit=PAGE_SIZE),
    )
    return render(
        request,
        "returns.html",
        viewer=viewer,
        returns=result.items,
        pager=pager(request, result),
        statuses=list(ReturnStatus),
        status=status or "",
    )


@router.post("/returns/{return_id}/approve", dependencies=[web.Csrf])
def approve(return_id: UUID, viewer: AdminViewer, tx: Tx) -> Response:
    return forms.submit(
        tx,
        lambda: returns.approve_return(tx, actor=viewer.actor, return_id=return_id),
        to="/console/returns",
        flash=lambda d: f"Return approved; refunded {d.refund_cents / 100:,.2f} dollars",
    )


@router.post("/returns/{return_id}/deny", dependencies=[web.Csrf])
def deny(return_id: UUID, viewer: AdminViewer, tx: Tx, reason: Text = "") -> Response:
    return forms.submit(
        tx,
        lambda: returns.deny_return(tx, actor=viewer.actor, return_id=return_id, reason=reason),
        to="/console/returns",
        flash="Return denied",
    )
