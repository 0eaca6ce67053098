"""The returns queue (SPEC §9): open returns first, approve (refund) or deny with a reason,
through ``services.returns``."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from leadflow.api.deps import Tx
from leadflow.console import forms, web
from leadflow.console.forms import PAGE_SIZE, Filter, Text
from leadflow.console.render import keyset_pager, render
from leadflow.console.web import AdminViewer
from leadflow.domain.model import ReturnStatus
from leadflow.services import returns
from leadflow.services.pages import Cursor

router = APIRouter(prefix="/console")


@router.get("/returns")
def returns_page(
    request: Request,
    viewer: AdminViewer,
    tx: Tx,
    cursor: Filter = None,
    status: Annotated[str | None, Query(max_length=40)] = ReturnStatus.REQUESTED,
) -> Response:
    """The queue (requested first by default), newest first, by keyset."""
    result = returns.returns_from(
        tx,
        status=status or None,
        provider_id=None,
        cursor=Cursor.decode(cursor) if cursor else None,
        limit=PAGE_SIZE,
    )
    return render(
        request,
        "returns.html",
        viewer=viewer,
        returns=result.items,
        pager=keyset_pager(request, result),
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
