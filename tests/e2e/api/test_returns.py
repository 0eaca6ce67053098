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
