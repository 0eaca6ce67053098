"""The portal's webhook pages (SPEC §10): my endpoints with their recent deliveries (add, enable
or disable, delete, rotate the secret) and one delivery with its attempts, through
``services.webhooks`` with the provider's id: another provider's endpoint or delivery is 404.

The forms are the shared ``endpoint_forms``, scoped to the provider."""

from __future__ import annotations

from functools import partial
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response

from leadflow.api.deps import Context, Tx
from leadflow.console import endpoint_forms, forms, web
from leadflow.console.endpoint_forms import Scope, Url
from leadflow.console.forms import Text
from leadflow.console.pages_portal import provider_of
from leadflow.console.render import render
from leadflow.console.web import ProviderViewer
from leadflow.db.webhooks import EndpointRecord
from leadflow.services import portal, webhooks
from leadflow.services.pages import PageRequest

router = APIRouter(prefix="/portal")
HOME = "/portal/endpoints"
ALL = PageRequest(limit=200)
RECENT = PageRequest(limit=5)


def _endpoints_page(
    request: Request,
    viewer: web.Viewer,
    tx: Tx,
    *,
    new_secret: webhooks.NewSecret | None = None,
    **form: Any,
) -> Response:
    provider_id = provider_of(viewer)
    profile = portal.profile(tx, provider_id=provider_id)
    endpoints = webhooks.list_endpoints(tx, provider_id=provider_id, page=ALL).items
    recent = {
        e.id: webhooks.list_deliveries(
            tx, endpoint_id=e.id, provider_id=provider_id, page=RECENT
        ).items
        for e in endpoints
    }
    return render(
        request,
        "portal_endpoints.html",
        viewer=viewer,
        status_code=422 if form.get("endpoint_errors") else 200,
        profile=profile,
        endpoints=endpoints,
        recent=recent,
        endpoint_niches=forms.niche_choices(profile.subscriptions),
        new_secret=new_secret,
        form=form,
    )


@router.get("/endpoints")
def my_endpoints(request: Request, viewer: ProviderViewer, tx: Tx) -> Response:
    return _endpoints_page(request, viewer, tx)


def _scope(viewer: ProviderViewer, context: Context) -> Scope:
    return Scope(viewer.actor, context.webhook_policy, provider_of(viewer))


def _home(_: EndpointRecord) -> str:
    return HOME


@router.post("/endpoints", dependencies=[web.Csrf])
def add_endpoint(
    request: Request,
    viewer: ProviderViewer,
    context: Context,
    tx: Tx,
    url: Url = "",
    niche_id: Text = "",
) -> Response:
    return endpoint_forms.add(
        tx,
        _scope(viewer, context),
        provider_id=provider_of(viewer),
        url=url,
        niche_id=niche_id,
        page=partial(_endpoints_page, request, viewer, tx),
    )


@router.post("/endpoints/{endpoint_id}/active", dependencies=[web.Csrf])
def set_active(
    endpoint_id: UUID, viewer: ProviderViewer, context: Context, tx: Tx, active: Text = ""
) -> Response:
    return endpoint_forms.set_active(
        tx, _scope(viewer, context), endpoint_id, active=active, back=_home
    )


@router.post("/endpoints/{endpoint_id}/delete", dependencies=[web.Csrf])
def delete(endpoint_id: UUID, viewer: ProviderViewer, context: Context, tx: Tx) -> Response:
    return endpoint_forms.delete(tx, _scope(viewer, context), endpoint_id, back=_home)


@router.post("/endpoints/{endpoint_id}/rotate", dependencies=[web.Csrf])
def rotate(
    request: Request, endpoint_id: UUID, viewer: ProviderViewer, context: Context, tx: Tx
) -> Response:
    return endpoint_forms.rotate(
        tx,
        _scope(viewer, context),
        endpoint_id,
        back=_home,
        page=lambda _: partial(_endpoints_page, request, viewer, tx),
    )


@router.get("/deliveries/{delivery_id}")
def my_delivery(request: Request, delivery_id: UUID, viewer: ProviderViewer, tx: Tx) -> Response:
    detail = webhooks.get_delivery(tx, delivery_id=delivery_id, provider_id=provider_of(viewer))
    return render(request, "delivery.html", viewer=viewer, detail=detail, portal=True)
