"""Catalog pages: niches and their levels, providers (balance, deposit, suspend, ledger),
subscriptions. Forms that fail are shown again with what was typed and the reason."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, Query, Request, Response

from leadflow.api.deps import Context, Tx
from leadflow.console import forms, web
from leadflow.console.render import local_path, pager, redirect, render
from leadflow.console.web import AdminViewer
from leadflow.domain.errors import InvalidInput
from leadflow.domain.model import DistributionMode, ProviderStatus, SubscriptionStatus
from leadflow.services import billing, catalog, catalog_admin
from leadflow.services.pages import PageRequest

router = APIRouter(prefix="/console")
PageNo = Annotated[int, Query(ge=1, le=1_000_000)]
Filter = Annotated[str | None, Query(max_length=200)]
FormText = Annotated[str, Form(max_length=1000)]
PAGE_SIZE = 50
ALL = PageRequest(limit=200)


# --- niches and levels ---


def _niches_page(request: Request, viewer: web.Viewer, tx: Tx, page: int, **form: Any) -> Response:
    result = catalog_admin.list_niches(tx, page=PageRequest(page=page, limit=PAGE_SIZE))
    return render(
        request,
        "niches.html",
        viewer=viewer,
        status_code=422 if form.get("error") else 200,
        niches=result.items,
        pager=pager(request, result),
        modes=list(DistributionMode),
        form=form,
    )


@router.get("/niches")
def niches(request: Request, viewer: AdminViewer, tx: Tx, page: PageNo = 1) -> Response:
    return _niches_page(request, viewer, tx, page)


@router.post("/niches", dependencies=[web.Csrf])
def create_niche(
    request: Request,
    viewer: AdminViewer,
    tx: Tx,
    slug: FormText = "",
    name: FormText = "",
    distribution_mode: FormText = DistributionMode.ALL_LEVELS,
    require_confirmation: FormText = "",
) -> Response:
    niche, error = forms.attempt(
        tx,
        lambda: catalog.create_niche(
            tx,
            actor=viewer.actor,
            slug=slug.strip(),
            name=name,
            distribution_mode=distribution_mode,
            require_confirmation=bool(require_confirmation),
        ),
    )
    if niche is None:
        return _niches_page(
            request, viewer, tx, 1, error=error, slug=slug, name=name, mode=distribution_mode
        )
    return redirect(f"/console/niches/{niche.id}", flash=f"Niche {niche.slug} created")


def _niche_page(
    request: Request, viewer: web.Viewer, tx: Tx, niche_id: UUID, **form: Any
) -> Response:
    return render(
        request,
        "niche.html",
        viewer=viewer,
        status_code=422 if form.get("error") else 200,
        detail=catalog_admin.get_niche(tx, niche_id=niche_id),
        modes=list(DistributionMode),
        form=form,
    )


@router.get("/niches/{niche_id}")
def niche(request: Request, niche_id: UUID, viewer: AdminViewer, tx: Tx) -> Response:
    return _niche_page(request, viewer, tx, niche_id)


@router.post("/niches/{niche_id}", dependencies=[web.Csrf])
def update_niche(
    request: Request,
    niche_id: UUID,
    viewer: AdminViewer,
    tx: Tx,
    name: FormText = "",
    distribution_mode: FormText = DistributionMode.ALL_LEVELS,
    is_active: FormText = "",
    require_confirmation: FormText = "",
) -> Response:
    changes = {
        "name": name,
        "distribution_mode": distribution_mode,
        "is_active": bool(is_active),
        "require_confirmation": bool(require_confirmation),
    }
    _, error = forms.attempt(
        tx,
        lambda: catalog_admin.update_niche(
            tx, actor=viewer.actor, niche_id=niche_id, changes=changes
        ),
    )
    if error:
        return _niche_page(request, viewer, tx, niche_id, niche_error=error)
    return redirect(f"/console/niches/{niche_id}", flash="Niche saved")


@router.post("/niches/{niche_id}/levels", dependencies=[web.Csrf])
def create_level(
    request: Request,
    niche_id: UUID,
    viewer: AdminViewer,
    tx: Tx,
    name: FormText = "",
    order_position: FormText = "",
    max_recipients: FormText = "",
    price: FormText = "",
) -> Response:
    def create() -> object:
        return catalog.create_level(
            tx,
            actor=viewer.actor,
            niche_id=niche_id,
            name=name,
            order_position=forms.integer(order_position, "order position") or 0,
            max_recipients=forms.integer(max_recipients, "max recipients") or 0,
            price_per_lead_cents=forms.dollars_to_cents(price, "price"),
        )

    _, error = forms.attempt(tx, create)
    if error:
        return _niche_page(
            request,
            viewer,
            tx,
            niche_id,
            error=error,
            name=name,
            order_position=order_position,
            max_recipients=max_recipients,
            price=price,
        )
    return redirect(f"/console/niches/{niche_id}", flash=f"Level {name} created")


@router.post("/levels/{level_id}", dependencies=[web.Csrf])
def update_level(
    level_id: UUID,
    viewer: AdminViewer,
    tx: Tx,
    niche_id: FormText = "",
    name: FormText = "",
    max_recipients: FormText = "",
    price: FormText = "",
    is_active: FormText = "",
) -> Response:
    def update() -> object:
        return catalog_admin.update_level(
            tx,
            actor=viewer.actor,
            level_id=level_id,
            changes={
                "name": name,
                "max_recipients": forms.integer(max_recipients, "max recipients"),
                "price_per_lead_cents": forms.dollars_to_cents(price, "price"),
                "is_active": bool(is_active),
            },
        )

    _, error = forms.attempt(tx, update)
    target = f"/console/niches/{forms.optional_uuid(niche_id)}" if niche_id else "/console/niches"
    return redirect(target, flash=error or f"Level {name} saved", error=bool(error))


# --- providers ---


def _providers_page(
    request: Request, viewer: web.Viewer, tx: Tx, page: int, status: str, **form: Any
) -> Response:
    result = catalog_admin.list_providers(
        tx, status=status or None, page=PageRequest(page=page, limit=PAGE_SIZE)
    )
    return render(
        request,
        "providers.html",
        viewer=viewer,
        status_code=422 if form.get("error") else 200,
        providers=result.items,
        pager=pager(request, result),
        statuses=list(ProviderStatus),
        status=status,
        form=form,
    )


@router.get("/providers")
def providers(
    request: Request, viewer: AdminViewer, tx: Tx, page: PageNo = 1, status: Filter = None
) -> Response:
    return _providers_page(request, viewer, tx, page, status or "")


@router.post("/providers", dependencies=[web.Csrf])
def create_provider(
    request: Request,
    viewer: AdminViewer,
    context: Context,
    tx: Tx,
    name: FormText = "",
    email: FormText = "",
    password: FormText = "",
) -> Response:
    detail, error = forms.attempt(
        tx,
        lambda: catalog_admin.register_provider(
            tx,
            actor=viewer.actor,
            passwords=context.passwords,
            name=name,
            email=email,
            password=password or None,
        ),
    )
    if detail is None:
        return _providers_page(request, viewer, tx, 1, "", error=error, name=name, email=email)
    return redirect(
        f"/console/providers/{detail.provider.id}", flash=f"Provider {detail.provider.name} created"
    )


def _provider_page(
    request: Request, viewer: web.Viewer, tx: Tx, provider_id: UUID, page: int, **form: Any
) -> Response:
    detail = catalog_admin.get_provider(tx, provider_id=provider_id)
    ledger = catalog_admin.list_ledger(
        tx, provider_id=provider_id, page=PageRequest(page=page, limit=PAGE_SIZE)
    )
    subscriptions = catalog_admin.list_subscriptions(
        tx, provider_id=provider_id, level_id=None, niche_id=None, status=None, page=ALL
    )
    return render(
        request,
        "provider.html",
        viewer=viewer,
        status_code=422 if form.get("error") else 200,
        provider=detail.provider,
        subscriptions=subscriptions.items,
        ledger=ledger.items,
        pager=pager(request, ledger),
        idempotency_key=uuid.uuid4().hex,
        form=form,
    )


@router.get("/providers/{provider_id}")
def provider(
    request: Request, provider_id: UUID, viewer: AdminViewer, tx: Tx, page: PageNo = 1
) -> Response:
    return _provider_page(request, viewer, tx, provider_id, page)


@router.post("/providers/{provider_id}/deposits", dependencies=[web.Csrf])
def deposit(
    request: Request,
    provider_id: UUID,
    viewer: AdminViewer,
    tx: Tx,
    amount: FormText = "",
    note: FormText = "",
    idempotency_key: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """The form carries a fresh idempotency key, so a double submit credits once."""
    result, error = forms.attempt(
        tx,
        lambda: billing.deposit(
            tx,
            actor=viewer.actor,
            provider_id=provider_id,
            amount_cents=forms.dollars_to_cents(amount, "amount"),
            idempotency_key=idempotency_key or None,
            note=note or None,
        ),
    )
    if result is None:
        return _provider_page(
            request, viewer, tx, provider_id, 1, error=error, amount=amount, note=note
        )
    return redirect(
        f"/console/providers/{provider_id}",
        flash=f"Deposit recorded; balance {result.balance_cents / 100:,.2f} dollars",
    )


@router.post("/providers/{provider_id}/status", dependencies=[web.Csrf])
def set_provider_status(
    provider_id: UUID, viewer: AdminViewer, tx: Tx, status: FormText = ""
) -> Response:
    """Suspend (its users' sessions are revoked) or reactivate a provider."""
    _, error = forms.attempt(
        tx,
        lambda: catalog_admin.update_provider(
            tx, actor=viewer.actor, provider_id=provider_id, changes={"status": status}
        ),
    )
    return redirect(
        f"/console/providers/{provider_id}",
        flash=error or f"Provider is now {status}",
        error=bool(error),
    )


# --- subscriptions ---


def _subscriptions_page(
    request: Request,
    viewer: web.Viewer,
    tx: Tx,
    *,
    page: int,
    status: str,
    provider_id: str,
    niche_id: str,
    **form: Any,
) -> Response:
    result = catalog_admin.list_subscriptions(
        tx,
        provider_id=forms.optional_uuid(provider_id),
        level_id=None,
        niche_id=forms.optional_uuid(niche_id),
        status=status or None,
        page=PageRequest(page=page, limit=PAGE_SIZE),
    )
    niche_list = catalog_admin.list_niches(tx, page=ALL).items
    levels = [
        (n, lv) for n in niche_list for lv in catalog_admin.get_niche(tx, niche_id=n.id).levels
    ]
    return render(
        request,
        "subscriptions.html",
        viewer=viewer,
        status_code=422 if form.get("error") else 200,
        subscriptions=result.items,
        pager=pager(request, result),
        statuses=list(SubscriptionStatus),
        niches=niche_list,
        levels=levels,
        providers=catalog_admin.list_providers(tx, status=None, page=ALL).items,
        status=status,
        provider_id=provider_id,
        niche_id=niche_id,
        form=form,
    )


@router.get("/subscriptions")
def subscriptions(
    request: Request,
    viewer: AdminViewer,
    tx: Tx,
    page: PageNo = 1,
    status: Filter = None,
    provider_id: Filter = None,
    niche_id: Filter = None,
) -> Response:
    return _subscriptions_page(
        request,
        viewer,
        tx,
        page=page,
        status=status or "",
        provider_id=provider_id or "",
        niche_id=niche_id or "",
    )


@router.post("/subscriptions", dependencies=[web.Csrf])
def create_subscription(
    request: Request,
    viewer: AdminViewer,
    tx: Tx,
    provider_id: FormText = "",
    competition_level_id: FormText = "",
    postal_codes: FormText = "",
    daily_cap: FormText = "",
    monthly_cap: FormText = "",
) -> Response:
    def create() -> object:
        provider = forms.optional_uuid(provider_id)
        level = forms.optional_uuid(competition_level_id)
        if provider is None or level is None:
            raise InvalidInput("choose a provider and a level")
        return catalog.create_subscription(
            tx,
            actor=viewer.actor,
            provider_id=provider,
            competition_level_id=level,
            postal_codes=forms.codes(postal_codes),
            daily_cap=forms.integer(daily_cap, "daily cap", required=False),
            monthly_cap=forms.integer(monthly_cap, "monthly cap", required=False),
        )

    _, error = forms.attempt(tx, create)
    if error:
        return _subscriptions_page(
            request,
            viewer,
            tx,
            page=1,
            status="",
            provider_id="",
            niche_id="",
            error=error,
            provider=provider_id,
            level=competition_level_id,
            postal_codes=postal_codes,
            daily_cap=daily_cap,
            monthly_cap=monthly_cap,
        )
    return redirect("/console/subscriptions", flash="Subscription created")


@router.post("/subscriptions/{subscription_id}/status", dependencies=[web.Csrf])
def set_subscription_status(
    subscription_id: UUID,
    viewer: AdminViewer,
    tx: Tx,
    status: FormText = "",
    back: FormText = "",
) -> Response:
    sub, error = forms.attempt(
        tx,
        lambda: catalog_admin.update_subscription(
            tx, actor=viewer.actor, subscription_id=subscription_id, changes={"status": status}
        ),
    )
    message = error or (f"Subscription is now {sub.status}" if sub else "")
    return redirect(local_path(back, "/console/subscriptions"), flash=message, error=bool(error))
