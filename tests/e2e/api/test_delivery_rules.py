"""Delivery rules through the admin API (SPEC §12): the new settings on subscriptions and
levels are written, read back and changed; a distribution's trace and preview explain them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.api.conftest import Marketplace

OFFICE = {
    "timezone": "America/New_York",
    "hours": {"mon": [["09:00", "12:00"], ["13:00", "17:00"]], "sat": [["10:00", "14:00"]]},
}


@pytest.fixture
def auto_distribute() -> bool:
    return False


def patch(market: Marketplace, path: str, body: dict[str, Any]) -> Any:
    response = market.client.patch(f"/api/v1{path}", json=body, headers=market.admin.headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_subscription_rules_are_created_read_and_changed(market: Marketplace) -> None:
    niche = market.niche(levels=[("Gold", 1, 4900)])
    provider = market.provider(
        "Acme",
        balance_cents=10_000,
        levels=[niche["levels"][0]["id"]],
        schedule=OFFICE,
        hourly_cap=2,
        weekly_cap=20,
        daily_budget_cents=50_000,
        monthly_budget_cents=900_000,
        weight=5,
    )
    created = provider["subscriptions"][0]
    read = market.get(f"/admin/subscriptions/{created['id']}")
    for got in (created, read):
        assert got["schedule"] == OFFICE
        assert (got["hourly_cap"], got["weekly_cap"], got["weight"]) == (2, 20, 5)
        assert (got["daily_budget_cents"], got["monthly_budget_cents"]) == (50_000, 900_000)

    changed = patch(
        market,
        f"/admin/subscriptions/{created['id']}",
        {"weight": 1, "hourly_cap": None, "schedule": None, "daily_budget_cents": 100},
    )
    assert (changed["weight"], changed["hourly_cap"], changed["schedule"]) == (1, None, None)
    assert (changed["weekly_cap"], changed["daily_budget_cents"]) == (20, 100)
    detail = market.get(f"/admin/providers/{provider['id']}")
    assert detail["subscriptions"][0]["weight"] == 1


def test_a_subscription_without_rules_has_the_defaults(market: Marketplace) -> None:
    niche = market.niche(levels=[("Gold", 1, 4900)])
    sub = market.provider("Plain", levels=[niche["levels"][0]["id"]])["subscriptions"][0]
    assert sub["weight"] == 1
    assert sub["schedule"] is None
    assert [sub[k] for k in ("hourly_cap", "weekly_cap", "daily_budget_cents")] == [None] * 3


@pytest.mark.usefixtures("worker")
def test_level_price_overrides_set_the_charged_price(market: Marketplace) -> None:
    niche = market.niche(levels=[("Gold", 1, 4900)])
    level = niche["levels"][0]
    assert level["price_overrides"] == []
    changed = patch(
        market,
        f"/admin/levels/{level['id']}",
        {"price_overrides": [{"postal_prefix": "100", "price_cents": 7900}]},
    )
    assert changed["price_overrides"] == [{"postal_prefix": "100", "price_cents": 7900}]
    market.provider("Acme", balance_cents=100_000, levels=[level["id"]])
    lead_id, _ = market.approved_lead(postal_code="10001")

    preview = market.post(f"/admin/leads/{lead_id}/distribution-preview", {}, expect=200)
    assert [s["price_cents"] for s in preview["selections"]] == [7900]
    market.post(f"/admin/leads/{lead_id}/distribute", {}, expect=202)
    market.wait_settled(lead_id)
    assignments = market.get(f"/admin/leads/{lead_id}/assignments")["items"]
    assert [a["price_charged_cents"] for a in assignments] == [7900]
    [run] = market.get(f"/admin/leads/{lead_id}/runs")
    assert [(e["outcome"], e["price_cents"]) for e in run["levels"][0]["entries"]] == [
        ("sold", 7900)
    ]


@pytest.mark.usefixtures("worker")
def test_a_weighted_level_says_so_in_the_preview_and_the_trace(market: Marketplace) -> None:
    niche = market.niche(levels=[("Gold", 1, 100)])
    level_id = niche["levels"][0]["id"]
    market.provider("Big", balance_cents=10_000, levels=[level_id], weight=5)
    market.provider("Small", balance_cents=10_000, levels=[level_id])
    lead_id, _ = market.approved_lead()

    preview = market.post(f"/admin/leads/{lead_id}/distribution-preview", {}, expect=200)
    [order] = preview["levels"]
    assert (order["level_id"], order["order"], order["switched"]) == (level_id, "weighted", True)
    market.post(f"/admin/leads/{lead_id}/distribute", {}, expect=202)
    market.wait_settled(lead_id)
    [run] = market.get(f"/admin/leads/{lead_id}/runs")
    assert run["levels"][0]["order"] == "weighted"
    assert "credit started at 0" in run["levels"][0]["note"]
