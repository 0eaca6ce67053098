"""The webhook endpoint forms (SPEC §10): add, enable or disable, delete, rotate the secret, the
same for the console (an admin acts on any provider's endpoints) and the portal (a provider on
its own: ``Scope.provider_id`` set, another provider's endpoint is 404), through
``services.webhooks``.

A new secret is shown once: the page is rendered as the answer to the POST that made it (a
redirect would have to carry it in the flash cookie or the URL), and no later page shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import Form, Response

from leadflow.console import forms
from leadflow.db.connection import Connection
from leadflow.db.webhooks import EndpointRecord
from leadflow.domain.model import Actor
from leadflow.services import webhooks

FIELDS = ("url", "niche_id")
Url = Annotated[str, Form(max_length=2000)]
# The page that lists the endpoints, rendered with what the form adds (a new secret, errors).
Page = Callable[..., Response]


@dataclass(frozen=True, slots=True)
class Scope:
    """Who acts, under which policy, on whose endpoints (``provider_id`` None: any provider's)."""

    actor: Actor
    policy: webhooks.EndpointPolicy
    provider_id: UUID | None = None


def add(
    tx: Connection, scope: Scope, *, provider_id: UUID, url: str, niche_id: str, page: Page
) -> Response:
    """A new endpoint; its secret shown once on ``page``, or the form again with the error."""
    return forms.submit(
        tx,
        lambda: webhooks.create_endpoint(
            tx,
            actor=scope.actor,
            policy=scope.policy,
            provider_id=provider_id,
            url=url,
            niche_id=forms.optional_uuid(niche_id),
        ),
        shown=lambda made: page(new_secret=made),
        failed=lambda error: page(
            endpoint_errors=forms.field_errors(error, FIELDS),
            endpoint_url=url,
            endpoint_niche=niche_id,
        ),
    )


def set_active(
    tx: Connection,
    scope: Scope,
    endpoint_id: UUID,
    *,
    active: str,
    back: Callable[[EndpointRecord], str],
) -> Response:
    """Enable (its failure count starts again) or disable an endpoint, then back to its page."""
    endpoint = _endpoint(tx, scope, endpoint_id)
    on = active == "1"
    return forms.submit(
        tx,
        lambda: webhooks.update_endpoint(
            tx,
            actor=scope.actor,
            policy=scope.policy,
            endpoint_id=endpoint_id,
            provider_id=scope.provider_id,
            changes={"is_active": on},
        ),
        to=back(endpoint),
        flash=f"Endpoint {endpoint.url} {'enabled' if on else 'disabled'}",
    )


def delete(
    tx: Connection, scope: Scope, endpoint_id: UUID, *, back: Callable[[EndpointRecord], str]
) -> Response:
    """Delete an endpoint (its deliveries stay listed), then back to its page."""
    endpoint = _endpoint(tx, scope, endpoint_id)
    return forms.submit(
        tx,
        lambda: webhooks.delete_endpoint(
            tx, actor=scope.actor, endpoint_id=endpoint_id, provider_id=scope.provider_id
        ),
        to=back(endpoint),
        flash=f"Endpoint {endpoint.url} deleted; its deliveries stay listed",
    )


def rotate(
    tx: Connection,
    scope: Scope,
    endpoint_id: UUID,
    *,
    back: Callable[[EndpointRecord], str],
    page: Callable[[EndpointRecord], Page],
) -> Response:
    """A new secret, shown once on the endpoint's page; the old one signs too for the default
    grace period."""
    endpoint = _endpoint(tx, scope, endpoint_id)
    return forms.submit(
        tx,
        lambda: webhooks.rotate_secret(
            tx,
            actor=scope.actor,
            policy=scope.policy,
            endpoint_id=endpoint_id,
            provider_id=scope.provider_id,
        ),
        to=back(endpoint),
        shown=lambda made: page(endpoint)(new_secret=made),
    )


def _endpoint(tx: Connection, scope: Scope, endpoint_id: UUID) -> EndpointRecord:
    return webhooks.get_endpoint(tx, endpoint_id=endpoint_id, provider_id=scope.provider_id)
