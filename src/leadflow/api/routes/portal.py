"""The provider portal: a provider user's own profile, leads and ledger."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends

from leadflow.api.deps import CurrentProviderId, Paging, Tx, current_provider
from leadflow.api.routes.common import API_PREFIX, page_out
from leadflow.api.schemas.base import PageOut
from leadflow.api.schemas.catalog import LedgerEntryOut
from leadflow.api.schemas.portal import OwnSubscriptionOut, ProfileOut, PurchasedLeadOut
from leadflow.services import portal

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
