"""The provider portal: a provider user's own profile, leads and ledger."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, status

from leadflow.api.deps import (
    CurrentPrincipal,
    CurrentProviderId,
    Paging,
    Tx,
    current_provider,
)
from leadflow.api.routes.common import API_PREFIX, errors, page_out
from leadflow.api.schemas.base import PageOut
from leadflow.api.schemas.catalog import LedgerEntryOut
from leadflow.api.schemas.portal import OwnSubscriptionOut, ProfileOut, PurchasedLeadOut
from leadflow.api.schemas.returns import ReturnIn, ReturnOut, ReturnRequestedOut
from leadflow.domain.model import Actor, ActorRole, ReturnStatus
from leadflow.services import portal, returns

router = APIRouter(
    prefix=f"{API_PREFIX}/provider",
    tags=["provider portal"],
    dependencies=[Depends(current_provider)],
)


@router.get("/me", response_model=ProfileOut)
def me(provider_id: CurrentProviderId, tx: Tx) -> ProfileOut:
    """Profile, balance and subscriptions."""
    profile = portal.profile(tx, provider_id=provider_id)
    p = profile.provider
    return ProfileOut(
        id=p.id,
        name=p.name,
        email=p.email,
        status=p.status,
        balance_cents=p.balance_cents,
        subscriptions=[OwnSubscriptionOut.model_validate(s) for s in profile.subscriptions],
    )


@router.get("/assignments", response_model=PageOut[PurchasedLeadOut])
def assignments(
    provider_id: CurrentProviderId, tx: Tx, paging: Paging
) -> PageOut[PurchasedLeadOut]:
    """The provider's leads with contact details, newest first."""
    return page_out(
        portal.assignments(tx, provider_id=provider_id, page=paging),
        PurchasedLeadOut.model_validate,
    )


@router.get("/assignments/{assignment_id}", response_model=PurchasedLeadOut)
def assignment(assignment_id: UUID, provider_id: CurrentProviderId, tx: Tx) -> PurchasedLeadOut:
    """One of the provider's assignments; 404 unless it is theirs."""
    return PurchasedLeadOut.model_validate(
        portal.assignment(tx, provider_id=provider_id, assignment_id=assignment_id)
    )


@router.get("/ledger", response_model=PageOut[LedgerEntryOut])
def ledger(provider_id: CurrentProviderId, tx: Tx, paging: Paging) -> PageOut[LedgerEntryOut]:
    return page_out(
        portal.ledger(tx, provider_id=provider_id, page=paging), LedgerEntryOut.model_validate
    )


@router.post(
    "/assignments/{assignment_id}/return",
    status_code=status.HTTP_201_CREATED,
    response_model=ReturnRequestedOut,
    responses=errors(409),
)
def request_return(
    assignment_id: UUID,
    body: ReturnIn,
    provider_id: CurrentProviderId,
    principal: CurrentPrincipal,
    tx: Tx,
) -> ReturnRequestedOut:
    """Ask for a refund of one of the provider's active assignments, inside the niche's return
    window and for one of its reasons; ``status`` is ``approved`` at once when the niche's
    auto-approval allows. Unknown reason → 422; outside the window, a second request or an
    assignment already returned → 409; another provider's assignment → 404."""
    record = returns.request_return(
        tx,
        actor=Actor(role=ActorRole.PROVIDER, id=str(principal.user_id)),
        provider_id=provider_id,
        assignment_id=assignment_id,
        reason=body.reason,
        note=body.note,
    )
    return ReturnRequestedOut(return_id=record.id, status=record.status)


@router.get("/returns", response_model=PageOut[ReturnOut])
def own_returns(
    provider_id: CurrentProviderId,
    tx: Tx,
    paging: Paging,
    return_status: Annotated[ReturnStatus | None, Query(alias="status")] = None,
) -> PageOut[ReturnOut]:
    """The provider's own returns with their decision and refund, newest first."""
    page = returns.list_returns(
        tx, status=return_status, provider_id=provider_id, niche_id=None, page=paging
    )
    return page_out(page, ReturnOut.model_validate)


@router.get("/returns/{return_id}", response_model=ReturnOut)
def own_return(return_id: UUID, provider_id: CurrentProviderId, tx: Tx) -> ReturnOut:
    """One of the provider's returns; 404 unless it is theirs."""
    return ReturnOut.model_validate(
        returns.get_return(tx, return_id=return_id, provider_id=provider_id)
    )
