"""The FastAPI application factory; the pool is made in the lifespan, never at import."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from leadflow import __version__, console
from leadflow.api import openapi, problems
from leadflow.api.deps import AppContext, parse_networks
from leadflow.api.middleware import RequestContext
from leadflow.api.routes import (
    admin_catalog,
    admin_leads,
    admin_reports,
    admin_returns,
    admin_users,
    auth,
    intake,
    ops,
    portal,
)
from leadflow.api.routes import webhooks as webhook_routes
from leadflow.db import migrate
from leadflow.db.connection import Reachability, create_pool, open_autocommit_pool
from leadflow.services import webhooks
from leadflow.services.auth import Passwords
from leadflow.services.limits import parse_rate
from leadflow.settings import Settings
from leadflow.webhooks.secret_box import SecretBox

DESCRIPTION = """
Fair, atomic lead distribution. Consumers submit leads (`POST /api/v1/leads`), operators
approve them, the engine sells each approved lead to the subscribed providers with prepaid
billing. Money is integer cents everywhere except `price_charged` (dollars). Errors are
`application/problem+json`.

Admins log in with `POST /auth/login` and then `POST /auth/mfa` (TOTP); provider users get
their token from `/auth/login`. Send it as `Authorization: Bearer <token>`.
"""


def create_app(
    settings: Settings,
    url: str,
    *,
    passwords: Passwords | None = None,
    reachability: Reachability | None = None,
) -> FastAPI:
    """Build the app for the database at ``url``. ``passwords`` overrides the argon2 cost (tests);
    ``reachability`` is shared with the process's other pools (``leadflow up``'s worker)."""
    intake_rate = parse_rate(settings.intake_rate_limit)
    key = settings.secret_key
    webhook_policy = webhooks.EndpointPolicy(
        allow_hosts=tuple(settings.webhook_allow_hosts),
        box=None if key is None else SecretBox.from_setting(key.get_secret_value()),
    )
    trusted = parse_networks(settings.trusted_proxies)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Both pools report to one tracker: one warning when the database stops answering.
        tracker = reachability or Reachability()
        pool = create_pool(url, settings, reachability=tracker)
        autocommit_pool = await open_autocommit_pool(url, settings, reachability=tracker)
        app.state.context = AppContext(
            settings=settings,
            pool=pool,
            autocommit_pool=autocommit_pool,
            reachability=tracker,
            passwords=passwords or Passwords(),
            intake_rate=intake_rate,
            trusted_proxies=trusted,
            head_revision=migrate.head_revision(),
            webhook_policy=webhook_policy,
        )
        try:
            yield
        finally:
            await autocommit_pool.close()
            pool.close()

    app = FastAPI(
        title="leadflow",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    problems.install(app)
    app.add_middleware(RequestContext)
    for router in (
        auth.router,
        intake.router,
        admin_catalog.router,
        admin_leads.router,
        admin_returns.router,
        admin_reports.router,
        admin_users.router,
        portal.router,
        webhook_routes.admin,
        webhook_routes.provider,
        ops.router,
    ):
        app.include_router(router)
    openapi.install(app)
    console.install(app)
    return app
