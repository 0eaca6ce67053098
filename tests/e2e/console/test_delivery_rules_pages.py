"""The console's delivery rules (SPEC §12, §13 "Catalog"): a subscription's schedule, caps,
budgets and weight are created and edited through forms; a level's price overrides too."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.e2e.api.conftest import Marketplace


def test_a_subscription_is_created_with_rules_and_its_rules_edited(
    admin_web: tuple[TestClient, str], market: Marketplace
) -> None:
    web, csrf = admin_web
    niche = market.niche("movers", levels=[("Gold", 1, 4900)])
    provider = market.provider("Acme", balance_cents=100_000)
    created = web.post(
        "/console/subscriptions",
        data={
            "csrf_token": csrf,
            "provider_id": provider["id"],
            "competition_level_id": niche["levels"][0]["id"],
            "weight": "5",
            "hourly_cap": "2",
            "weekly_cap": "10",
            "daily_budget": "250.00",
            "timezone": "America/New_York",
            "hours": "mon 09:00-12:00 13:00-17:00; sat 10:00-14:00",
        },
    )
    assert created.status_code == 200 and "Subscription created" in created.text
    [sub] = market.get("/admin/subscriptions", provider_id=provider["id"])["items"]
    assert (sub["weight"], sub["hourly_cap"], sub["weekly_cap"]) == (5, 2, 10)
    assert sub["daily_budget_cents"] == 25_000
    assert sub["schedule"] == {
        "timezone": "America/New_York",
        "hours": {"mon": [["09:00", "12:00"], ["13:00", "17:00"]], "sat": [["10:00", "14:00"]]},
    }
    assert "mon 09:00-12:00 13:00-17:00; sat 10:00-14:00" in created.text

    page = web.get(f"/console/subscriptions/{sub['id']}")
    assert page.status_code == 200 and 'value="America/New_York"' in page.text
    edited = web.post(
        f"/console/subscriptions/{sub['id']}",
        data={"csrf_token": csrf, "weight": "2", "monthly_cap": "30", "timezone": "", "hours": ""},
    )
    assert edited.status_code == 200 and "Delivery rules saved" in edited.text
    after = market.get(f"/admin/subscriptions/{sub['id']}")
    assert (after["weight"], after["monthly_cap"], after["schedule"]) == (2, 30, None)
    assert after["hourly_cap"] is None  # emptied in the form: no cap

    refused = web.post(
        f"/console/subscriptions/{sub['id']}",
        data={"csrf_token": csrf, "weight": "2", "timezone": "Mars/Olympus", "hours": "mon 9-5"},
    )
    assert refused.status_code == 422
    assert "is not an IANA time zone" in refused.text
    assert 'value="Mars/Olympus"' in refused.text  # what was typed stays
    assert market.get(f"/admin/subscriptions/{sub['id']}")["weight"] == 2
    shape = web.post(
        f"/console/subscriptions/{sub['id']}",
        data={"csrf_token": csrf, "timezone": "UTC", "hours": "mon 09:00"},
    )
    assert shape.status_code == 422 and "HH:MM-HH:MM" in shape.text


def test_a_levels_price_overrides_are_shown_and_edited(
    admin_web: tuple[TestClient, str], market: Marketplace
) -> None:
    web, csrf = admin_web
    niche = market.niche("movers", levels=[("Gold", 1, 4900)])
    level = niche["levels"][0]
    saved = web.post(
        f"/console/levels/{level['id']}",
        data={
            "csrf_token": csrf,
            "niche_id": niche["id"],
            "name": "Gold",
            "max_recipients": "1",
            "price": "49.00",
            "is_active": "1",
            "price_overrides": "100=59.00, 10001=65",
        },
    )
    assert saved.status_code == 200, saved.text
    stored = market.get(f"/admin/niches/{niche['id']}")["levels"][0]["price_overrides"]
    assert stored == [
        {"postal_prefix": "100", "price_cents": 5900},
        {"postal_prefix": "10001", "price_cents": 6500},
    ]
    assert 'value="100=59.00, 10001=65.00"' in web.get(f"/console/niches/{niche['id']}").text
