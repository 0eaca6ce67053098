"""RBAC matrix generated from the app's route table: every admin route answers 401 to an
anonymous caller, 403 to a provider and its own status to an admin; provider routes the other
way round. A route without an entry here fails the test, so no new route can be forgotten."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from leadflow.api import create_app
from leadflow.db.connection import Connection
from leadflow.domain.model import Actor
from leadflow.services.distribution import distribute_lead
from leadflow.settings import Settings
from tests.e2e.api.conftest import Marketplace, ProviderLogin


@dataclass
class World:
    niche: str
    level: str
    provider: str
    other_level: str
    subscription: str
    pending_lead: str
    approved_lead: str
    distributed_lead: str
    failed_job: int
    provider_login: ProviderLogin
    assignment: str
    # Two open returns (one to deny, one to approve) and an assignment with none yet.
    return_to_deny: str
    return_to_approve: str
    returnable_assignment: str
    run: str
    # A provider user other than ``provider_login``'s, to disable and enable again.
    user: str
    # The provider's webhook endpoints: one to use, one each for the admin's and its own DELETE;
    # and a finished delivery (to redeliver).
    endpoint: str
    endpoint_for_admin_delete: str
    endpoint_for_own_delete: str
    delivery: str


Request = Callable[[World], tuple[str, dict[str, Any] | None]]
# An endpoint URL the tests' allow-list admits (nothing is delivered in this test).
HOOK = "http://127.0.0.1:9/hook"

# (method, route) -> (build the valid request, the admin's expected status)
ADMIN_ROUTES: dict[tuple[str, str], tuple[Request, int]] = {
    ("POST", "/api/v1/admin/niches"): (
        lambda w: ("/api/v1/admin/niches", {"slug": "new-niche", "name": "New"}),
        201,
    ),
    ("GET", "/api/v1/admin/niches"): (lambda w: ("/api/v1/admin/niches", None), 200),
    ("GET", "/api/v1/admin/niches/{niche_id}"): (
        lambda w: (f"/api/v1/admin/niches/{w.niche}", None),
        200,
    ),
    ("PATCH", "/api/v1/admin/niches/{niche_id}"): (
        lambda w: (f"/api/v1/admin/niches/{w.niche}", {"name": "Renamed"}),
        200,
    ),
    ("POST", "/api/v1/admin/niches/{niche_id}/levels"): (
        lambda w: (
            f"/api/v1/admin/niches/{w.niche}/levels",
            {"name": "Tin", "order_position": 9, "max_recipients": 1, "price_per_lead_cents": 1},
        ),
        201,
    ),
    ("PATCH", "/api/v1/admin/levels/{level_id}"): (
        lambda w: (f"/api/v1/admin/levels/{w.level}", {"max_recipients": 2}),
        200,
    ),
    ("POST", "/api/v1/admin/providers"): (
        lambda w: ("/api/v1/admin/providers", {"name": "Newco", "email": "new@example.com"}),
        201,
    ),
    ("GET", "/api/v1/admin/providers"): (lambda w: ("/api/v1/admin/providers", None), 200),
    ("GET", "/api/v1/admin/providers/{provider_id}"): (
        lambda w: (f"/api/v1/admin/providers/{w.provider}", None),
        200,
    ),
    ("PATCH", "/api/v1/admin/providers/{provider_id}"): (
        lambda w: (f"/api/v1/admin/providers/{w.provider}", {"name": "Acme Two"}),
        200,
    ),
    ("POST", "/api/v1/admin/providers/{provider_id}/deposits"): (
        lambda w: (f"/api/v1/admin/providers/{w.provider}/deposits", {"amount_cents": 100}),
        201,
    ),
    ("GET", "/api/v1/admin/providers/{provider_id}/ledger"): (
        lambda w: (f"/api/v1/admin/providers/{w.provider}/ledger", None),
        200,
    ),
    ("POST", "/api/v1/admin/subscriptions"): (
        lambda w: (
            "/api/v1/admin/subscriptions",
            {"provider_id": w.provider, "competition_level_id": w.other_level},
        ),
        201,
    ),
    ("GET", "/api/v1/admin/subscriptions/{subscription_id}"): (
        lambda w: (f"/api/v1/admin/subscriptions/{w.subscription}", None),
        200,
    ),
    ("PATCH", "/api/v1/admin/subscriptions/{subscription_id}"): (
        lambda w: (f"/api/v1/admin/subscriptions/{w.subscription}", {"daily_cap": 5}),
        200,
    ),
    ("GET", "/api/v1/admin/leads"): (lambda w: ("/api/v1/admin/leads", None), 200),
    ("GET", "/api/v1/admin/leads/{lead_id}"): (
        lambda w: (f"/api/v1/admin/leads/{w.pending_lead}", None),
        200,
    ),
    ("POST", "/api/v1/admin/leads/{lead_id}/approve"): (
        lambda w: (f"/api/v1/admin/leads/{w.pending_lead}/approve", None),
        200,
    ),
    ("POST", "/api/v1/admin/leads/{lead_id}/reject"): (
        lambda w: (f"/api/v1/admin/leads/{w.pending_lead}/reject", {"reason": "spam"}),
        200,
    ),
    ("POST", "/api/v1/admin/leads/{lead_id}/distribute"): (
        lambda w: (f"/api/v1/admin/leads/{w.approved_lead}/distribute", None),
        202,
    ),
    ("GET", "/api/v1/admin/leads/{lead_id}/distribution-status"): (
        lambda w: (f"/api/v1/admin/leads/{w.distributed_lead}/distribution-status", None),
        200,
    ),
    ("GET", "/api/v1/admin/leads/{lead_id}/assignments"): (
        lambda w: (f"/api/v1/admin/leads/{w.distributed_lead}/assignments", None),
        200,
    ),
    ("POST", "/api/v1/admin/leads/{lead_id}/erase"): (
        lambda w: (f"/api/v1/admin/leads/{w.pending_lead}/erase", None),
        200,
    ),
    ("POST", "/api/v1/admin/leads/{lead_id}/distribution-preview"): (
        lambda w: (f"/api/v1/admin/leads/{w.approved_lead}/distribution-preview", None),
        200,
    ),
    ("GET", "/api/v1/admin/jobs"): (lambda w: ("/api/v1/admin/jobs", None), 200),
    ("POST", "/api/v1/admin/jobs/{job_id}/retry"): (
        lambda w: (f"/api/v1/admin/jobs/{w.failed_job}/retry", None),
        200,
    ),
    ("GET", "/api/v1/admin/audit-log"): (lambda w: ("/api/v1/admin/audit-log", None), 200),
    ("POST", "/api/v1/admin/providers/{provider_id}/adjustments"): (
        lambda w: (
            f"/api/v1/admin/providers/{w.provider}/adjustments",
            {"amount_cents": -100, "reason": "correction"},
        ),
        201,
    ),
    ("GET", "/api/v1/admin/returns"): (lambda w: ("/api/v1/admin/returns", None), 200),
    ("GET", "/api/v1/admin/returns/{return_id}"): (
        lambda w: (f"/api/v1/admin/returns/{w.return_to_deny}", None),
        200,
    ),
    ("POST", "/api/v1/admin/returns/{return_id}/deny"): (
        lambda w: (f"/api/v1/admin/returns/{w.return_to_deny}/deny", {"reason": "works"}),
        200,
    ),
    ("POST", "/api/v1/admin/returns/{return_id}/approve"): (
        lambda w: (f"/api/v1/admin/returns/{w.return_to_approve}/approve", None),
        200,
    ),
    ("GET", "/api/v1/admin/runs/{run_id}"): (lambda w: (f"/api/v1/admin/runs/{w.run}", None), 200),
    ("GET", "/api/v1/admin/leads/{lead_id}/runs"): (
        lambda w: (f"/api/v1/admin/leads/{w.distributed_lead}/runs", None),
        200,
    ),
    ("GET", "/api/v1/admin/subscriptions"): (lambda w: ("/api/v1/admin/subscriptions", None), 200),
    ("GET", "/api/v1/admin/reports/daily"): (lambda w: ("/api/v1/admin/reports/daily", None), 200),
    ("GET", "/api/v1/admin/fairness"): (
        lambda w: (f"/api/v1/admin/fairness?niche_id={w.niche}", None),
        200,
    ),
    ("GET", "/api/v1/admin/users"): (lambda w: ("/api/v1/admin/users", None), 200),
    ("GET", "/api/v1/admin/users/{user_id}"): (
        lambda w: (f"/api/v1/admin/users/{w.user}", None),
        200,
    ),
    ("POST", "/api/v1/admin/users/{user_id}/disable"): (
        lambda w: (f"/api/v1/admin/users/{w.user}/disable", None),
        200,
    ),
    ("POST", "/api/v1/admin/users/{user_id}/enable"): (
        lambda w: (f"/api/v1/admin/users/{w.user}/enable", None),
        200,
    ),
    ("POST", "/api/v1/admin/providers/{provider_id}/endpoints"): (
        lambda w: (f"/api/v1/admin/providers/{w.provider}/endpoints", {"url": HOOK}),
        201,
    ),
    ("GET", "/api/v1/admin/providers/{provider_id}/endpoints"): (
        lambda w: (f"/api/v1/admin/providers/{w.provider}/endpoints", None),
        200,
    ),
    ("GET", "/api/v1/admin/endpoints/{endpoint_id}"): (
        lambda w: (f"/api/v1/admin/endpoints/{w.endpoint}", None),
        200,
    ),
    ("PATCH", "/api/v1/admin/endpoints/{endpoint_id}"): (
        lambda w: (f"/api/v1/admin/endpoints/{w.endpoint}", {"is_active": True}),
        200,
    ),
    ("POST", "/api/v1/admin/endpoints/{endpoint_id}/rotate-secret"): (
        lambda w: (f"/api/v1/admin/endpoints/{w.endpoint}/rotate-secret", {}),
        200,
    ),
    ("DELETE", "/api/v1/admin/endpoints/{endpoint_id}"): (
        lambda w: (f"/api/v1/admin/endpoints/{w.endpoint_for_admin_delete}", None),
        204,
    ),
    ("GET", "/api/v1/admin/deliveries"): (lambda w: ("/api/v1/admin/deliveries", None), 200),
    ("GET", "/api/v1/admin/deliveries/{delivery_id}"): (
        lambda w: (f"/api/v1/admin/deliveries/{w.delivery}", None),
        200,
    ),
    ("POST", "/api/v1/admin/deliveries/{delivery_id}/redeliver"): (
        lambda w: (f"/api/v1/admin/deliveries/{w.delivery}/redeliver", None),
        202,
    ),
}

PROVIDER_ROUTES: dict[tuple[str, str], Request] = {
    ("GET", "/api/v1/provider/me"): lambda w: ("/api/v1/provider/me", None),
    ("GET", "/api/v1/provider/assignments"): lambda w: ("/api/v1/provider/assignments", None),
    ("GET", "/api/v1/provider/assignments/{assignment_id}"): lambda w: (
        f"/api/v1/provider/assignments/{w.assignment}",
        None,
    ),
    ("GET", "/api/v1/provider/ledger"): lambda w: ("/api/v1/provider/ledger", None),
    ("GET", "/api/v1/provider/returns"): lambda w: ("/api/v1/provider/returns", None),
    ("GET", "/api/v1/provider/returns/{return_id}"): lambda w: (
        f"/api/v1/provider/returns/{w.return_to_deny}",
        None,
    ),
    ("POST", "/api/v1/provider/assignments/{assignment_id}/return"): lambda w: (
        f"/api/v1/provider/assignments/{w.returnable_assignment}/return",
        {"reason": "bad_contact"},
    ),
    ("POST", "/api/v1/provider/endpoints"): lambda w: ("/api/v1/provider/endpoints", {"url": HOOK}),
    ("GET", "/api/v1/provider/endpoints"): lambda w: ("/api/v1/provider/endpoints", None),
    ("GET", "/api/v1/provider/endpoints/{endpoint_id}"): lambda w: (
        f"/api/v1/provider/endpoints/{w.endpoint}",
        None,
    ),
    ("PATCH", "/api/v1/provider/endpoints/{endpoint_id}"): lambda w: (
        f"/api/v1/provider/endpoints/{w.endpoint}",
        {"is_active": True},
    ),
    ("POST", "/api/v1/provider/endpoints/{endpoint_id}/rotate-secret"): lambda w: (
        f"/api/v1/provider/endpoints/{w.endpoint}/rotate-secret",
        {},
    ),
    ("DELETE", "/api/v1/provider/endpoints/{endpoint_id}"): lambda w: (
        f"/api/v1/provider/endpoints/{w.endpoint_for_own_delete}",
        None,
    ),
    ("GET", "/api/v1/provider/deliveries"): lambda w: ("/api/v1/provider/deliveries", None),
    ("GET", "/api/v1/provider/deliveries/{delivery_id}"): lambda w: (
        f"/api/v1/provider/deliveries/{w.delivery}",
        None,
    ),
}
# A provider's own status for a route, when it is not 200.
PROVIDER_STATUS = {
    ("POST", "/api/v1/provider/assignments/{assignment_id}/return"): 201,
    ("POST", "/api/v1/provider/endpoints"): 201,
    ("DELETE", "/api/v1/provider/endpoints/{endpoint_id}"): 204,
}


PUBLIC_ROUTES = {
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/mfa"),
    ("POST", "/api/v1/auth/logout"),  # needs a token of any role; tested in test_auth
    ("POST", "/api/v1/leads"),
    ("POST", "/api/v1/leads/confirm"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
}


def _route_table() -> list[tuple[str, str]]:
    """Every (method, path) the app serves, read from the app itself (no database needed)."""
    spec = create_app(Settings(_env_file=None), "postgresql://unused").openapi()  # type: ignore[call-arg]
    return sorted(
        (method.upper(), path)
        for path, ops in spec["paths"].items()
        for method in ops
        if method != "parameters"
    )


ROUTES = _route_table()
GUARDED_ADMIN = [r for r in ROUTES if r[1].startswith("/api/v1/admin/")]
GUARDED_PROVIDER = [r for r in ROUTES if r[1].startswith("/api/v1/provider/")]


def test_every_guarded_route_has_a_row_in_the_matrix() -> None:
    assert set(GUARDED_ADMIN) == set(ADMIN_ROUTES)
    assert set(GUARDED_PROVIDER) == set(PROVIDER_ROUTES)
    # Everything else is public on purpose.
    assert set(ROUTES) - set(GUARDED_ADMIN) - set(GUARDED_PROVIDER) == PUBLIC_ROUTES


@pytest.fixture
def world(market: Marketplace, db_url: str, pool: ConnectionPool[Connection]) -> World:
    niche = market.niche(levels=[("Gold", 1, 100), ("Silver", 1, 100)])
    gold, silver = (lv["id"] for lv in niche["levels"])
    login = market.provider_login("Acme", balance_cents=10_000, levels=[gold])
    subscription = market.get(f"/admin/providers/{login.id}")["subscriptions"][0]["id"]
    endpoints = [
        market.post(f"/admin/providers/{login.id}/endpoints", {"url": HOOK})["id"] for _ in range(3)
    ]
    # One lead distributed in-process (no worker in this test), so an assignment exists.
    distributed, _ = market.approved_lead()
    more_sold = [market.approved_lead()[0] for _ in range(3)]
    approved, _ = market.approved_lead()
    _, job = market.approved_lead()
    pending = market.lead()["id"]
    for lead_id in (distributed, *more_sold):
        distribute_lead(pool, lead_id=UUID(lead_id), triggered_by=Actor.system())
    with psycopg.connect(db_url, autocommit=True) as conn:
        # The jobs of the distributed and the approved lead are done; the failing lead's job is dead.
        conn.execute(
            "UPDATE procrastinate_jobs SET status = 'succeeded' WHERE args->>'lead_id' = ANY(%s)",
            ([distributed, approved, *more_sold],),
        )
        conn.execute(
            "UPDATE procrastinate_jobs SET status = 'failed', attempts = 6 WHERE id = %s", (job,)
        )
        # The sales' deliveries were tried and failed (no worker runs here).
        conn.execute("UPDATE webhook_deliveries SET status = 'failed'")
    delivery = market.get("/admin/deliveries", endpoint_id=endpoints[0])["items"][0]["id"]
    assignment = market.get(f"/admin/leads/{distributed}/assignments")["items"][0]["assignment_id"]
    to_deny, to_approve, returnable = (
        market.get(f"/admin/leads/{lead_id}/assignments")["items"][0]["assignment_id"]
        for lead_id in more_sold
    )
    returns = [
        market.client.post(
            f"/api/v1/provider/assignments/{a}/return",
            json={"reason": "other"},
            headers=login.headers,
        ).json()["return_id"]
        for a in (to_deny, to_approve)
    ]
    run = market.get(f"/admin/leads/{distributed}/runs")[0]["id"]
    spare = market.provider_login("Spare")
    [user] = [
        u["id"]
        for u in market.get("/admin/users", role="provider")["items"]
        if u["provider_id"] == spare.id
    ]
    assert job is not None
    return World(
        niche=niche["id"],
        level=gold,
        provider=login.id,
        other_level=silver,
        subscription=subscription,
        pending_lead=pending,
        approved_lead=approved,
        distributed_lead=distributed,
        failed_job=job,
        provider_login=login,
        assignment=assignment,
        return_to_deny=returns[0],
        return_to_approve=returns[1],
        returnable_assignment=returnable,
        run=run,
        user=user,
        endpoint=endpoints[0],
        endpoint_for_admin_delete=endpoints[1],
        endpoint_for_own_delete=endpoints[2],
        delivery=delivery,
    )


def _call(
    market: Marketplace,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    headers: dict[str, str],
) -> Any:
    return market.client.request(method, path, json=body, headers=headers)


def test_admin_routes(market: Marketplace, world: World) -> None:
    """Each admin route x {anonymous: 401, forged token: 401, provider: 403, admin: its status},
    in one marketplace (the order of ``ADMIN_ROUTES`` keeps every admin call valid)."""
    failures = []
    for (method, route), (build, expected) in ADMIN_ROUTES.items():
        path, body = build(world)
        seen = {
            "anonymous": _call(market, method, path, body, {}),
            "forged": _call(market, method, path, body, {"Authorization": "Bearer forged-token"}),
            "provider": _call(market, method, path, body, world.provider_login.headers),
            "admin": _call(market, method, path, body, market.admin.headers),
        }
        want = {"anonymous": 401, "forged": 401, "provider": 403, "admin": expected}
        for who, response in seen.items():
            if response.status_code != want[who]:
                failures.append(
                    f"{method} {route} as {who}: {response.status_code} {response.text[:200]}"
                )
        for who in ("anonymous", "forged", "provider"):
            if seen[who].headers.get("content-type") != "application/problem+json":
                failures.append(f"{method} {route} as {who}: not problem+json")
    assert failures == []


def test_provider_routes(market: Marketplace, world: World) -> None:
    failures = []
    for (method, route), build in PROVIDER_ROUTES.items():
        path, body = build(world)
        for who, headers, expected in (
            ("anonymous", {}, 401),
            ("admin", market.admin.headers, 403),
            ("provider", world.provider_login.headers, PROVIDER_STATUS.get((method, route), 200)),
        ):
            response = _call(market, method, path, body, headers)
            if response.status_code != expected:
                failures.append(
                    f"{method} {route} as {who}: {response.status_code} {response.text[:200]}"
                )
    assert failures == []


def test_provider_cannot_read_another_providers_assignment(
    market: Marketplace, world: World
) -> None:
    other = market.provider_login("Other", balance_cents=0)
    mine = market.client.get(
        f"/api/v1/provider/assignments/{world.assignment}", headers=world.provider_login.headers
    )
    assert mine.status_code == 200
    assert mine.json()["email"] == "jane@example.com"
    theirs = market.client.get(
        f"/api/v1/provider/assignments/{world.assignment}", headers=other.headers
    )
    assert theirs.status_code == 404
    assert (
        market.client.get("/api/v1/provider/assignments", headers=other.headers).json()["total"]
        == 0
    )
