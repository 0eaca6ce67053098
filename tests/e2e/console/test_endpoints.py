"""The JSON endpoints the console reads through: a run's trace, a lead's runs, the subscription
list and the daily report; the same services the pages use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.e2e.api.conftest import Marketplace


def test_run_trace_lists_levels_in_traversal_order_with_sales_and_skips(
    market: Marketplace, worker: None
) -> None:
    niche = market.niche("movers", levels=[("Gold", 2, 4900), ("Silver", 1, 1500)])
    gold, silver = (lv["id"] for lv in niche["levels"])
    rich = market.provider("Rich", balance_cents=100_000, levels=[gold])
    picky = market.provider(
        "Picky",
        balance_cents=100_000,
        levels=[gold],
        filters=[{"field": "rooms", "op": "gte", "value": 2}],
    )
    lead_id, _ = market.approved_lead(attributes={"rooms": "many"})
    market.wait_settled(lead_id)

    runs = market.get(f"/admin/leads/{lead_id}/runs")
    assert len(runs) == 1
    run = market.get(f"/admin/runs/{runs[0]['id']}")
    assert run == runs[0]
    assert run["status"] == "partial"
    assert run["start_level_order_position"] == 1
    assert run["traversal_order"] == [gold, silver]
    assert [lv["level_id"] for lv in run["levels"]] == [gold, silver]
    entries = {e["provider_id"]: e for e in run["levels"][0]["entries"]}
    assert entries[rich["id"]]["outcome"] == "sold"
    assert entries[rich["id"]]["price_cents"] == 4900
    assert entries[picky["id"]]["outcome"] == "eligibility_error"
    assert run["levels"][1]["entries"] == []

    market.get(f"/admin/runs/{lead_id}", expect=404)
    market.get(f"/admin/leads/{rich['id']}/runs", expect=404)


def test_subscription_list_filters(market: Marketplace) -> None:
    niche = market.niche("movers", levels=[("Gold", 1, 4900)])
    other = market.niche("roofers", levels=[("Top", 1, 100)])
    gold, top = niche["levels"][0]["id"], other["levels"][0]["id"]
    a = market.provider("Alpha", balance_cents=10_000, levels=[gold, top])
    market.provider("Beta", balance_cents=0, levels=[gold])

    every = market.get("/admin/subscriptions")
    assert every["total"] == 3
    assert {i["provider_name"] for i in every["items"]} == {"Alpha", "Beta"}
    assert market.get("/admin/subscriptions", provider_id=a["id"])["total"] == 2
    assert market.get("/admin/subscriptions", niche_id=other["id"])["total"] == 1
    paused = market.get("/admin/subscriptions", status="paused_low_balance")
    assert [i["provider_name"] for i in paused["items"]] == ["Beta"]
    assert paused["items"][0]["niche_name"] == "Movers"
    market.get("/admin/subscriptions", status="nope", expect=422)
    one = market.get("/admin/subscriptions", competition_level_id=top, limit=1)
    assert one["limit"] == 1 and one["items"][0]["level_name"] == "Top"


def test_daily_report_counts_leads_sales_and_revenue(
    market: Marketplace, worker: None, client: TestClient
) -> None:
    niche = market.niche("movers", levels=[("Gold", 2, 4900)])
    gold = niche["levels"][0]["id"]
    market.provider("Rich", balance_cents=100_000, levels=[gold])
    market.provider("Also", balance_cents=100_000, levels=[gold])
    lead_id, _ = market.approved_lead()
    market.wait_settled(lead_id)
    market.lead()

    today = datetime.now(UTC).date()
    report = market.get("/admin/reports/daily")
    assert report["until"] == today.isoformat()
    assert report["since"] == (today - timedelta(days=29)).isoformat()
    assert len(report["days"]) == 30
    assert report["days"][-1] == {
        "day": today.isoformat(),
        "leads": 2,
        "sales": 2,
        "revenue_cents": 9800,
        "refunds_cents": 0,
    }
    assert report["sales"] == 2 and report["revenue_cents"] == 9800
    assert report["leads_by_status"] == {"distributed": 1, "pending_approval": 1}
    yesterday = (today - timedelta(days=1)).isoformat()
    empty = market.get("/admin/reports/daily", **{"from": yesterday, "to": yesterday})
    assert empty["sales"] == 0 and len(empty["days"]) == 1
    backwards = market.get("/admin/reports/daily", **{"from": today.isoformat(), "to": yesterday})
    assert backwards["days"] == [] and backwards["sales"] == 0
    long = market.get("/admin/reports/daily", **{"from": "2020-01-01", "to": "2022-01-01"})
    assert long["since"] == "2021-01-01" and len(long["days"]) == 366
    market.get("/admin/reports/daily", to="0", expect=422)
    market.get("/admin/reports/daily", to="2021-02-30", expect=422)
    assert client.get("/api/v1/admin/reports/daily").status_code == 401
