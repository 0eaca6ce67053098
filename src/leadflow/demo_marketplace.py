"""``leadflow up --demo``: the demo marketplace, its admin, and a gentle stream of demo leads
through intake, approval and distribution (the real services and the real worker)."""

from __future__ import annotations

import asyncio
import random
import secrets
from dataclasses import dataclass
from uuid import UUID

import structlog
from psycopg_pool import ConnectionPool

from leadflow.db import catalog
from leadflow.db.connection import Connection, transaction
from leadflow.domain.errors import DomainError
from leadflow.domain.model import Actor
from leadflow.services import auth, billing, demo, intake, jobs, leads, webhooks
from leadflow.services.pages import PageRequest
from leadflow.settings import Settings

log = structlog.get_logger(__name__)
DEMO_ADMIN_EMAIL = "admin@leadflow.demo"
DEMO_SLUG = "movers"
LEAD_INTERVAL_SECONDS = 3.0
TOP_UP_CENTS = 50_000


@dataclass(frozen=True, slots=True)
class DemoSetup:
    market: demo.DemoMarketplace
    admin: auth.AdminCreated
    password: str
    provider_id: UUID
    provider_name: str
    provider_email: str
    provider_password: str


def prepare(pool: ConnectionPool[Connection], *, passwords: auth.Passwords) -> DemoSetup:
    """Seed the marketplace (reused if present) and give the demo admin fresh credentials."""
    password = secrets.token_urlsafe(12)
    provider_password = secrets.token_urlsafe(12)
    with transaction(pool) as tx:
        market = demo.seed(tx, actor=Actor.system(), slug=DEMO_SLUG)
        admin = auth.reset_admin(tx, passwords=passwords, email=DEMO_ADMIN_EMAIL, password=password)
        # The first provider by name gets a portal login, so the portal can be tried too.
        provider_id, provider_name = min(market.providers.items(), key=lambda item: item[1])
        provider = catalog.get_provider(tx, provider_id)
        assert provider is not None
        auth.reset_provider_login(
            tx,
            passwords=passwords,
            provider_id=provider_id,
            email=provider.email,
            password=provider_password,
        )
    return DemoSetup(
        market=market,
        admin=admin,
        password=password,
        provider_id=provider_id,
        provider_name=provider_name,
        provider_email=provider.email,
        provider_password=provider_password,
    )


def connect_receiver(
    pool: ConnectionPool[Connection],
    setup: DemoSetup,
    *,
    policy: webhooks.EndpointPolicy,
    url: str,
) -> list[str]:
    """Point every demo provider's endpoint at the demo receiver (made at the first start),
    each with a fresh secret; returns the secrets, for the receiver to verify with."""
    actor = Actor.system()
    secrets_made = []
    with transaction(pool) as tx:
        for provider_id in sorted(setup.market.providers):
            page = webhooks.list_endpoints(tx, provider_id=provider_id, page=PageRequest(limit=1))
            if not page.items:
                made = webhooks.create_endpoint(
                    tx, actor=actor, policy=policy, provider_id=provider_id, url=url
                )
                secrets_made.append(made.secret)
                continue
            endpoint = page.items[0]
            webhooks.update_endpoint(
                tx,
                actor=actor,
                policy=policy,
                endpoint_id=endpoint.id,
                changes={"url": url, "is_active": True},
            )
            rotated = webhooks.rotate_secret(
                tx, actor=actor, policy=policy, endpoint_id=endpoint.id, grace_hours=0
            )
            secrets_made.append(rotated.secret)
    return secrets_made


def feed_one(
    pool: ConnectionPool[Connection],
    settings: Settings,
    setup: DemoSetup,
    rng: random.Random,
    n: int,
) -> UUID | None:
    """One demo lead: submitted, approved by the demo admin, distributed by the worker."""
    actor = Actor.admin(str(setup.admin.user_id))
    fields = demo.random_lead(rng, n)
    form = intake.LeadForm(niche=DEMO_SLUG, **fields)
    submitted = intake.submit_lead(pool, form=form, client_address="demo", rate=None)
    if submitted.status != "pending_approval":
        return None
    with transaction(pool) as tx:
        approval = leads.approve_lead(tx, settings=settings, actor=actor, lead_id=submitted.id)
        if approval.distribution_job_id is None:
            jobs.request_distribution(tx, actor=actor, lead_id=submitted.id)
    # Now and then a provider tops up its balance, so paused subscriptions come back.
    if rng.random() < 0.1:
        provider_id = rng.choice(list(setup.market.providers))
        with transaction(pool) as tx:
            billing.deposit(
                tx,
                actor=actor,
                provider_id=provider_id,
                amount_cents=TOP_UP_CENTS,
                note="demo top-up",
            )
    return submitted.id


async def feed_leads(
    pool: ConnectionPool[Connection],
    settings: Settings,
    setup: DemoSetup,
    *,
    interval: float = LEAD_INTERVAL_SECONDS,
) -> None:
    """Submit a demo lead every ``interval`` seconds until cancelled."""
    rng = random.Random()
    n = 0
    while True:
        n += 1
        try:
            lead_id = await asyncio.to_thread(feed_one, pool, settings, setup, rng, n)
            log.info("demo_lead", lead_id=str(lead_id))
        except DomainError as exc:
            log.warning("demo_lead_refused", error=exc.detail)
        await asyncio.sleep(interval)
