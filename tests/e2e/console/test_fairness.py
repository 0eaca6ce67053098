"""The fairness figures (SPEC §13): the JSON endpoint and the console's chart, over sales made
by the real engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from leadflow.db.connection import Connection
from leadflow.domain.model import Actor
from leadflow.services.distribution import distribute_lead
from tests.e2e.api.conftest import Marketplace

TODAY = datetime.now(UTC).date()


def _sold(market: Marketplace, pool: ConnectionPool[Connection]) -> dict[str, Any]:
    """Gold (one seat) shared by Ann, Bob and Cy over four leads: 2, 1, 1. Dee's paused
    subscription never sells and is left out; Silver has no subscription."""
    niche = market.niche("movers", levels=[("Gold", 1, 1000), ("Silver", 1, 500)])
    gold = niche["levels"][0]["id"]
    subs = {
        name: market.provider(name, balance_cents=100_000, levels=[gold])
        for name in ("Ann", "Bob", "Cy")
    }
    dee = market.provider("Dee", balance_cents=100_000, levels=[gold])
    market.client.patch(
        f"/api/v1/admin/subscriptions/{dee['subscriptions'][0]['id']}",
        json={"status": "paused"},
        headers=market.admin.headers,
    ).raise_for_status()
    for _ in range(4):
        lead_id, _ = market.approved_lead()
        distribute_lead(pool, lead_id=UUID(lead_id), triggered_by=Actor.system())
    return {"niche": niche, "providers": subs, "dee": dee}


def test_fairness_per_level_counts_sales_against_an_equal_share(
    market: Marketplace, pool: ConnectionPool[Connection], client: TestClient
) -> None:
    m = _sold(market, pool)
    report = market.get("/admin/fairness", niche_id=m["niche"]["id"])
    assert report["niche_id"] == m["niche"]["id"]
    assert report["until"] == TODAY.isoformat()
    assert report["since"] == (TODAY - timedelta(days=29)).isoformat()
    gold, silver = report["levels"]
    assert gold["level_name"] == "Gold" and gold["sales"] == 4
    assert sorted(s["sales"] for s in gold["subscriptions"]) == [1, 1, 2]
    assert {s["provider_name"] for s in gold["subscriptions"]} == {"Ann", "Bob", "Cy"}
    for share in gold["subscriptions"]:
        assert share["weight"] == 1.0
        assert share["fair_share"] == pytest.approx(4 / 3)
        assert share["deviation"] == pytest.approx(share["sales"] - 4 / 3)
    assert gold["spread"] == pytest.approx(1.0)
    assert gold["max_deviation"] == pytest.approx(2 / 3)
    assert gold["jain_index"] == pytest.approx(16 / 18)
    assert silver == {
        "level_id": m["niche"]["levels"][1]["id"],
        "level_name": "Silver",
        "order_position": 2,
        "sales": 0,
        "max_deviation": 0.0,
        "spread": 0.0,
        "jain_index": None,
        "subscriptions": [],
    }

    only = market.get(
        "/admin/fairness",
        niche_id=m["niche"]["id"],
        competition_level_id=m["niche"]["levels"][0]["id"],
    )
    assert [lv["level_name"] for lv in only["levels"]] == ["Gold"]
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    before = market.get(
        "/admin/fairness", niche_id=m["niche"]["id"], **{"from": yesterday, "to": yesterday}
    )
    # Yesterday's window: the subscriptions were made today, so none could sell then.
    assert before["levels"][0]["subscriptions"] == [] and before["levels"][0]["sales"] == 0


def test_fairness_refuses_bad_input_with_problems(
    market: Marketplace, pool: ConnectionPool[Connection], client: TestClient
) -> None:
    m = _sold(market, pool)
    niche_id = m["niche"]["id"]
    for params, status in (
        ({}, 422),
        ({"niche_id": "nope"}, 422),
        ({"niche_id": niche_id, "from": "2021-02-30"}, 422),
        ({"niche_id": niche_id, "to": "7"}, 422),
        ({"niche_id": niche_id, "competition_level_id": "x"}, 422),
        ({"niche_id": m["dee"]["id"]}, 404),
        ({"niche_id": niche_id, "competition_level_id": niche_id}, 404),
    ):
        response = client.get("/api/v1/admin/fairness", params=params, headers=market.admin.headers)
        assert response.status_code == status, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == status
    assert client.get("/api/v1/admin/fairness", params={"niche_id": niche_id}).status_code == 401


def test_fairness_page_draws_each_level_with_its_figures(
    admin_web: tuple[TestClient, str], market: Marketplace, pool: ConnectionPool[Connection]
) -> None:
    web, _ = admin_web
    m = _sold(market, pool)
    page = web.get("/console/fairness")
    assert page.status_code == 200
    html = page.text
    assert 'aria-current="page">Fairness' in html.replace("\n", "")
    assert "<svg" in html and 'aria-label="Sales against fair share, Gold"' in html
    assert html.count('class="bar"') == 3 and html.count('class="fair"') == 3
    assert '<dd class="jain">0.889</dd>' in html and '<dd class="spread">1.0</dd>' in html
    assert "no subscription could sell in this window" in html  # Silver
    assert "Dee" not in html
    assert "<script" not in html

    chosen = web.get(
        "/console/fairness",
        params={"niche_id": m["niche"]["id"], "from": "2021-01-01", "to": "2021-01-31"},
    )
    assert chosen.status_code == 200 and 'class="bar"' not in chosen.text
    bad = web.get("/console/fairness", params={"from": "31/01/2021"})
    assert bad.status_code == 422
    assert "From must be a day like 2026-01-31" in bad.text
    assert 'value="31/01/2021"' in bad.text  # what was typed stays
    assert web.get("/console/fairness", params={"niche_id": "x"}).status_code == 422
