"""The portal's webhook pages (SPEC §10): my endpoints with their recent deliveries (add, enable
or disable, delete, rotate the secret) and one delivery with its attempts, through
``services.webhooks`` with the provider's id: another provider's endpoint or delivery is 404.

A new secret is shown once, on the page answering the POST that made it (see
``pages_endpoints``)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response

from leadflow.api.deps import Context, Tx
from leadflow.console import forms, web
from leadflow.console.forms import Text
from leadflow.console.pages_endpoints import ENDPOINT_FIELDS, Url
from leadflow.console.pages_portal import provider_of
from leadflow.console.render import render
from leadflow.console.web import ProviderViewer
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


@router.post("/endpoints", dependencies=[web.Csrf])
def add_endpoint(
    request: Request,
    viewer: ProviderViewer,
    context: Context,
    tx: Tx,
    url: Url = "",
    niche_id: Text = "",
) -> Response:
    return forms.submit(
        tx,
        lambda: webhooks.create_endpoint(
            tx,
            actor=viewer.actor,
            policy=context.webhook_policy,
            provider_id=provider_of(viewer),
            url=url,
            niche_id=forms.optional_uuid(niche_id),
        ),
        shown=lambda made: _endpoints_page(request, viewer, tx, new_secret=made),
        failed=lambda error: _endpoints_page(
            request,
            viewer,
            tx,
            endpoint_errors=forms.field_errors(error, ENDPOINT_FIELDS),
            endpoint_url=url,
            endpoint_niche=niche_id,
        ),
    )


@router.post("/endpoints/{endpoint_id}/active", dependencies=[web.Csrf])
def set_active(
    endpoint_id: UUID, viewer: ProviderViewer, context: Context, tx: Tx, active: Text = ""
) -> Response:
    endpoint = webhooks.get_endpoint(tx, endpoint_id=endpoint_id, provider_id=provider_of(viewer))
    on = active == "1"
    return forms.submit(
        tx,
        lambda: webhooks.update_endpoint(
            tx,
            actor=viewer.actor,
            policy=context.webhook_policy,
            endpoint_id=endpoint_id,
            provider_id=provider_of(viewer),
            changes={"is_active": on},
        ),
        to=HOME,
        flash=f"Endpoint {endpoint.url} {'enabled' if on else 'disabled'}",
    )


@router.post("/endpoints/{endpoint_id}/delete", dependencies=[web.Csrf])
def delete(endpoint_id: UUID, viewer: ProviderViewer, tx: Tx) -> Response:
    endpoint = webhooks.get_endpoint(tx, endpoint_id=endpoint_id, provider_id=provider_of(viewer))
    return forms.submit(
        tx,
        lambda: webhooks.delete_endpoint(
            tx, actor=viewer.actor, endpoint_id=endpoint_id, provider_id=provider_of(viewer)
        ),
        to=HOME,
        flash=f"Endpoint {endpoint.url} deleted",
    )


@router.post("/endpoints/{endpoint_id}/rotate", dependencies=[web.Csrf])
def rotate(
    request: Request, endpoint_id: UUID, viewer: ProviderViewer, context: Context, tx: Tx
) -> Response:
    webhooks.get_endpoint(tx, endpoint_id=endpoint_id, provider_id=provider_of(viewer))
    return forms.submit(
        tx,
        lambda: webhooks.rotate_secret(
            tx,
            actor=viewer.actor,
            policy=context.webhook_policy,
            endpoint_id=endpoint_id,
            provider_id=provider_of(viewer),
        ),
        to=HOME,
        shown=lambda made: _endpoints_page(request, viewer, tx, new_secret=made),
    )


@router.get("/deliveries/{delivery_id}")
def my_delivery(request: Request, delivery_id: UUID, viewer: ProviderViewer, tx: Tx) -> Response:
    detail = webhooks.get_delivery(tx, delivery_id=delivery_id, provider_id=provider_of(viewer))
    return render(request, "delivery.html", viewer=viewer, detail=detail, portal=True)
