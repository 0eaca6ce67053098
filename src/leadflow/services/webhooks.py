"""Webhook endpoints and their deliveries (SPEC §10): what admins and providers manage and see.

An endpoint's URL passes the SSRF guard when it is created or changed (https, or http to an
allowed host; its host resolves to public addresses only), and again at every send
(``services.deliveries``). Its secret is generated here, returned once, and kept sealed.
A provider sees and changes only its own endpoints and deliveries: another's is "not found".
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from leadflow.db import audit, catalog
from leadflow.db import webhooks as db
from leadflow.db.connection import Connection
from leadflow.domain.errors import InvalidInput, InvalidState, NotConfigured, found
from leadflow.domain.model import Actor
from leadflow.services.pages import Cursor, KeysetPage, Page, PageRequest, Stamped, keyset_page
from leadflow.webhooks.addresses import UnsafeUrl, check_url, resolve_checked
from leadflow.webhooks.secret_box import SecretBox, new_signing_secret

DEFAULT_GRACE_HOURS = 24
MAX_GRACE_HOURS = 24 * 7
DELIVERY_STATUSES = ("pending", "delivered", "failed", "rejected_by_buyer")


@dataclass(frozen=True, slots=True)
class EndpointPolicy:
    """What endpoint changes need from the configuration: the hosts exempt from the address
    check, and the box that seals secrets (None: no ``LEADFLOW_SECRET_KEY``)."""

    allow_hosts: Collection[str]
    box: SecretBox | None

    def sealer(self) -> SecretBox:
        if self.box is None:
            raise NotConfigured("webhook endpoints need LEADFLOW_SECRET_KEY, which is not set")
        return self.box


@dataclass(frozen=True, slots=True)
class NewSecret:
    """An endpoint with the secret it was just given: the only time the secret is shown."""

    endpoint: db.EndpointRecord
    secret: str


@dataclass(frozen=True, slots=True)
class DeliveryDetail:
    delivery: db.DeliveryView
    attempts: list[db.AttemptView]


def create_endpoint(
    tx: Connection,
    *,
    actor: Actor,
    policy: EndpointPolicy,
    provider_id: UUID,
    url: str,
    niche_id: UUID | None = None,
    is_active: bool = True,
) -> NewSecret:
    """A new endpoint for the provider, with a fresh secret."""
    box = policy.sealer()
    found(catalog.get_provider(tx, provider_id), "provider", provider_id)
    url = _checked_url(url, policy)
    _check_niche(tx, provider_id, niche_id)
    secret = new_signing_secret()
    endpoint = db.insert_endpoint(
        tx,
        provider_id=provider_id,
        niche_id=niche_id,
        url=url,
        is_active=is_active,
        secret_ciphertext=box.seal(secret),
    )
    audit.record(
        tx,
        actor,
        "webhook_endpoint.created",
        "webhook_endpoint",
        endpoint.id,
        {"provider_id": str(provider_id), "url": url, "niche_id": _text(niche_id)},
    )
    return NewSecret(endpoint, secret)


def list_endpoints(
    tx: Connection, *, provider_id: UUID, page: PageRequest
) -> Page[db.EndpointRecord]:
    found(catalog.get_provider(tx, provider_id), "provider", provider_id)
    total, items = db.list_endpoints(
        tx, provider_id=provider_id, limit=page.limit, offset=page.offset
    )
    return Page.of(page, total, items)


def get_endpoint(
    tx: Connection, *, endpoint_id: UUID, provider_id: UUID | None = None, lock: bool = False
) -> db.EndpointRecord:
    """The endpoint; with ``provider_id`` (a provider asking), only if it is theirs."""
    endpoint = db.get_endpoint(tx, endpoint_id, lock=lock)
    if endpoint is not None and provider_id is not None and endpoint.provider_id != provider_id:
        endpoint = None
    return found(endpoint, "endpoint", endpoint_id)


def update_endpoint(
    tx: Connection,
    *,
    actor: Actor,
    policy: EndpointPolicy,
    endpoint_id: UUID,
    changes: Mapping[str, Any],
    provider_id: UUID | None = None,
) -> db.EndpointRecord:
    """Apply ``changes`` (any of ``url``, ``niche_id`` — None: every niche — and ``is_active``).
    Re-activating a disabled endpoint starts its failure count again."""
    unknown = set(changes) - {"url", "niche_id", "is_active"}
    if unknown:
        raise InvalidInput(f"unknown fields: {', '.join(sorted(unknown))}")
    # The URL's DNS lookup comes before the lock: a slow resolver holds no row.
    new_url = _checked_url(changes["url"], policy) if "url" in changes else None
    current = get_endpoint(tx, endpoint_id=endpoint_id, provider_id=provider_id, lock=True)
    url = current.url if new_url is None else new_url
    niche_id: UUID | None = changes.get("niche_id", current.niche_id)
    if niche_id != current.niche_id:
        _check_niche(tx, current.provider_id, niche_id)
    is_active = bool(changes.get("is_active", current.is_active))
    endpoint = db.update_endpoint(tx, endpoint_id, url=url, niche_id=niche_id, is_active=is_active)
    audit.record(
        tx,
        actor,
        "webhook_endpoint.updated",
        "webhook_endpoint",
        endpoint_id,
        {"url": url, "niche_id": _text(niche_id), "is_active": is_active},
    )
    return endpoint


def rotate_secret(
    tx: Connection,
    *,
    actor: Actor,
    policy: EndpointPolicy,
    endpoint_id: UUID,
    provider_id: UUID | None = None,
    grace_hours: int = DEFAULT_GRACE_HOURS,
) -> NewSecret:
    """A new secret; the old one keeps signing for ``grace_hours`` (0: stops at once)."""
    box = policy.sealer()
    if not 0 <= grace_hours <= MAX_GRACE_HOURS:
        raise InvalidInput(f"grace_hours must be 0..{MAX_GRACE_HOURS}")
    get_endpoint(tx, endpoint_id=endpoint_id, provider_id=provider_id, lock=True)
    secret = new_signing_secret()
    endpoint = db.rotate_secret(
        tx, endpoint_id, secret_ciphertext=box.seal(secret), grace_hours=grace_hours
    )
    audit.record(
        tx,
        actor,
        "webhook_endpoint.secret_rotated",
        "webhook_endpoint",
        endpoint_id,
        {"grace_hours": grace_hours},
    )
    return NewSecret(endpoint, secret)


def delete_endpoint(
    tx: Connection, *, actor: Actor, endpoint_id: UUID, provider_id: UUID | None = None
) -> None:
    """Stop delivering to it and hide it; its deliveries stay listed (pending ones are not sent)."""
    get_endpoint(tx, endpoint_id=endpoint_id, provider_id=provider_id, lock=True)
    db.delete_endpoint(tx, endpoint_id)
    audit.record(tx, actor, "webhook_endpoint.deleted", "webhook_endpoint", endpoint_id)


def list_deliveries(
    tx: Connection,
    *,
    page: PageRequest,
    status: str | None = None,
    endpoint_id: UUID | None = None,
    provider_id: UUID | None = None,
) -> Page[db.DeliveryView]:
    if status is not None and status not in DELIVERY_STATUSES:
        raise InvalidInput(f"status must be one of: {', '.join(DELIVERY_STATUSES)}")
    total, items = db.list_deliveries(
        tx,
        status=status,
        endpoint_id=endpoint_id,
        provider_id=provider_id,
        limit=page.limit,
        offset=page.offset,
    )
    return Page.of(page, total, items)


def deliveries_from(
    tx: Connection,
    *,
    status: str | None,
    endpoint_id: UUID | None,
    provider_id: UUID | None,
    cursor: Cursor[Stamped] | None,
    limit: int,
) -> KeysetPage[db.DeliveryView, Stamped]:
    """The deliveries list by keyset (newest first): the page next to ``cursor``, or the
    first."""
    if status is not None and status not in DELIVERY_STATUSES:
        raise InvalidInput(f"status must be one of: {', '.join(DELIVERY_STATUSES)}")
    return keyset_page(
        cursor,
        limit,
        lambda after, newer, n: db.deliveries_from(
            tx,
            status=status,
            endpoint_id=endpoint_id,
            provider_id=provider_id,
            after=after,
            newer=newer,
            limit=n,
        ),
        key=lambda delivery: (delivery.created_at, delivery.id),
        total=db.count_deliveries(
            tx, status=status, endpoint_id=endpoint_id, provider_id=provider_id
        ),
    )


def get_delivery(
    tx: Connection, *, delivery_id: UUID, provider_id: UUID | None = None
) -> DeliveryDetail:
    """A delivery with every attempt; with ``provider_id``, only if it is theirs."""
    _, rows = db.list_deliveries(
        tx, delivery_id=delivery_id, provider_id=provider_id, limit=1, offset=0
    )
    delivery = found(rows[0] if rows else None, "delivery", delivery_id)
    return DeliveryDetail(delivery, db.list_attempts(tx, delivery_id))


def redeliver(tx: Connection, *, actor: Actor, delivery_id: UUID) -> DeliveryDetail:
    """Send a finished delivery again: same body, same delivery id, a fresh round of retries."""
    row = found(db.lock_delivery(tx, delivery_id), "delivery", delivery_id)
    if row["status"] == "pending":
        raise InvalidState("the delivery is still pending; it is sent as scheduled")
    if not row["endpoint_active"]:
        raise InvalidState("the endpoint is not active; activate it first")
    db.redeliver(tx, delivery_id)
    audit.record(
        tx,
        actor,
        "webhook_delivery.redelivered",
        "webhook_delivery",
        delivery_id,
        {"previous_status": row["status"]},
    )
    return get_delivery(tx, delivery_id=delivery_id)


def _checked_url(url: str, policy: EndpointPolicy) -> str:
    """The URL, if the SSRF guard lets it through now (syntax, then DNS)."""
    url = url.strip()
    try:
        resolve_checked(check_url(url, policy.allow_hosts), policy.allow_hosts)
    except UnsafeUrl as exc:
        raise InvalidInput(f"url: {exc}") from exc
    return url


def _check_niche(tx: Connection, provider_id: UUID, niche_id: UUID | None) -> None:
    """An endpoint for one niche: the provider must buy in it."""
    if niche_id is None:
        return
    if not db.has_subscription_in_niche(tx, provider_id=provider_id, niche_id=niche_id):
        raise InvalidInput(f"niche_id: the provider has no subscription in niche {niche_id}")


def _text(value: UUID | None) -> str | None:
    return None if value is None else str(value)
