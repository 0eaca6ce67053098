"""Catalog pages: niches and their levels (create, edit, activate)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response

from leadflow.api.deps import Tx
from leadflow.console import forms, web
from leadflow.console.forms import PAGE_SIZE, PageNo, Text
from leadflow.console.render import pager, render
from leadflow.console.web import AdminViewer
from leadflow.domain.model import DistributionMode
from leadflow.services import catalog, catalog_admin
from leadflow.services.pages import PageRequest

router = APIRouter(prefix="/console")


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
    slug: Text = "",
    name: Text = "",
    distribution_mode: Text = DistributionMode.ALL_LEVELS,
    require_confirmation: Text = "",
) -> Response:
    return forms.submit(
        tx,
        lambda: catalog.create_niche(
            tx,
            actor=viewer.actor,
            slug=slug.strip(),
            name=name,
            distribution_mode=distribution_mode,
            require_confirmation=bool(require_confirmation),
        ),
        to=lambda niche: f"/console/niches/{niche.id}",
        flash=lambda niche: f"Niche {niche.slug} created",
        failed=lambda error: _niches_page(
            request, viewer, tx, 1, error=error, slug=slug, name=name, mode=distribution_mode
        ),
    )


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
    name: Text = "",
    distribution_mode: Text = DistributionMode.ALL_LEVELS,
    is_active: Text = "",
    require_confirmation: Text = "",
) -> Response:
    changes = {
        "name": name,
        "distribution_mode": distribution_mode,
        "is_active": bool(is_active),
        "require_confirmation": bool(require_confirmation),
    }
    return forms.submit(
        tx,
        lambda: catalog_admin.update_niche(
            tx, actor=viewer.actor, niche_id=niche_id, changes=changes
        ),
        to=f"/console/niches/{niche_id}",
        flash="Niche saved",
        failed=lambda error: _niche_page(request, viewer, tx, niche_id, niche_error=error),
    )


@router.post("/niches/{niche_id}/levels", dependencies=[web.Csrf])
def create_level(
    request: Request,
    niche_id: UUID,
    viewer: AdminViewer,
    tx: Tx,
    name: Text = "",
    order_position: Text = "",
    max_recipients: Text = "",
    price: Text = "",
) -> Response:
    return forms.submit(
        tx,
        lambda: catalog.create_level(
            tx,
            actor=viewer.actor,
            niche_id=niche_id,
            name=name,
            order_position=forms.integer(order_position, "order position") or 0,
            max_recipients=forms.integer(max_recipients, "max recipients") or 0,
            price_per_lead_cents=forms.dollars_to_cents(price, "price"),
        ),
        to=f"/console/niches/{niche_id}",
        flash=f"Level {name} created",
        failed=lambda error: _niche_page(
            request,
            viewer,
            tx,
            niche_id,
            error=error,
            name=name,
            order_position=order_position,
            max_recipients=max_recipients,
            price=price,
        ),
    )


@router.post("/levels/{level_id}", dependencies=[web.Csrf])
def update_level(
    level_id: UUID,
    viewer: AdminViewer,
    tx: Tx,
    niche_id: Text = "",
    name: Text = "",
    max_recipients: Text = "",
    price: Text = "",
    is_active: Text = "",
    price_overrides: Text = "",
) -> Response:
    target = f"/console/niches/{forms.optional_uuid(niche_id)}" if niche_id else "/console/niches"
    return forms.submit(
        tx,
        lambda: catalog_admin.update_level(
            tx,
            actor=viewer.actor,
            level_id=level_id,
            changes={
                "name": name,
                "max_recipients": forms.integer(max_recipients, "max recipients"),
                "price_per_lead_cents": forms.dollars_to_cents(price, "price"),
                "is_active": bool(is_active),
                "price_overrides": forms.price_overrides(price_overrides),
            },
        ),
        to=target,
        flash=f"Level {name} saved",
    )
