"""A provider's webhook endpoints on its console page (SPEC §10): the shared endpoint forms
(``endpoint_forms``) for an admin, who may act on any provider's endpoints."""

from __future__ import annotations

from functools import partial
from uuid import UUID

from fastapi import APIRouter, Request, Response

from leadflow.api.deps import Context, Tx
from leadflow.console import endpoint_forms, web
from leadflow.console.endpoint_forms import Scope, Url
from leadflow.console.forms import Text
from leadflow.console.pages_providers import provider_page
from leadflow.console.web import AdminViewer
from leadflow.db.webhooks import EndpointRecord

router = APIRouter(prefix="/console")


def _scope(viewer: AdminViewer, context: Context) -> Scope:
    return Scope(viewer.actor, context.webhook_policy)


def _back(endpoint: EndpointRecord) -> str:
    return f"/console/providers/{endpoint.provider_id}"


@router.post("/providers/{provider_id}/endpoints", dependencies=[web.Csrf])
def add_endpoint(
    request: Request,
    provider_id: UUID,
    viewer: AdminViewer,
    context: Context,
    tx: Tx,
    url: Url = "",
    niche_id: Text = "",
) -> Response:
    return endpoint_forms.add(
        tx,
        _scope(viewer, context),
        provider_id=provider_id,
        url=url,
        niche_id=niche_id,
        page=partial(provider_page, request, viewer, tx, provider_id, ""),
    )


@router.post("/endpoints/{endpoint_id}/active", dependencies=[web.Csrf])
def set_active(
    endpoint_id: UUID, viewer: AdminViewer, context: Context, tx: Tx, active: Text = ""
) -> Response:
    return endpoint_forms.set_active(
        tx, _scope(viewer, context), endpoint_id, active=active, back=_back
    )


@router.post("/endpoints/{endpoint_id}/delete", dependencies=[web.Csrf])
def delete(endpoint_id: UUID, viewer: AdminViewer, context: Context, tx: Tx) -> Response:
    return endpoint_forms.delete(tx, _scope(viewer, context), endpoint_id, back=_back)


@router.post("/endpoints/{endpoint_id}/rotate", dependencies=[web.Csrf])
def rotate(
    request: Request, endpoint_id: UUID, viewer: AdminViewer, context: Context, tx: Tx
) -> Response:
    return endpoint_forms.rotate(
        tx,
        _scope(viewer, context),
        endpoint_id,
        back=_back,
        page=lambda endpoint: partial(provider_page, request, viewer, tx, endpoint.provider_id, ""),
    )
