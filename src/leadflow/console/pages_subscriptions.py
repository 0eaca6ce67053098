"""Catalog pages: subscriptions (filter, create, pause, cancel, resume)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response

from leadflow.api.deps import Tx
from leadflow.console import forms, web
from leadflow.console.forms import PAGE_SIZE, Filter, PageNo, Text
from leadflow.console.render import local_path, pager, render
from leadflow.console.web import AdminViewer
from leadflow.domain.errors import InvalidInput
from leadflow.domain.model import SubscriptionStatus
from leadflow.services import catalog, catalog_admin
from leadflow.services.pages import PageRequest

router = APIRouter(prefix="/console")
ALL = PageRequest(limit=200)


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
    provider_id: Text = "",
    competition_level_id: Text = "",
    postal_codes: Text = "",
    daily_cap: Text = "",
    monthly_cap: Text = "",
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

    return forms.submit(
        tx,
        create,
        to="/console/subscriptions",
        flash="Subscription created",
        failed=lambda error: _subscriptions_page(
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
        ),
    )


@router.post("/subscriptions/{subscription_id}/status", dependencies=[web.Csrf])
def set_subscription_status(
    subscription_id: UUID,
    viewer: AdminViewer,
    tx: Tx,
    status: Text = "",
    back: Text = "",
) -> Response:
    return forms.submit(
        tx,
        lambda: catalog_admin.update_subscription(
            tx, actor=viewer.actor, subscription_id=subscription_id, changes={"status": status}
        ),
        to=local_path(back, "/console/subscriptions"),
        flash=lambda sub: f"Subscription is now {sub.status}",
    )
