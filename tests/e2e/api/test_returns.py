"""Returns, refunds and adjustments through the real API (SPEC §9)."""

from __future__ import annotations

from tests.e2e.api.conftest import Marketplace


def test_niche_carries_its_return_settings(market: Marketplace) -> None:
    niche = market.post("/admin/niches", {"slug": "movers", "name": "Movers"})
    assert niche["return_window_hours"] == 72
    assert niche["return_reasons"] == [
        "bad_contact",
        "duplicate",
        "out_of_area",
        "not_interested",
        "other",
    ]
    assert niche["auto_approve_returns_under_rate"] is None
    assert niche["resell_returned"] is False

    changed = market.client.patch(
        f"/api/v1/admin/niches/{niche['id']}",
        json={
            "return_window_hours": 24,
            "return_reasons": ["bad_contact", "other"],
            "auto_approve_returns_under_rate": 0.1,
            "resell_returned": True,
        },
        headers=market.admin.headers,
    )
    assert changed.status_code == 200, changed.text
    got = market.get(f"/admin/niches/{niche['id']}")
    assert (got["return_window_hours"], got["return_reasons"]) == (24, ["bad_contact", "other"])
    assert (got["auto_approve_returns_under_rate"], got["resell_returned"]) == (0.1, True)

    off = market.client.patch(
        f"/api/v1/admin/niches/{niche['id']}",
        json={"auto_approve_returns_under_rate": None},
        headers=market.admin.headers,
    )
    assert off.json()["auto_approve_returns_under_rate"] is None


def test_adjustments_credit_debit_and_replay(market: Marketplace) -> None:
    niche = market.niche(levels=[("Gold", 1, 1000)])
    provider = market.provider("Acme", balance_cents=1500, levels=[niche["levels"][0]["id"]])
    path = f"/api/v1/admin/providers/{provider['id']}/adjustments"
    headers = market.admin.headers

    debit = market.client.post(
        path, json={"amount_cents": -800, "reason": "double deposit"}, headers=headers
    )
    assert debit.status_code == 201, debit.text
    assert debit.json()["balance_cents"] == 700
    assert debit.json()["ledger_entry"]["kind"] == "adjustment"
    assert debit.json()["ledger_entry"]["note"] == "double deposit"

    body = {"amount_cents": 500, "reason": "goodwill", "idempotency_key": "gw-1"}
    first = market.client.post(path, json=body, headers=headers)
    again = market.client.post(path, json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["ledger_entry_id"] == again.json()["ledger_entry_id"]
    assert again.json()["balance_cents"] == 1200

    overdraft = market.client.post(
        path, json={"amount_cents": -1201, "reason": "too much"}, headers=headers
    )
    assert overdraft.status_code == 409
    assert overdraft.headers["content-type"] == "application/problem+json"
    assert market.get(f"/admin/providers/{provider['id']}")["balance_cents"] == 1200

    ledger = market.get(f"/admin/providers/{provider['id']}/ledger")
    assert [e["kind"] for e in ledger["items"]] == ["adjustment", "adjustment", "deposit"]
    actions = [row["action"] for row in market.get("/admin/audit-log")["items"]]
    assert actions.count("provider.adjustment") == 2


def test_a_credit_adjustment_resumes_a_subscription_paused_for_low_balance(
    market: Marketplace,
) -> None:
    niche = market.niche(levels=[("Gold", 1, 1000)])
    provider = market.provider("Acme", balance_cents=500, levels=[niche["levels"][0]["id"]])
    assert provider["subscriptions"][0]["status"] == "paused_low_balance"
    market.post(
        f"/admin/providers/{provider['id']}/adjustments", {"amount_cents": 500, "reason": "promo"}
    )
    detail = market.get(f"/admin/providers/{provider['id']}")
    assert detail["subscriptions"][0]["status"] == "active"
