"""Shared dependencies as ``Annotated`` aliases: the request's transaction, settings, the caller
and paging.

Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency in its
threadpool, a hop that costs more than the dependency itself. Those that query the database
(``current_principal``) stay ``def`` so they never block the event loop."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated
from uuid import UUID

import structlog
from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from leadflow.db.auth import SessionPrincipal
from leadflow.db.connection import AsyncConnection, Connection, Reachability, transaction
from leadflow.domain.errors import AccessDenied, AuthenticationFailed
from leadflow.domain.model import Actor, ActorRole
from leadflow.services import auth, webhooks
from leadflow.services.limits import Rate
from leadflow.services.pages import DEFAULT_LIMIT, MAX_LIMIT, PageRequest
from leadflow.settings import Settings

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class AppContext:
    """What the lifespan builds once and every request shares."""

    settings: Settings
    pool: ConnectionPool[Connection]
    # Asyncio connections in autocommit, for the one-statement writes of ``async def`` routes.
    autocommit_pool: AsyncConnectionPool[AsyncConnection]
    # Whether the database answers, as both pools last found: an outage is logged once.
    reachability: Reachability
    passwords: auth.Passwords
    intake_rate: Rate | None
    trusted_proxies: tuple[IPNetwork, ...]
    head_revision: str
    webhook_policy: webhooks.EndpointPolicy
    # The ``default_region`` last seen per niche slug: intake's guess, checked by its statement.
    niche_regions: dict[str, str] = field(default_factory=dict)


async def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


Context = Annotated[AppContext, Depends(get_context)]


async def get_pool(context: Context) -> ConnectionPool[Connection]:
    return context.pool


PoolDep = Annotated[ConnectionPool[Connection], Depends(get_pool)]


def unit_of_work(pool: PoolDep) -> Iterator[Connection]:
    """The request's transaction, handed to the services it calls: committed when the route
    returns and before the response is sent (``scope="function"``: a write is answered only
    after it committed), rolled back when the route raises."""
    with transaction(pool) as tx:
        yield tx


Tx = Annotated[Connection, Depends(unit_of_work, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="An access token from /auth/mfa or /auth/login.")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def get_token(credentials: BearerDep) -> str:
    if credentials is None or not credentials.credentials:
        raise AuthenticationFailed("missing bearer token")
    return credentials.credentials


TokenDep = Annotated[str, Depends(get_token)]


def current_principal(pool: PoolDep, token: TokenDep) -> SessionPrincipal:
    principal = auth.authenticate(pool, token=token)
    structlog.contextvars.bind_contextvars(user_id=str(principal.user_id))
    return principal


CurrentPrincipal = Annotated[SessionPrincipal, Depends(current_principal)]


async def current_admin(principal: CurrentPrincipal) -> Actor:
    if principal.role != ActorRole.ADMIN:
        raise AccessDenied("this route is for admins")
    return Actor.admin(str(principal.user_id))


CurrentAdmin = Annotated[Actor, Depends(current_admin)]


async def current_provider(principal: CurrentPrincipal) -> UUID:
    if principal.role != ActorRole.PROVIDER or principal.provider_id is None:
        raise AccessDenied("this route is for provider users")
    return principal.provider_id


CurrentProviderId = Annotated[UUID, Depends(current_provider)]


async def paging(
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> PageRequest:
    return PageRequest(page=page, limit=limit)


Paging = Annotated[PageRequest, Depends(paging)]


async def client_address(request: Request, context: Context) -> str:
    """The peer, or behind a trusted proxy the rightmost X-Forwarded-For address not trusted."""
    peer = request.client.host if request.client else "unknown"
    if not _trusted(peer, context.trusted_proxies):
        return peer
    forwarded = [
        a.strip() for a in request.headers.get("x-forwarded-for", "").split(",") if a.strip()
    ]
    for address in reversed(forwarded):
        if not _trusted(address, context.trusted_proxies):
            return address[:64]
    return peer


ClientAddress = Annotated[str, Depends(client_address)]


def parse_networks(entries: list[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _trusted(address: str, networks: tuple[IPNetwork, ...]) -> bool:
    if not networks:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)
