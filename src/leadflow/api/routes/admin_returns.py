"""Admin returns: the queue of return requests and their decisions (SPEC §9)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from leadflow.api.deps import CurrentAdmin, Paging, Tx, current_admin
from leadflow.api.routes.common import API_PREFIX, errors, page_out
from leadflow.api.schemas.base import PageOut
from leadflow.api.schemas.returns import DecisionOut, DenyIn, ReturnOut
from leadflow.domain.model import ReturnStatus
from leadflow.services import returns

router = APIRouter(
    prefix=f"{API_PREFIX}/admin",
    tags=["admin: returns"],
    dependencies=[Depends(current_admin)],
)


@router.get("/returns", response_model=PageOut[ReturnOut])
def list_returns(
    tx: Tx,
    paging: Paging,
    return_status: Annotated[ReturnStatus | None, Query(alias="status")] = None,
    provider_id: UUID | None = None,
    niche_id: UUID | None = None,
) -> PageOut[ReturnOut]:
    """Returns, newest first, optionally by ``status``, ``provider_id`` and ``niche_id``."""
    page = returns.list_returns(
        tx, status=return_status, provider_id=provider_id, niche_id=niche_id, page=paging
    )
    return page_out(page, ReturnOut.model_validate)


@router.get("/returns/{return_id}", response_model=ReturnOut)
def get_return(return_id: UUID, tx: Tx) -> ReturnOut:
    return ReturnOut.model_validate(returns.get_return(tx, return_id=return_id))


@router.post("/returns/{return_id}/approve", response_model=DecisionOut, responses=errors(409))
def approve_return(return_id: UUID, admin: CurrentAdmin, tx: Tx) -> DecisionOut:
    """Refund the assignment's price, mark it ``returned``, resume subscriptions the new balance
    covers; one transaction. A decided return → 409."""
    decision = returns.approve_return(tx, actor=admin, return_id=return_id)
    return _decision(tx, decision)


@router.post("/returns/{return_id}/deny", response_model=DecisionOut, responses=errors(409))
def deny_return(return_id: UUID, body: DenyIn, admin: CurrentAdmin, tx: Tx) -> DecisionOut:
    """Deny with a reason the provider is told; nothing is refunded. A decided return → 409."""
    decision = returns.deny_return(tx, actor=admin, return_id=return_id, reason=body.reason)
    return _decision(tx, decision)


def _decision(tx: Tx, decision: returns.Decision) -> DecisionOut:
    """The decided return as the list shows it, with the balance after a refund."""
    view = ReturnOut.model_validate(returns.get_return(tx, return_id=decision.record.id))
    return DecisionOut(**view.model_dump(), balance_cents=decision.balance_cents)
