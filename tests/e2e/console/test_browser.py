"""The console as its users meet it: chromium (Playwright) against a real uvicorn server, the
real worker and PostgreSQL. Every wait is for a condition, bounded by TIMEOUT_MS."""

from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.e2e.api.conftest import Admin, Marketplace, totp_code
from tests.e2e.console.conftest import TIMEOUT_MS
from tests.support.receiver import Receiver
from tests.support.receiver import receiver as receiver

XSS = "<script>alert(1)</script>"


def login(page: Page, base: str, email: str, password: str, secret: str | None = None) -> None:
    """Log in through the forms. An admin sends the next TOTP step's code: the admin fixture's
    API login used this step's, a code works once, and one step of drift is accepted."""
    page.goto(f"{base}/console/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    if secret is not None:
        expect(page.get_by_role("heading", name="Authenticator code")).to_be_visible()
        page.get_by_label("Six-digit code").fill(totp_code(secret, 1))
        page.get_by_role("button", name="Continue").click()


def _marketplace(market: Marketplace) -> dict[str, Any]:
    niche = market.niche("movers", levels=[("Gold", 2, 4900), ("Silver", 1, 1500)])
    gold, silver = (lv["id"] for lv in niche["levels"])
    rich = market.provider_login("Rich", balance_cents=100_000, levels=[gold])
    picky = market.provider(
        "Picky",
        balance_cents=100_000,
        levels=[gold],
        filters=[{"field": "rooms", "op": "gte", "value": 2}],
    )
    poor = market.provider("Poor", balance_cents=1000, levels=[silver])
    return {"rich": rich, "picky": picky, "poor": poor}


def test_admin_approves_a_lead_sees_it_distributed_and_opens_its_trace(
    page: Page, live_url: str, market: Marketplace, admin: Admin, worker: None
) -> None:
    _marketplace(market)
    lead = market.lead(attributes={"rooms": "many"})  # Picky's filter cannot read it

    login(page, live_url, admin.email, admin.password, admin.secret)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator("svg.chart").first).to_be_visible()

    page.get_by_role("link", name="Leads", exact=True).click()
    page.get_by_role("link", name=lead_link_text(market, lead["id"])).click()
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_contain_text("Lead approved")

    market.wait_settled(lead["id"])
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_contain_text("distributed")
    assignments = page.locator("section", has=page.get_by_role("heading", name="Assignments"))
    expect(assignments.get_by_role("link", name="Rich")).to_be_visible()

    page.get_by_role("link", name="Run of").first.click()
    expect(page.get_by_role("heading", name="Distribution run")).to_be_visible()
    expect(page.get_by_text("Gold → Silver")).to_be_visible()
    gold = page.locator(".level", has=page.get_by_role("heading", name="Gold"))
    expect(gold.locator("tr", has_text="Rich")).to_contain_text("sold")
    expect(gold.locator("tr", has_text="Picky")).to_contain_text("skipped: eligibility error")


def lead_link_text(market: Marketplace, lead_id: str) -> str:
    created = market.get(f"/admin/leads/{lead_id}")["created_at"]
    return created[:19].replace("T", " ") + " UTC"


def test_deposit_to_a_paused_provider_reactivates_it(
    page: Page, live_url: str, market: Marketplace, admin: Admin
) -> None:
    m = _marketplace(market)
    login(page, live_url, admin.email, admin.password, admin.secret)
    page.goto(f"{live_url}/console")
    paused = page.locator("section", has=page.get_by_role("heading", name="Providers paused"))
    paused.get_by_role("link", name="Poor").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Poor")
    expect(page.locator("td .badge").first).to_have_text("paused low balance")

    page.get_by_label("Deposit ($)").fill("25")
    page.get_by_label("Note").fill("top-up from the console")
    page.get_by_role("button", name="Deposit").click()
    expect(page.get_by_role("status")).to_contain_text("Deposit recorded")
    expect(page.locator("#balance")).to_have_text("$35.00")
    expect(page.locator("td .badge").first).to_have_text("active")
    expect(page.get_by_role("cell", name="top-up from the console")).to_be_visible()
    provider = market.get(f"/admin/providers/{m['poor']['id']}")
    assert provider["balance_cents"] == 3500


def test_provider_sees_its_lead_in_the_portal_and_nothing_else(
    page: Page, live_url: str, market: Marketplace, worker: None
) -> None:
    m = _marketplace(market)
    other = market.provider_login("Other", balance_cents=100_000)
    lead_id, _ = market.approved_lead(attributes={"rooms": 3}, name="Ann Mover")
    market.wait_settled(lead_id)

    login(page, live_url, m["rich"].email, m["rich"].password)
    expect(page.get_by_role("heading", name="My leads")).to_be_visible()
    expect(page.locator("#balance")).to_have_text("$951.00")
    page.get_by_role("cell", name="Ann Mover").locator("xpath=..").get_by_role("link").click()
    expect(page.get_by_role("heading", name="Ann Mover")).to_be_visible()
    expect(page.get_by_role("link", name="jane@example.com")).to_be_visible()
    own_url = page.url

    assert page.goto(f"{live_url}/console").status == 403  # type: ignore[union-attr]
    assert page.goto(f"{live_url}/console/leads").status == 403  # type: ignore[union-attr]

    page.context.clear_cookies()
    login(page, live_url, other.email, other.password)
    expect(page.get_by_role("heading", name="My leads")).to_be_visible()
    assert page.goto(own_url).status == 404  # type: ignore[union-attr]


def test_script_in_a_lead_name_never_runs_and_logout_ends_the_session(
    page: Page, live_url: str, market: Marketplace, admin: Admin
) -> None:
    _marketplace(market)
    lead = market.lead(name=XSS)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    login(page, live_url, admin.email, admin.password, admin.secret)
    page.goto(f"{live_url}/console/leads")
    expect(page.get_by_role("cell", name=XSS)).to_be_visible()
    page.goto(f"{live_url}/console/leads/{lead['id']}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(XSS)
    assert dialogs == []

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("logged out")
    page.go_back()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert "/console/login" in page.url
    session = [c for c in page.context.cookies() if c["name"] == "lf_session"]
    assert session == []


def test_admin_opens_the_fairness_chart_of_a_window(
    page: Page, live_url: str, market: Marketplace, admin: Admin, worker: None
) -> None:
    m = _marketplace(market)
    for rooms in (3, 3, 1):
        lead_id, _ = market.approved_lead(attributes={"rooms": rooms})
        market.wait_settled(lead_id)
    login(page, live_url, admin.email, admin.password, admin.secret)
    page.get_by_role("link", name="Fairness").click()
    expect(page.get_by_role("heading", name="Fairness", level=1)).to_be_visible()
    gold = page.locator("section", has=page.get_by_role("heading", name="1. Gold"))
    expect(gold.get_by_role("img", name="Sales against fair share, Gold")).to_be_visible()
    expect(gold.locator("svg rect.bar")).to_have_count(2)  # Rich and Picky
    expect(gold.locator("dd.jain")).to_have_text("0.962")  # 3 and 2 sales: 25 / 26
    expect(gold.locator("tr", has_text="Rich")).to_contain_text("3")

    page.get_by_label("From (UTC day)").fill("2021-01-01")
    page.get_by_label("To (UTC day)").fill("2021-01-31")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("Sales from 2021-01-01 to 2021-01-31")).to_be_visible()
    expect(page.locator("svg rect.bar")).to_have_count(0)
    assert market.get(f"/admin/providers/{m['rich'].id}")["balance_cents"] == 100_000 - 3 * 4900


def test_admin_edits_a_weight_and_the_fairness_chart_follows_it(
    page: Page, live_url: str, market: Marketplace, admin: Admin, worker: None
) -> None:
    niche = market.niche("movers", levels=[("Gold", 1, 1000)])
    [gold] = (lv["id"] for lv in niche["levels"])
    big = market.provider("Big", balance_cents=100_000, levels=[gold])
    market.provider("Small", balance_cents=100_000, levels=[gold])
    login(page, live_url, admin.email, admin.password, admin.secret)
    page.goto(f"{live_url}/console/subscriptions/{big['subscriptions'][0]['id']}")
    page.get_by_label("Weight").fill("3")
    page.get_by_role("button", name="Save rules").click()
    expect(page.get_by_text("Delivery rules saved")).to_be_visible()

    # Smooth weighted round-robin over 3 : 1, four leads: Big, Big, Small, Big (or the like).
    for _ in range(4):
        lead_id, _ = market.approved_lead()
        market.wait_settled(lead_id)
    page.get_by_role("link", name="Fairness").click()
    section = page.locator("section", has=page.get_by_role("heading", name="1. Gold"))
    expect(section.get_by_role("img", name="Sales against fair share, Gold")).to_be_visible()
    big_row = section.locator("tr", has_text="Big")
    expect(big_row.locator("td[data-label=Weight]")).to_have_text("3")
    expect(big_row.locator("td[data-label=Sales]")).to_have_text("3")
    expect(big_row.locator("td[data-label='Fair share']")).to_have_text("3.0")
    expect(section.locator("tr", has_text="Small").locator("td[data-label=Sales]")).to_have_text(
        "1"
    )
    expect(section.locator("dd.jain")).to_have_text("1.000")


def test_disabling_a_provider_user_ends_its_portal_session(
    browser: Browser, page: Page, live_url: str, market: Marketplace, admin: Admin
) -> None:
    m = _marketplace(market)
    portal = browser.new_context(viewport={"width": 390, "height": 844})
    portal.set_default_timeout(TIMEOUT_MS)
    try:
        provider_tab = portal.new_page()
        login(provider_tab, live_url, m["rich"].email, m["rich"].password)
        expect(provider_tab.get_by_role("heading", name="My leads")).to_be_visible()

        login(page, live_url, admin.email, admin.password, admin.secret)
        page.get_by_role("link", name="Users").click()
        row = page.locator("tr", has_text=m["rich"].email)
        row.get_by_role("button", name="Disable").click()
        expect(page.get_by_role("status")).to_contain_text(f"{m['rich'].email} is disabled")
        expect(page.locator("tr", has_text=m["rich"].email)).to_contain_text("disabled")

        provider_tab.reload()
        expect(provider_tab.get_by_role("heading", name="Log in")).to_be_visible()
        login(provider_tab, live_url, m["rich"].email, m["rich"].password)
        expect(provider_tab.get_by_role("alert")).to_contain_text("invalid email or password")
    finally:
        portal.close()


def test_provider_returns_a_lead_in_the_portal(
    page: Page, live_url: str, market: Marketplace, admin: Admin, worker: None
) -> None:
    m = _marketplace(market)
    lead_id, _ = market.approved_lead(attributes={"rooms": 3}, name="Ann Mover")
    market.wait_settled(lead_id)

    login(page, live_url, m["rich"].email, m["rich"].password)
    page.get_by_role("cell", name="Ann Mover").locator("xpath=..").get_by_role("link").click()
    page.get_by_label("Reason").select_option("bad_contact")
    page.get_by_label("Note").fill("the number is not in service")
    page.get_by_role("button", name="Return this lead").click()
    expect(page.get_by_role("status")).to_contain_text("Return requested")
    section = page.locator("#return")
    expect(section).to_contain_text("requested")
    expect(section).to_contain_text("the number is not in service")

    page.get_by_role("link", name="My returns").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("bad contact")
    [request] = market.get("/admin/returns")["items"]
    assert request["provider_id"] == m["rich"].id and request["status"] == "requested"


def settled_delivery(market: Marketplace, endpoint_id: str, status: str) -> dict[str, Any]:
    """The endpoint's newest delivery once it has ``status`` (bounded by TIMEOUT_MS)."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while True:
        items = market.get("/admin/deliveries", endpoint_id=endpoint_id)["items"]
        if items and items[0]["status"] == status:
            return dict(items[0])
        if time.monotonic() > deadline:
            raise AssertionError(f"no {status} delivery: {items}")
        time.sleep(0.05)


def test_admin_redelivers_a_failed_delivery(
    page: Page,
    live_url: str,
    market: Marketplace,
    admin: Admin,
    receiver: Receiver,
    worker: None,
) -> None:
    m = _marketplace(market)
    endpoint = market.post(
        f"/admin/providers/{m['rich'].id}/endpoints", {"url": receiver.url("rich")}
    )
    receiver.respond("rich", "gone")
    lead_id, _ = market.approved_lead(attributes={"rooms": 3})
    market.wait_settled(lead_id)
    failed = settled_delivery(market, endpoint["id"], "failed")

    login(page, live_url, admin.email, admin.password, admin.secret)
    page.get_by_role("link", name="Deliveries").click()
    expect(page.get_by_role("heading", name="Deliveries", level=1)).to_be_visible()
    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.deliveries tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Rich")
    rows.get_by_role("link", name="UTC").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("failed")
    attempts = page.locator("table.attempts tbody tr")
    expect(attempts).to_have_count(1)
    expect(attempts).to_contain_text("410")
    expect(attempts).to_contain_text('{"error": "gone"}')

    receiver.respond("rich", "ok")
    page.get_by_role("button", name="Redeliver").click()
    expect(page.get_by_role("status")).to_contain_text("Redelivery queued")
    settled_delivery(market, endpoint["id"], "delivered")
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_contain_text("delivered")
    expect(attempts).to_have_count(2)
    expect(attempts.nth(1)).to_contain_text("200")
    assert [r.headers["leadflow-delivery"] for r in receiver.received("rich")] == [failed["id"]] * 2


def test_provider_adds_an_endpoint_in_the_portal_and_sees_its_secret_once(
    page: Page, live_url: str, market: Marketplace, receiver: Receiver, worker: None
) -> None:
    m = _marketplace(market)
    login(page, live_url, m["rich"].email, m["rich"].password)
    page.get_by_role("link", name="My endpoints").click()
    expect(page.get_by_role("heading", name="My endpoints")).to_be_visible()
    page.get_by_label("Endpoint URL").fill("http://10.0.0.1/x")
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.locator("#e-endpoint-url")).to_contain_text("https")

    page.get_by_label("Endpoint URL").fill(receiver.url("rich"))
    page.get_by_label("Niche").select_option(label="Movers")
    page.get_by_role("button", name="Add endpoint").click()
    shown = page.locator("#new-secret")
    expect(shown).to_be_visible()
    secret = shown.inner_text().strip()
    assert len(secret) >= 32
    receiver.secret("rich", secret)

    page.get_by_role("link", name="My endpoints").click()
    expect(page.locator("table.endpoints tbody tr")).to_contain_text(receiver.url("rich"))
    expect(page.locator("#new-secret")).to_have_count(0)
    assert secret not in page.content()
    assert all(secret not in c["value"] for c in page.context.cookies())

    lead_id, _ = market.approved_lead(attributes={"rooms": 3})
    market.wait_settled(lead_id)
    [endpoint] = market.get(f"/admin/providers/{m['rich'].id}/endpoints")["items"]
    settled_delivery(market, endpoint["id"], "delivered")
    [request] = receiver.received("rich")
    assert request.signature_valid is True
    page.reload()
    recent = page.locator("table.deliveries tbody tr")
    expect(recent).to_contain_text("delivered")
    recent.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("delivered")
    expect(page.locator("table.attempts tbody tr")).to_contain_text("200")
