"""Webhook deliveries (SPEC §10): the list by status, provider and endpoint, one delivery with
every attempt, and redeliver, through ``services.webhooks``."""

from __future__ import annotations

import contextlib
from uuid import UUID

from fastapi import APIRouter, Request, Response

from leadflow.api.deps import Tx
from leadflow.console import forms, web
from leadflow.console.forms import PAGE_SIZE, Filter
from leadflow.console.render import keyset_pager, render
from leadflow.console.web import AdminViewer
from leadflow.domain.errors import DomainError
from leadflow.services import catalog_admin, webhooks
from leadflow.services.pages import Cursor, PageRequest

router = APIRouter(prefix="/console")
ALL = PageRequest(limit=200)


@router.get("/deliveries")
def deliveries(
    request: Request,
    viewer: AdminViewer,
    tx: Tx,
    cursor: Filter = None,
    status: Filter = None,
    provider_id: Filter = None,
    endpoint_id: Filter = None,
) -> Response:
    """Newest first (``created_at DESC, id``; ids are time-ordered uuid7), by keyset: a deep
    page of a long outbox costs what the first one does."""
    provider = forms.optional_uuid(provider_id)
    endpoint = forms.optional_uuid(endpoint_id)
    if endpoint is not None and provider is None:
        # Linked from an endpoint: its provider's endpoints fill the filter.
        with contextlib.suppress(DomainError):
            provider = webhooks.get_endpoint(tx, endpoint_id=endpoint).provider_id
    result = webhooks.deliveries_from(
        tx,
        status=status or None,
        provider_id=provider,
        endpoint_id=endpoint,
        cursor=Cursor.decode(cursor) if cursor else None,
        limit=PAGE_SIZE,
    )
    providers = catalog_admin.list_providers(tx, status=None, page=ALL).items
    endpoints = (
        []
        if provider is None
        else webhooks.list_endpoints(tx, provider_id=provider, page=ALL).items
    )
    return render(
        request,
        "deliveries.html",
        viewer=viewer,
        deliveries=result.items,
        pager=keyset_pager(request, result),
        statuses=webhooks.DELIVERY_STATUSES,
        providers=providers,
        endpoints=endpoints,
        status=status or "",
        provider_id=str(provider or ""),
        endpoint_id=str(endpoint or ""),
    )


@router.get("/deliveries/{delivery_id}")
def delivery(request: Request, delivery_id: UUID, viewer: AdminViewer, tx: Tx) -> Response:
    detail = webhooks.get_delivery(tx, delivery_id=delivery_id)
    return render(request, "delivery.html", viewer=viewer, detail=detail, portal=False)


@router.post("/deliveries/{delivery_id}/redeliver", dependencies=[web.Csrf])
def redeliver(delivery_id: UUID, viewer: AdminViewer, tx: Tx) -> Response:
    """Send it again (same body, same id) on a fresh round of retries."""
    return forms.submit(
        tx,
        lambda: webhooks.redeliver(tx, actor=viewer.actor, delivery_id=delivery_id),
        to=f"/console/deliveries/{delivery_id}",
        flash="Redelivery queued; the worker sends it now",
    )
