"""Unsold leads through the real API and a real worker (SPEC §11): a lead no provider could buy
waits, is sold once capacity returns, and expires after its niche's ``lead_ttl_hours``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from leadflow.db.connection import Connection, transaction
from leadflow.settings import Settings
from tests.e2e.api.conftest import Marketplace

# The worker's maintenance tick (every 5 s) queues the resale; a run takes milliseconds.
WAIT_SECONDS = 60.0


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    """Auto-distribution on, and no minimum interval between a lead's runs."""
    return settings.model_copy(
        update={"intake_rate_limit": "0", "auto_distribute": True, "resale_min_interval": 0}
    )


def eventually(what: str, check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.2)


def waiting_lead(market: Marketplace) -> str:
    """An approved lead whose first run sold nothing."""
    lead_id, _ = market.approved_lead()
    status = market.wait_settled(lead_id)
    assert (status["lead_status"], status["last_attempt_status"]) == ("approved", "no_eligible")
    assert market.get(f"/admin/leads/{lead_id}")["unsold_at"] is not None
    return lead_id


def triggers(market: Marketplace, lead_id: str) -> list[tuple[str, str]]:
    runs = market.get(f"/admin/leads/{lead_id}/runs")
    return [(r["trigger"], r["status"]) for r in reversed(runs)]


@pytest.mark.usefixtures("worker")
def test_an_unsold_lead_is_sold_after_a_deposit_resumes_a_subscription(
    market: Marketplace,
) -> None:
    niche = market.niche(levels=[("Gold", 1, 1000)])
    provider = market.provider("Acme", levels=[niche["levels"][0]["id"]])
    assert provider["subscriptions"][0]["status"] == "paused_low_balance"
    lead_id = waiting_lead(market)

    market.post(f"/admin/providers/{provider['id']}/deposits", {"amount_cents": 1000})
    [subscription] = market.get(f"/admin/providers/{provider['id']}")["subscriptions"]
    assert subscription["status"] == "active"

    lead = eventually(
        "the resale",
        lambda: (lead := market.get(f"/admin/leads/{lead_id}"))["status"] == "distributed" and lead,
    )
    assert lead["unsold_at"] is None
    assert triggers(market, lead_id) == [("distribution", "no_eligible"), ("resale", "success")]
    [sale] = market.get(f"/admin/leads/{lead_id}/assignments")["items"]
    assert sale["provider_id"] == provider["id"]


@pytest.mark.usefixtures("worker")
def test_an_unsold_lead_is_sold_to_a_provider_that_subscribes_later(
    market: Marketplace,
) -> None:
    niche = market.niche(levels=[("Gold", 1, 1000)])
    older, newer = waiting_lead(market), waiting_lead(market)

    provider = market.provider("Late", balance_cents=5000, levels=[niche["levels"][0]["id"]])

    for lead_id in (older, newer):
        eventually(
            "the resale",
            lambda lead_id=lead_id: (
                market.get(f"/admin/leads/{lead_id}")["status"] == "distributed"
            ),
        )
    sales = [market.get(f"/admin/leads/{i}/assignments")["items"][0] for i in (older, newer)]
    assert {s["provider_id"] for s in sales} == {provider["id"]}
    # Oldest first.
    assert sales[0]["assigned_at"] < sales[1]["assigned_at"]


@pytest.mark.usefixtures("worker")
def test_an_unsold_lead_expires_after_its_niche_ttl_and_is_never_sold(
    market: Marketplace, pool: ConnectionPool[Connection]
) -> None:
    niche = market.niche(levels=[("Gold", 1, 1000)], lead_ttl_hours=1)
    lead_id = waiting_lead(market)
    with transaction(pool) as conn:
        conn.execute(
            "UPDATE leads SET created_at = now() - interval '61 minutes' WHERE id = %s",
            (lead_id,),
        )

    lead = eventually(
        "the expiry",
        lambda: (lead := market.get(f"/admin/leads/{lead_id}"))["status"] == "expired" and lead,
    )
    assert lead["expired_at"] is not None
    audit = market.get("/admin/audit-log", entity_id=lead_id, action="lead.expired")["items"]
    assert [a["metadata"]["lead_ttl_hours"] for a in audit] == [1]

    # Capacity that comes back later does not sell it, and nor can an operator.
    market.provider("Late", balance_cents=5000, levels=[niche["levels"][0]["id"]])
    refused = market.client.post(
        f"/api/v1/admin/leads/{lead_id}/distribute", headers=market.admin.headers
    )
    assert refused.status_code == 400, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert market.get(f"/admin/leads/{lead_id}/assignments")["items"] == []
    assert market.get("/admin/leads", status="expired")["items"][0]["id"] == lead_id
