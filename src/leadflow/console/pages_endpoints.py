"""A provider's webhook endpoints on its page (SPEC §10): add, enable or disable, delete, rotate
the secret, through ``services.webhooks``.

A new secret is shown once: the page is rendered as the answer to the POST that made it (a
redirect would have to carry it in the flash cookie or the URL), and no later page shows it.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Request, Response

from leadflow.api.deps import Context, Tx
from leadflow.console import forms, web
from leadflow.console.forms import Text
from leadflow.console.pages_providers import provider_page
from leadflow.console.web import AdminViewer
from leadflow.services import webhooks

router = APIRouter(prefix="/console")
ENDPOINT_FIELDS = ("url", "niche_id")
Url = Annotated[str, Form(max_length=2000)]


def _back(provider_id: UUID) -> str:
    return f"/console/providers/{provider_id}"


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
    return forms.submit(
        tx,
        lambda: webhooks.create_endpoint(
            tx,
            actor=viewer.actor,
            policy=context.webhook_policy,
            provider_id=provider_id,
            url=url,
            niche_id=forms.optional_uuid(niche_id),
        ),
        shown=lambda made: provider_page(request, viewer, tx, provider_id, 1, new_secret=made),
        failed=lambda error: provider_page(
            request,
            viewer,
            tx,
            provider_id,
            1,
            endpoint_errors=forms.field_errors(error, ENDPOINT_FIELDS),
            endpoint_url=url,
            endpoint_niche=niche_id,
        ),
    )


@router.post("/endpoints/{endpoint_id}/active", dependencies=[web.Csrf])
def set_active(
    endpoint_id: UUID, viewer: AdminViewer, context: Context, tx: Tx, active: Text = ""
) -> Response:
    """Enable (its failure count starts again) or disable an endpoint."""
    endpoint = webhooks.get_endpoint(tx, endpoint_id=endpoint_id)
    on = active == "1"
    return forms.submit(
        tx,
        lambda: webhooks.update_endpoint(
            tx,
            actor=viewer.actor,
            policy=context.webhook_policy,
            endpoint_id=endpoint_id,
            changes={"is_active": on},
        ),
        to=_back(endpoint.provider_id),
        flash=f"Endpoint {endpoint.url} {'enabled' if on else 'disabled'}",
    )


@router.post("/endpoints/{endpoint_id}/delete", dependencies=[web.Csrf])
def delete(endpoint_id: UUID, viewer: AdminViewer, tx: Tx) -> Response:
    endpoint = webhooks.get_endpoint(tx, endpoint_id=endpoint_id)
    return forms.submit(
        tx,
        lambda: webhooks.delete_endpoint(tx, actor=viewer.actor, endpoint_id=endpoint_id),
        to=_back(endpoint.provider_id),
        flash=f"Endpoint {endpoint.url} deleted; its deliveries stay listed",
    )


@router.post("/endpoints/{endpoint_id}/rotate", dependencies=[web.Csrf])
def rotate(
    request: Request, endpoint_id: UUID, viewer: AdminViewer, context: Context, tx: Tx
) -> Response:
    """A new secret, shown once; the old one signs too for the default grace period."""
    endpoint = webhooks.get_endpoint(tx, endpoint_id=endpoint_id)
    return forms.submit(
        tx,
        lambda: webhooks.rotate_secret(
            tx, actor=viewer.actor, policy=context.webhook_policy, endpoint_id=endpoint_id
        ),
        to=_back(endpoint.provider_id),
        shown=lambda made: provider_page(
            request, viewer, tx, endpoint.provider_id, 1, new_secret=made
        ),
    )
