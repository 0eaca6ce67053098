"""The seed's Phase 15 scenarios 1-10, through the HTTP API with the real worker."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.e2e.api.conftest import Marketplace

pytestmark = pytest.mark.usefixtures("worker")

THREE_LEVELS = [("Gold", 1, 4900), ("Silver", 2, 2500), ("Bronze", 3, 1000)]


def _balance(market: Marketplace, provider_id: str) -> int:
    balance: int = market.get(f"/admin/providers/{provider_id}")["balance_cents"]
    return balance


def _assignments(market: Marketplace, lead_id: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = market.get(f"/admin/leads/{lead_id}/assignments")["items"]
    return items


def test_1_approved_lead_is_assigned_and_billed(market: Marketplace) -> None:
    niche = market.niche(levels=[("Gold", 1, 4900)])
    gold = niche["levels"][0]["id"]
    acme = market.provider("Acme", balance_cents=10_000, levels=[gold])
    lead_id, job_id = market.approved_lead()
    assert isinstance(job_id, int)
    status = market.wait_settled(lead_id)
    assert status["last_attempt_status"] == "success"
    assert status["lead_status"] == "distributed"
    [sale] = _assignments(market, lead_id)
    assert sale["provider_id"] == acme["id"]
    assert sale["price_charged_cents"] == 4900
    assert sale["price_charged"] == 49.0
    assert sale["level_name"] == "Gold"
    assert _balance(market, acme["id"]) == 10_000 - 4900
    ledger = market.get(f"/admin/providers/{acme['id']}/ledger")["items"]
    assert [e["kind"] for e in ledger] == ["lead_charge", "deposit"]
    assert ledger[0]["amount_cents"] == -4900
    lead = market.get(f"/admin/leads/{lead_id}")
    assert lead["status"] == "distributed"
    assert lead["distributed_at"] is not None
    assert lead["distribution_attempts"] == 1


def test_2_multi_level_distribution_fills_every_level(market: Marketplace) -> None:
    niche = market.niche(levels=THREE_LEVELS)
    gold, silver, bronze = (lv["id"] for lv in niche["levels"])
    for i in range(2):
        market.provider(f"G{i}", balance_cents=100_000, levels=[gold])
    for i in range(3):
        market.provider(f"S{i}", balance_cents=100_000, levels=[silver])
    for i in range(4):
        market.provider(f"B{i}", balance_cents=100_000, levels=[bronze])
    lead_id, _ = market.approved_lead()
    status = market.wait_settled(lead_id)
    assert status["last_attempt_status"] == "success"
    assert status["assignments_created"] == 1 + 2 + 3
    per_level = Counter(a["level_name"] for a in _assignments(market, lead_id))
    assert per_level == {"Gold": 1, "Silver": 2, "Bronze": 3}


def test_3_start_level_rotates_and_wraps(market: Marketplace) -> None:
    niche = market.niche(levels=THREE_LEVELS)
    for lv in niche["levels"]:
        market.provider(f"P{lv['name']}", balance_cents=1_000_000, levels=[lv["id"]])
    starts = []
    for _ in range(4):
        lead_id, _ = market.approved_lead()
        starts.append(market.wait_settled(lead_id)["start_level_order_position"])
    assert starts == [1, 2, 3, 1]


def test_4_insufficient_funds_is_skipped_and_the_level_goes_on(market: Marketplace) -> None:
    niche = market.niche(levels=[("Silver", 3, 2500)])
    silver = niche["levels"][0]["id"]
    poor = market.provider("Poor", balance_cents=3000, levels=[silver])
    rich1 = market.provider("Rich1", balance_cents=100_000, levels=[silver])
    rich2 = market.provider("Rich2", balance_cents=100_000, levels=[silver])
    # A new price does not re-evaluate subscriptions: Poor stays active but can no longer pay.
    market.client.patch(
        f"/api/v1/admin/levels/{silver}",
        json={"price_per_lead_cents": 3500},
        headers=market.admin.headers,
    ).raise_for_status()
    lead_id, _ = market.approved_lead()
    status = market.wait_settled(lead_id)
    assert status["last_attempt_status"] == "partial"
    sold_to = {a["provider_id"] for a in _assignments(market, lead_id)}
    assert sold_to == {rich1["id"], rich2["id"]}
    assert _balance(market, poor["id"]) == 3000
    skips = market.get(
        "/admin/audit-log", action="distribution.skipped_provider", entity_id=lead_id
    )["items"]
    assert [(s["metadata"]["provider_id"], s["metadata"]["reason"]) for s in skips] == [
        (poor["id"], "insufficient_balance")
    ]
    poor_sub = market.get(f"/admin/subscriptions/{poor['subscriptions'][0]['id']}")
    assert poor_sub["status"] == "paused_low_balance"


def test_5_cross_level_dedupe(market: Marketplace) -> None:
    niche = market.niche(levels=THREE_LEVELS)
    gold, silver, bronze = (lv["id"] for lv in niche["levels"])
    both = market.provider("Both", balance_cents=100_000, levels=[gold, silver, bronze])
    lead_id, _ = market.approved_lead()
    market.wait_settled(lead_id)
    sales = _assignments(market, lead_id)
    assert [a["provider_id"] for a in sales] == [both["id"]]


class TestWithoutAutoDistribution:
    """Scenarios 6 and 10 trigger distribution by hand: auto-distribution is off."""

    @pytest.fixture
    def auto_distribute(self) -> bool:
        return False

    def test_6_manual_admin_trigger(self, market: Marketplace) -> None:
        _manual_trigger(market)

    def test_10_same_lead_distributed_twice_sells_once(self, market: Marketplace) -> None:
        _distributed_twice(market)


def _manual_trigger(market: Marketplace) -> None:
    niche = market.niche(levels=[("Gold", 1, 4900)])
    market.provider("Acme", balance_cents=10_000, levels=[niche["levels"][0]["id"]])
    lead_id, job_id = market.approved_lead()
    assert job_id is None
    assert (
        market.get(f"/admin/leads/{lead_id}/distribution-status")["last_attempt_status"] == "none"
    )
    queued = market.post(f"/admin/leads/{lead_id}/distribute", {}, expect=202)
    assert queued["status"] == "queued"
    assert queued["lead_id"] == lead_id
    assert isinstance(queued["job_id"], int)
    status = market.wait_settled(lead_id)
    assert status["last_attempt_status"] == "success"
    assert status["job"]["id"] == queued["job_id"]
    assert status["job"]["status"] == "succeeded"
    assert set(status["job"]) == {"id", "status", "attempts", "scheduled_at", "last_error"}
    # Distributed now: a second trigger is a conflict; unknown lead 404; not approved 400.
    market.post(f"/admin/leads/{lead_id}/distribute", {}, expect=409)
    market.post("/admin/leads/00000000-0000-0000-0000-000000000000/distribute", {}, expect=404)
    pending = market.lead()
    market.post(f"/admin/leads/{pending['id']}/distribute", {}, expect=400)


def test_7_status_endpoint_reflects_outcomes(market: Marketplace) -> None:
    niche = market.niche(levels=[("Gold", 2, 4900)])
    gold = niche["levels"][0]["id"]
    lonely, _ = market.approved_lead()
    status = market.wait_settled(lonely)
    assert status["last_attempt_status"] == "no_eligible"
    assert status["lead_status"] == "approved"
    assert status["assignments_created"] == 0
    market.provider("Only", balance_cents=100_000, levels=[gold])
    partial, _ = market.approved_lead()
    status = market.wait_settled(partial)
    assert status["last_attempt_status"] == "partial"
    assert status["assignments_created"] == 1
    assert status["last_attempt_at"] is not None
    assert status["job"]["status"] == "succeeded"
    market.provider("Second", balance_cents=100_000, levels=[gold])
    full, _ = market.approved_lead()
    assert market.wait_settled(full)["last_attempt_status"] == "success"


def test_8_zero_eligible_providers(market: Marketplace) -> None:
    niche = market.niche(levels=[("Gold", 1, 4900)])
    market.provider(
        "Elsewhere",
        balance_cents=100_000,
        levels=[niche["levels"][0]["id"]],
        postal_codes=["99999"],
    )
    lead_id, _ = market.approved_lead(postal_code="10001")
    status = market.wait_settled(lead_id)
    assert status["last_attempt_status"] == "no_eligible"
    assert _assignments(market, lead_id) == []
    assert market.get(f"/admin/leads/{lead_id}")["status"] == "approved"


def test_9_all_providers_short_of_funds(market: Marketplace) -> None:
    niche = market.niche(levels=[("Gold", 2, 100)])
    gold = niche["levels"][0]["id"]
    a = market.provider("A", balance_cents=4000, levels=[gold])
    b = market.provider("B", balance_cents=100, levels=[gold])
    # Both subscriptions stay active at the new price (no re-evaluation), but neither can pay it.
    market.client.patch(
        f"/api/v1/admin/levels/{gold}",
        json={"price_per_lead_cents": 4900},
        headers=market.admin.headers,
    ).raise_for_status()
    lead_id, _ = market.approved_lead()
    status = market.wait_settled(lead_id)
    assert status["last_attempt_status"] == "no_eligible"
    assert status["lead_status"] == "approved"
    assert _assignments(market, lead_id) == []
    assert _balance(market, a["id"]) == 4000
    assert _balance(market, b["id"]) == 100
    skips = market.get(
        "/admin/audit-log", action="distribution.skipped_provider", entity_id=lead_id
    )["items"]
    assert sorted((s["metadata"]["provider_id"], s["metadata"]["reason"]) for s in skips) == sorted(
        [(a["id"], "insufficient_balance"), (b["id"], "insufficient_balance")]
    )


def _distributed_twice(market: Marketplace) -> None:
    niche = market.niche(levels=[("Gold", 1, 4900)])
    acme = market.provider("Acme", balance_cents=100_000, levels=[niche["levels"][0]["id"]])
    lead_id, _ = market.approved_lead()
    first = market.post(f"/admin/leads/{lead_id}/distribute", {}, expect=202)
    again = market.client.post(
        f"/api/v1/admin/leads/{lead_id}/distribute", headers=market.admin.headers
    )
    # Still queued: the same job; already done: 409. Never a second sale.
    assert again.status_code in (202, 409)
    if again.status_code == 202:
        assert again.json()["job_id"] == first["job_id"]
    market.wait_settled(lead_id)
    market.post(f"/admin/leads/{lead_id}/distribute", {}, expect=409)
    assert len(_assignments(market, lead_id)) == 1
    assert _balance(market, acme["id"]) == 100_000 - 4900
