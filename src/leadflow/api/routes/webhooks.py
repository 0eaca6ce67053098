"""Webhook endpoints and deliveries (SPEC §10): the admin routes and the provider's own."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response, status

from leadflow.api.deps import (
    Context,
    CurrentAdmin,
    CurrentPrincipal,
    CurrentProviderId,
    Paging,
    Tx,
    current_admin,
    current_provider,
)
from leadflow.api.routes.common import API_PREFIX, errors, page_out
from leadflow.api.schemas.base import PageOut
from leadflow.api.schemas.webhooks import (
    AttemptOut,
    DeliveryDetailOut,
    DeliveryOut,
    DeliveryStatus,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
    EndpointSecretOut,
    RotateIn,
)
from leadflow.db.webhooks import DeliveryView
from leadflow.domain.model import Actor, ActorRole
from leadflow.services import webhooks

admin = APIRouter(
    prefix=f"{API_PREFIX}/admin", tags=["admin: webhooks"], dependencies=[Depends(current_admin)]
)
provider = APIRouter(
    prefix=f"{API_PREFIX}/provider",
    tags=["provider portal"],
    dependencies=[Depends(current_provider)],
)
StatusFilter = Annotated[DeliveryStatus | None, Query(alias="status")]
_URL_ERRORS = errors(422, 503)


def _secret_out(made: webhooks.NewSecret) -> EndpointSecretOut:
    return EndpointSecretOut(
        **EndpointOut.model_validate(made.endpoint).model_dump(), secret=made.secret
    )


def _delivery(view: DeliveryView) -> DeliveryOut:
    return DeliveryOut.model_validate(_delivery_fields(view))


def _delivery_fields(view: DeliveryView) -> dict[str, object]:
    fields = {k: getattr(view, k) for k in DeliveryView.__dataclass_fields__}
    fields["attempt_count"] = fields.pop("attempts")
    if view.status != "pending":
        fields["next_attempt_at"] = None
    return fields


def _detail(detail: webhooks.DeliveryDetail) -> DeliveryDetailOut:
    return DeliveryDetailOut.model_validate(
        {
            **_delivery_fields(detail.delivery),
            "attempts": [AttemptOut.model_validate(a) for a in detail.attempts],
        }
    )


def _provider_actor(principal: CurrentPrincipal) -> Actor:
    return Actor(role=ActorRole.PROVIDER, id=str(principal.user_id))


# The use cases both routers serve; a provider's calls carry its id, which scopes them.


def _create(
    tx: Tx, context: Context, actor: Actor, provider_id: UUID, body: EndpointIn
) -> EndpointSecretOut:
    made = webhooks.create_endpoint(
        tx,
        actor=actor,
        policy=context.webhook_policy,
        provider_id=provider_id,
        url=body.url,
        niche_id=body.niche_id,
        is_active=body.is_active,
    )
    return _secret_out(made)


def _endpoints(tx: Tx, provider_id: UUID, paging: Paging) -> PageOut[EndpointOut]:
    return page_out(
        webhooks.list_endpoints(tx, provider_id=provider_id, page=paging),
        EndpointOut.model_validate,
    )


def _update(
    tx: Tx,
    context: Context,
    actor: Actor,
    endpoint_id: UUID,
    body: EndpointPatch,
    provider_id: UUID | None = None,
) -> EndpointOut:
    endpoint = webhooks.update_endpoint(
        tx,
        actor=actor,
        policy=context.webhook_policy,
        endpoint_id=endpoint_id,
        provider_id=provider_id,
        changes=body.model_dump(exclude_unset=True),
    )
    return EndpointOut.model_validate(endpoint)


def _rotate(
    tx: Tx,
    context: Context,
    actor: Actor,
    endpoint_id: UUID,
    body: RotateIn,
    provider_id: UUID | None = None,
) -> EndpointSecretOut:
    made = webhooks.rotate_secret(
        tx,
        actor=actor,
        policy=context.webhook_policy,
        endpoint_id=endpoint_id,
        provider_id=provider_id,
        grace_hours=body.grace_hours,
    )
    return _secret_out(made)


def _deliveries(
    tx: Tx,
    paging: Paging,
    delivery_status: str | None,
    endpoint_id: UUID | None,
    provider_id: UUID | None,
) -> PageOut[DeliveryOut]:
    page = webhooks.list_deliveries(
        tx, page=paging, status=delivery_status, endpoint_id=endpoint_id, provider_id=provider_id
    )
    return page_out(page, _delivery)


# --- admin -------------------------------------------------------------------------------------


@admin.post(
    "/providers/{provider_id}/endpoints",
    status_code=status.HTTP_201_CREATED,
    response_model=EndpointSecretOut,
    responses=_URL_ERRORS,
)
def create_endpoint(
    provider_id: UUID, body: EndpointIn, actor: CurrentAdmin, context: Context, tx: Tx
) -> EndpointSecretOut:
    """A delivery endpoint for the provider. The response carries its signing ``secret``, the
    only time it is shown. A URL that is not https (outside the allow-list) or resolves to a
    private, loopback, link-local or metadata address → 422."""
    return _create(tx, context, actor, provider_id, body)


@admin.get("/providers/{provider_id}/endpoints", response_model=PageOut[EndpointOut])
def list_endpoints(provider_id: UUID, tx: Tx, paging: Paging) -> PageOut[EndpointOut]:
    return _endpoints(tx, provider_id, paging)


@admin.get("/endpoints/{endpoint_id}", response_model=EndpointOut)
def get_endpoint(endpoint_id: UUID, tx: Tx) -> EndpointOut:
    return EndpointOut.model_validate(webhooks.get_endpoint(tx, endpoint_id=endpoint_id))


@admin.patch("/endpoints/{endpoint_id}", response_model=EndpointOut, responses=_URL_ERRORS)
def update_endpoint(
    endpoint_id: UUID, body: EndpointPatch, actor: CurrentAdmin, context: Context, tx: Tx
) -> EndpointOut:
    """Change ``url``, ``niche_id`` or ``is_active``; activating a disabled endpoint starts its
    failure count again."""
    return _update(tx, context, actor, endpoint_id, body)


@admin.delete("/endpoints/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_endpoint(endpoint_id: UUID, actor: CurrentAdmin, tx: Tx) -> Response:
    """Nothing more is delivered to it; its deliveries stay listed."""
    webhooks.delete_endpoint(tx, actor=actor, endpoint_id=endpoint_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@admin.post(
    "/endpoints/{endpoint_id}/rotate-secret",
    response_model=EndpointSecretOut,
    responses=errors(503),
)
def rotate_secret(
    endpoint_id: UUID, body: RotateIn, actor: CurrentAdmin, context: Context, tx: Tx
) -> EndpointSecretOut:
    """A new signing secret (shown once); the old one also signs for ``grace_hours``."""
    return _rotate(tx, context, actor, endpoint_id, body)


@admin.get("/deliveries", response_model=PageOut[DeliveryOut])
def list_deliveries(
    tx: Tx,
    paging: Paging,
    delivery_status: StatusFilter = None,
    endpoint_id: UUID | None = None,
    provider_id: UUID | None = None,
) -> PageOut[DeliveryOut]:
    """Deliveries, newest first, optionally by ``status``, ``endpoint_id`` and ``provider_id``."""
    return _deliveries(tx, paging, delivery_status, endpoint_id, provider_id)


@admin.get("/deliveries/{delivery_id}", response_model=DeliveryDetailOut)
def get_delivery(delivery_id: UUID, tx: Tx) -> DeliveryDetailOut:
    """A delivery with every attempt: time, status code, latency, the reply's first 1 KiB."""
    return _detail(webhooks.get_delivery(tx, delivery_id=delivery_id))


@admin.post(
    "/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryDetailOut,
    responses=errors(409),
)
def redeliver(delivery_id: UUID, actor: CurrentAdmin, tx: Tx) -> DeliveryDetailOut:
    """Send a delivered, failed or refused delivery again: the same body and delivery id, due
    now. A pending one, or one whose endpoint is not active → 409."""
    return _detail(webhooks.redeliver(tx, actor=actor, delivery_id=delivery_id))


# --- provider ----------------------------------------------------------------------------------


@provider.post(
    "/endpoints",
    status_code=status.HTTP_201_CREATED,
    response_model=EndpointSecretOut,
    responses=_URL_ERRORS,
)
def create_own_endpoint(
    body: EndpointIn,
    provider_id: CurrentProviderId,
    principal: CurrentPrincipal,
    context: Context,
    tx: Tx,
) -> EndpointSecretOut:
    """An endpoint of the provider's own; the ``secret`` is shown this once."""
    return _create(tx, context, _provider_actor(principal), provider_id, body)


@provider.get("/endpoints", response_model=PageOut[EndpointOut])
def list_own_endpoints(
    provider_id: CurrentProviderId, tx: Tx, paging: Paging
) -> PageOut[EndpointOut]:
    return _endpoints(tx, provider_id, paging)


@provider.get("/endpoints/{endpoint_id}", response_model=EndpointOut)
def get_own_endpoint(endpoint_id: UUID, provider_id: CurrentProviderId, tx: Tx) -> EndpointOut:
    """One of the provider's endpoints; 404 unless it is theirs."""
    return EndpointOut.model_validate(
        webhooks.get_endpoint(tx, endpoint_id=endpoint_id, provider_id=provider_id)
    )


@provider.patch("/endpoints/{endpoint_id}", response_model=EndpointOut, responses=_URL_ERRORS)
def update_own_endpoint(
    endpoint_id: UUID,
    body: EndpointPatch,
    provider_id: CurrentProviderId,
    principal: CurrentPrincipal,
    context: Context,
    tx: Tx,
) -> EndpointOut:
    return _update(tx, context, _provider_actor(principal), endpoint_id, body, provider_id)


@provider.delete("/endpoints/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_own_endpoint(
    endpoint_id: UUID, provider_id: CurrentProviderId, principal: CurrentPrincipal, tx: Tx
) -> Response:
    webhooks.delete_endpoint(
        tx, actor=_provider_actor(principal), endpoint_id=endpoint_id, provider_id=provider_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@provider.post(
    "/endpoints/{endpoint_id}/rotate-secret",
    response_model=EndpointSecretOut,
    responses=errors(503),
)
def rotate_own_secret(
    endpoint_id: UUID,
    body: RotateIn,
    provider_id: CurrentProviderId,
    principal: CurrentPrincipal,
    context: Context,
    tx: Tx,
) -> EndpointSecretOut:
    return _rotate(tx, context, _provider_actor(principal), endpoint_id, body, provider_id)


@provider.get("/deliveries", response_model=PageOut[DeliveryOut])
def list_own_deliveries(
    provider_id: CurrentProviderId,
    tx: Tx,
    paging: Paging,
    delivery_status: StatusFilter = None,
    endpoint_id: UUID | None = None,
) -> PageOut[DeliveryOut]:
    """The provider's deliveries, newest first."""
    return _deliveries(tx, paging, delivery_status, endpoint_id, provider_id)


@provider.get("/deliveries/{delivery_id}", response_model=DeliveryDetailOut)
def get_own_delivery(
    delivery_id: UUID, provider_id: CurrentProviderId, tx: Tx
) -> DeliveryDetailOut:
    """One of the provider's deliveries with its attempts; 404 unless it is theirs."""
    return _detail(webhooks.get_delivery(tx, delivery_id=delivery_id, provider_id=provider_id))
