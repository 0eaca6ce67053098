"""Every page in chromium at a desktop and a phone width: it renders, the browser reports no
error (a CSP violation or a missing file would be one), and a screenshot is saved.
``make screenshots`` keeps them in docs/screenshots (``LEADFLOW_SCREENSHOTS``)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, expect

from leadflow.domain.schedule import DAYS
from tests.e2e.api.conftest import Admin, Marketplace
from tests.e2e.console.conftest import TIMEOUT_MS
from tests.e2e.console.test_browser import login
from tests.support.receiver import Receiver, Status
from tests.support.receiver import receiver as receiver

WIDTHS = {"desktop": 1280, "phone": 390}


def _collect_errors(page: Page) -> list[str]:
    """What the browser reports as an error on ``page`` (CSP violations, failed loads, ...)."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def settled_deliveries(market: Marketplace, endpoint_id: str, count: int) -> list[dict[str, Any]]:
    """The endpoint's ``count`` deliveries once none is pending (bounded by TIMEOUT_MS)."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while True:
        items = market.get("/admin/deliveries", endpoint_id=endpoint_id)["items"]
        if len(items) >= count and all(d["status"] != "pending" for d in items):
            return list(items)
        if time.monotonic() > deadline:
            raise AssertionError(f"deliveries did not settle: {items}")
        time.sleep(0.05)


def test_every_page_renders_cleanly_at_both_widths(
    browser: Browser,
    live_url: str,
    market: Marketplace,
    admin: Admin,
    worker: None,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    out = Path(os.environ.get("LEADFLOW_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    niche = market.niche("movers", levels=[("Gold", 2, 4900), ("Silver", 1, 1500)])
    gold, silver = (lv["id"] for lv in niche["levels"])
    owner = market.provider_login("Acme", balance_cents=60_000, levels=[gold])
    market.provider(
        "Picky",
        balance_cents=60_000,
        levels=[gold],
        filters=[{"field": "rooms", "op": "gte", "value": 2}],
    )
    market.provider("Budget", balance_cents=1000, levels=[silver], postal_codes=["10001"])
    # Delivery rules on Acme's subscription: a weight, business hours, a daily budget.
    [rules] = market.get("/admin/subscriptions", provider_id=owner.id)["items"]
    edited = market.client.patch(
        f"/api/v1/admin/subscriptions/{rules['id']}",
        json={
            "weight": 2,
            "daily_budget_cents": 50_000,
            "schedule": {"timezone": "UTC", "hours": {d: [["00:00", "24:00"]] for d in DAYS}},
        },
        headers=market.admin.headers,
    )
    assert edited.status_code == 200, edited.text
    # Acme's endpoint: the first sale's delivery fails (410), the others are delivered.
    hook = market.post(
        f"/admin/providers/{owner.id}/endpoints",
        {"url": receiver.url("acme"), "niche_id": niche["id"]},
    )
    market.post(f"/admin/providers/{owner.id}/endpoints", {"url": receiver.url("old")})
    receiver.respond("acme", Status(410, b'{"error": "this endpoint has moved"}'), "ok")
    sold = [
        market.approved_lead(name=name, attributes={"rooms": rooms})[0]
        for name, rooms in (("Ann Lee", 3), ("Bo Chen", "two"), ("Cy Diaz", 1))
    ]
    for lead_id in sold:
        market.wait_settled(lead_id)
    waiting = market.lead(name="Dee Evans", postal_code="10002")
    deliveries = settled_deliveries(market, hook["id"], len(sold))
    failed = next(d for d in deliveries if d["status"] == "failed")
    delivered = next(d for d in deliveries if d["status"] == "delivered")
    run = market.get(f"/admin/leads/{sold[1]}/runs")[0]
    provider_id = market.get("/admin/providers", limit=1)["items"][0]["id"]
    bought = market.client.get("/api/v1/provider/assignments", headers=owner.headers).json()[
        "items"
    ]
    assignment = bought[0]
    returned = market.client.post(
        f"/api/v1/provider/assignments/{bought[-1]['assignment_id']}/return",
        json={"reason": "bad_contact", "note": "the number is not in service"},
        headers=owner.headers,
    )
    assert returned.status_code == 201, returned.text

    admin_pages = {
        "dashboard": "/console",
        "leads": "/console/leads",
        "lead": f"/console/leads/{sold[1]}",
        "lead-preview": f"/console/leads/{waiting['id']}/preview",
        "run": f"/console/runs/{run['id']}",
        "niches": "/console/niches",
        "niche": f"/console/niches/{niche['id']}",
        "providers": "/console/providers",
        "provider": f"/console/providers/{provider_id}",
        "subscriptions": "/console/subscriptions",
        "subscription": f"/console/subscriptions/{rules['id']}",
        "returns": "/console/returns?status=",
        "deliveries": "/console/deliveries",
        "delivery": f"/console/deliveries/{failed['id']}",
        "provider-endpoints": f"/console/providers/{owner.id}",
        "fairness": f"/console/fairness?niche_id={niche['id']}",
        "users": "/console/users",
        "jobs": "/console/jobs",
        "audit": "/console/audit",
    }
    portal_pages = {
        "portal-leads": "/portal",
        "portal-lead": f"/portal/leads/{assignment['assignment_id']}",
        "portal-returns": "/portal/returns",
        "portal-return": f"/portal/leads/{bought[-1]['assignment_id']}",
        "portal-ledger": "/portal/ledger",
        "portal-endpoints": "/portal/endpoints",
        "portal-delivery": f"/portal/deliveries/{delivered['id']}",
    }
    # One login per user (a TOTP code works once), its cookies reused at every width.
    sessions = {}
    for who in ("admin", "provider"):
        context = browser.new_context(viewport={"width": WIDTHS["desktop"], "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        if who == "admin":
            page.goto(f"{live_url}/console/login")
            page.screenshot(path=out / "login-desktop.png", full_page=True)
            login(page, live_url, admin.email, admin.password, admin.secret)
            expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        else:
            login(page, live_url, owner.email, owner.password)
            expect(page.get_by_role("heading", name="My leads")).to_be_visible()
        sessions[who] = context.storage_state()
        context.close()

    for width_name, width in WIDTHS.items():
        for who, pages in (("admin", admin_pages), ("provider", portal_pages)):
            context = browser.new_context(
                viewport={"width": width, "height": 900}, storage_state=sessions[who]
            )
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            errors = _collect_errors(page)
            for name, path in pages.items():
                response = page.goto(f"{live_url}{path}")
                assert response is not None and response.status == 200, (name, path)
                expect(page.locator("main h1")).to_be_visible()
                # Wide tables scroll inside their box; the page itself never scrolls sideways.
                overflow = page.evaluate("document.documentElement.scrollWidth")
                assert overflow <= width, (name, width_name, overflow)
                # A stacked table (one block per row on a phone) shows every cell whole.
                for cell in page.locator("table.stack td").all():
                    box = cell.bounding_box()
                    assert box is not None and box["x"] + box["width"] <= width, (name, box)
                page.screenshot(path=out / f"{name}-{width_name}.png", full_page=True)
            context.close()
            assert errors == [], (who, width_name, errors)
