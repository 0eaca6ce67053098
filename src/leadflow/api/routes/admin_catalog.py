"""Admin catalog: niches, levels, providers (with deposits and ledger), subscriptions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response, status

from leadflow.api.deps import Context, CurrentAdmin, Paging, Tx, current_admin
from leadflow.api.routes.common import API_PREFIX, errors, page_out
from leadflow.api.schemas.base import PageOut
from leadflow.api.schemas.catalog import (
    AdjustmentIn,
    AdjustmentOut,
    DepositIn,
    DepositOut,
    LedgerEntryOut,
    LevelIn,
    LevelOut,
    LevelPatch,
    NicheDetailOut,
    NicheIn,
    NicheOut,
    NichePatch,
    ProviderDetailOut,
    ProviderIn,
    ProviderOut,
    ProviderPatch,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionPatch,
)
from leadflow.domain.model import ProviderStatus
from leadflow.services import billing, catalog, catalog_admin

router = APIRouter(
    prefix=f"{API_PREFIX}/admin",
    tags=["admin: catalog"],
    dependencies=[Depends(current_admin)],
)


def _niche_detail(detail: catalog_admin.NicheDetail) -> NicheDetailOut:
    return NicheDetailOut.model_validate(
        {
            **NicheOut.model_validate(detail.niche).model_dump(),
            "levels": [LevelOut.model_validate(lv) for lv in detail.levels],
        }
    )


def _provider_detail(detail: catalog_admin.ProviderDetail) -> ProviderDetailOut:
    return ProviderDetailOut.model_validate(
        {
            **ProviderOut.model_validate(detail.provider).model_dump(),
            "subscriptions": [SubscriptionOut.model_validate(s) for s in detail.subscriptions],
        }
    )


@router.post(
    "/niches",
    status_code=status.HTTP_201_CREATED,
    response_model=NicheDetailOut,
    responses=errors(409),
)
def create_niche(body: NicheIn, admin: CurrentAdmin, tx: Tx) -> NicheDetailOut:
    niche = catalog.create_niche(tx, actor=admin, **body.model_dump())
    return _niche_detail(catalog_admin.NicheDetail(niche=niche, levels=[]))


@router.get("/niches", response_model=PageOut[NicheOut])
def list_niches(tx: Tx, paging: Paging) -> PageOut[NicheOut]:
    return page_out(catalog_admin.list_niches(tx, page=paging), NicheOut.model_validate)


@router.get("/niches/{niche_id}", response_model=NicheDetailOut)
def get_niche(niche_id: UUID, tx: Tx) -> NicheDetailOut:
    return _niche_detail(catalog_admin.get_niche(tx, niche_id=niche_id))


@router.patch("/niches/{niche_id}", response_model=NicheDetailOut)
def update_niche(niche_id: UUID, body: NichePatch, admin: CurrentAdmin, tx: Tx) -> NicheDetailOut:
    detail = catalog_admin.update_niche(
        tx, actor=admin, niche_id=niche_id, changes=body.model_dump(exclude_unset=True)
    )
    return _niche_detail(detail)


@router.post(
    "/niches/{niche_id}/levels",
    status_code=status.HTTP_201_CREATED,
    response_model=LevelOut,
    responses=errors(409),
)
def create_level(niche_id: UUID, body: LevelIn, admin: CurrentAdmin, tx: Tx) -> LevelOut:
    level = catalog.create_level(tx, actor=admin, niche_id=niche_id, **body.model_dump())
    return LevelOut.model_validate(level)


@router.patch("/levels/{level_id}", response_model=LevelOut, responses=errors(409))
def update_level(level_id: UUID, body: LevelPatch, admin: CurrentAdmin, tx: Tx) -> LevelOut:
    level = catalog_admin.update_level(
        tx, actor=admin, level_id=level_id, changes=body.model_dump(exclude_unset=True)
    )
    return LevelOut.model_validate(level)


@router.post(
    "/providers",
    status_code=status.HTTP_201_CREATED,
    response_model=ProviderDetailOut,
    responses=errors(409),
)
def create_provider(
    body: ProviderIn, admin: CurrentAdmin, context: Context, tx: Tx
) -> ProviderDetailOut:
    """Create a provider; a ``password`` also creates its portal login (same e-mail)."""
    detail = catalog_admin.register_provider(
        tx,
        actor=admin,
        passwords=context.passwords,
        name=body.name,
        email=body.email,
        status=body.status,
        password=body.password,
        dedupe_days=body.dedupe_days,
    )
    return _provider_detail(detail)


@router.get("/providers", response_model=PageOut[ProviderOut])
def list_providers(
    tx: Tx,
    paging: Paging,
    provider_status: Annotated[ProviderStatus | None, Query(alias="status")] = None,
) -> PageOut[ProviderOut]:
    return page_out(
        catalog_admin.list_providers(tx, status=provider_status, page=paging),
        ProviderOut.model_validate,
    )


@router.get("/providers/{provider_id}", response_model=ProviderDetailOut)
def get_provider(provider_id: UUID, tx: Tx) -> ProviderDetailOut:
    return _provider_detail(catalog_admin.get_provider(tx, provider_id=provider_id))


@router.patch("/providers/{provider_id}", response_model=ProviderDetailOut, responses=errors(409))
def update_provider(
    provider_id: UUID, body: ProviderPatch, admin: CurrentAdmin, tx: Tx
) -> ProviderDetailOut:
    """Suspending a provider revokes its users' access tokens."""
    detail = catalog_admin.update_provider(
        tx, actor=admin, provider_id=provider_id, changes=body.model_dump(exclude_unset=True)
    )
    return _provider_detail(detail)


def _money_responses(model: type[DepositOut | AdjustmentOut]) -> dict[int | str, Any]:
    return {
        **errors(409),
        200: {"model": model, "description": "Repeated idempotency key: the first entry"},
    }


def _posted(response: Response, post: Callable[[], billing.Posted]) -> billing.Posted:
    """An idempotent money route: 201 when ``post`` wrote its entry, 200 when its key repeated
    an earlier request (the first entry, nothing moved again)."""
    result = post()
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return result


@router.post(
    "/providers/{provider_id}/deposits",
    status_code=status.HTTP_201_CREATED,
    response_model=DepositOut,
    responses=_money_responses(DepositOut),
)
def deposit(
    provider_id: UUID, body: DepositIn, admin: CurrentAdmin, tx: Tx, response: Response
) -> DepositOut:
    """Credit the balance. The same ``idempotency_key`` and amount again → 200 with the same
    entry and no second credit; the same key with another amount → 409."""
    result = _posted(
        response,
        lambda: billing.deposit(
            tx,
            actor=admin,
            provider_id=provider_id,
            amount_cents=body.amount_cents,
            idempotency_key=body.idempotency_key,
            note=body.note,
        ),
    )
    return DepositOut(ledger_entry_id=result.ledger_entry_id, balance_cents=result.balance_cents)


@router.post(
    "/providers/{provider_id}/adjustments",
    status_code=status.HTTP_201_CREATED,
    response_model=AdjustmentOut,
    responses=_money_responses(AdjustmentOut),
)
def adjust(
    provider_id: UUID, body: AdjustmentIn, admin: CurrentAdmin, tx: Tx, response: Response
) -> AdjustmentOut:
    """Correct the balance by a signed amount. A debit below a zero balance → 409 with nothing
    written; the same ``idempotency_key`` and amount again → 200 with the same entry; the same
    key with another amount → 409."""
    result = _posted(
        response,
        lambda: billing.adjust(
            tx,
            actor=admin,
            provider_id=provider_id,
            amount_cents=body.amount_cents,
            reason=body.reason,
            idempotency_key=body.idempotency_key,
        ),
    )
    return AdjustmentOut(
        ledger_entry_id=result.ledger_entry_id,
        balance_cents=result.balance_cents,
        ledger_entry=LedgerEntryOut.model_validate(result.entry),
    )


@router.get(
    "/providers/{provider_id}/ledger",
    response_model=PageOut[LedgerEntryOut],
)
def provider_ledger(provider_id: UUID, tx: Tx, paging: Paging) -> PageOut[LedgerEntryOut]:
    page = catalog_admin.list_ledger(tx, provider_id=provider_id, page=paging)
    return page_out(page, LedgerEntryOut.model_validate)


@router.post(
    "/subscriptions",
    status_code=status.HTTP_201_CREATED,
    response_model=SubscriptionOut,
    responses=errors(404, 409),
)
def create_subscription(body: SubscriptionIn, admin: CurrentAdmin, tx: Tx) -> SubscriptionOut:
    """Subscribe a provider to a level; ``paused_low_balance`` if its balance is below the price."""
    subscription = catalog.create_subscription(tx, actor=admin, **body.model_dump())
    return SubscriptionOut.model_validate(subscription)


@router.get("/subscriptions/{subscription_id}", response_model=SubscriptionOut)
def get_subscription(subscription_id: UUID, tx: Tx) -> SubscriptionOut:
    return SubscriptionOut.model_validate(
        catalog_admin.get_subscription(tx, subscription_id=subscription_id)
    )


@router.patch("/subscriptions/{subscription_id}", response_model=SubscriptionOut)
def update_subscription(
    subscription_id: UUID, body: SubscriptionPatch, admin: CurrentAdmin, tx: Tx
) -> SubscriptionOut:
    subscription = catalog_admin.update_subscription(
        tx,
        actor=admin,
        subscription_id=subscription_id,
        changes=body.model_dump(exclude_unset=True),
    )
    return SubscriptionOut.model_validate(subscription)
