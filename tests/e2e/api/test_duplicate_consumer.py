"""``duplicate_consumer`` through the real API and worker (SPEC §11): a consumer bought by a
provider in one niche is not sold to it in another within its ``dedupe_days``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.api.conftest import Marketplace

pytestmark = pytest.mark.usefixtures("worker")


def _buyers(market: Marketplace, lead_id: str) -> set[str]:
    items = market.get(f"/admin/leads/{lead_id}/assignments")["items"]
    return {a["provider_id"] for a in items}


def _trace(market: Marketplace, lead_id: str) -> list[tuple[str, str]]:
    [run] = market.get(f"/admin/leads/{lead_id}/runs")
    return [(e["provider_id"], e["outcome"]) for lv in run["levels"] for e in lv["entries"]]


def _two_niches(market: Marketplace) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    a = market.niche("movers", levels=[("Gold", 2, 1000)])
    b = market.niche("cleaners", levels=[("Gold", 2, 1000)])
    levels = [a["levels"][0]["id"], b["levels"][0]["id"]]
    p = market.provider("P", balance_cents=100_000, levels=levels, dedupe_days=30)
    other = market.provider("Other", balance_cents=100_000, levels=[levels[1]], dedupe_days=30)
    return p, other, b


def test_a_consumer_bought_in_one_niche_is_not_sold_to_that_provider_in_another(
    market: Marketplace,
) -> None:
    p, other, _ = _two_niches(market)
    first, _ = market.approved_lead("movers")
    assert market.wait_settled(first)["last_attempt_status"] == "partial"
    assert _buyers(market, first) == {p["id"]}
    # The same consumer, typed differently: the normalized keys match.
    second = market.lead("cleaners", email=" Jane@Example.com ", phone="(212) 555-0100")
    preview = market.post(f"/admin/leads/{second['id']}/distribution-preview", {}, expect=200)
    assert [(s["provider_id"], s["reason"]) for s in preview["skipped"]] == [
        (p["id"], "duplicate_consumer")
    ]
    market.post(f"/admin/leads/{second['id']}/approve", {}, expect=200)
    assert market.wait_settled(second["id"])["last_attempt_status"] == "partial"
    assert _buyers(market, second["id"]) == {other["id"]}
    assert (p["id"], "duplicate_consumer") in _trace(market, second["id"])
    audit = market.get("/admin/audit-log", action="distribution.skipped_provider")["items"]
    assert [
        (row["metadata"]["provider_id"], row["metadata"]["reason"])
        for row in audit
        if row["entity_id"] == second["id"]
    ] == [(p["id"], "duplicate_consumer")]


def test_with_dedupe_days_zero_the_consumer_is_sold_to_the_provider_again(
    market: Marketplace,
) -> None:
    p, other, _ = _two_niches(market)
    response = market.client.patch(
        f"/api/v1/admin/providers/{p['id']}", json={"dedupe_days": 0}, headers=market.admin.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["dedupe_days"] == 0
    first, _ = market.approved_lead("movers")
    market.wait_settled(first)
    second, _ = market.approved_lead("cleaners")
    assert market.wait_settled(second)["last_attempt_status"] == "success"
    assert _buyers(market, second) == {p["id"], other["id"]}
    assert all(outcome == "sold" for _, outcome in _trace(market, second))
