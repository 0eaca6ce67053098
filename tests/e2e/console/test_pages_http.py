"""The console over HTTP: login and RBAC, every page renders, forms change what they say and
nothing without the session's CSRF token, escaping, headers and cookies."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from leadflow.api import create_app
from leadflow.db.connection import Connection
from leadflow.domain.model import Actor
from leadflow.services.distribution import distribute_lead
from tests.e2e.api.conftest import PASSWORDS, Admin, Marketplace, make_client, totp_code
from tests.e2e.console.conftest import console_login, csrf_of

XSS = "<script>alert(1)</script>"


def _market(market: Marketplace) -> dict[str, Any]:
    niche = market.niche("movers", levels=[("Gold", 1, 4900), ("Silver", 2, 1500)])
    gold, silver = niche["levels"][0]["id"], niche["levels"][1]["id"]
    rich = market.provider("Rich", balance_cents=100_000, levels=[gold])
    poor = market.provider("Poor", balance_cents=1000, levels=[silver])
    return {"niche": niche, "rich": rich, "poor": poor}


def test_pages_need_a_session_and_the_admin_role(
    client: TestClient, market: Marketplace, api_settings: Any, db_url: str
) -> None:
    _market(market)
    first = client.get("/console/leads", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/console/login?next=/console/leads"
    provider = market.provider_login("Portal", balance_cents=0)
    with make_client(api_settings, db_url) as web:
        console_login(web, provider.email, provider.password)
        for path in (
            "/console",
            "/console/leads",
            "/console/providers",
            "/console/jobs",
            "/console/deliveries",
        ):
            response = web.get(path)
            assert response.status_code == 403, path
            assert "text/html" in response.headers["content-type"]
        assert web.get("/portal").status_code == 200
        assert web.get("/portal/endpoints").status_code == 200


def test_every_admin_page_renders_with_security_headers(
    admin_web: tuple[TestClient, str], market: Marketplace
) -> None:
    web, _ = admin_web
    m = _market(market)
    lead = market.lead()
    paths = [
        "/console",
        "/console/leads",
        "/console/leads?status=pending_approval",
        f"/console/leads/{lead['id']}",
        f"/console/leads/{lead['id']}/preview",
        "/console/niches",
        f"/console/niches/{m['niche']['id']}",
        "/console/providers",
        f"/console/providers/{m['rich']['id']}",
        "/console/subscriptions",
        f"/console/subscriptions?provider_id={m['poor']['id']}",
        f"/console/subscriptions/{m['rich']['subscriptions'][0]['id']}",
        "/console/jobs",
        "/console/jobs?status=failed",
        "/console/deliveries",
        "/console/deliveries?status=failed",
        f"/console/deliveries?provider_id={m['rich']['id']}",
        "/console/audit",
        "/console/login",
    ]
    for path in paths:
        response = web.get(path)
        assert response.status_code == 200, (path, response.text[:500])
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        assert "<script" not in response.text
    assert web.get("/console/static/console.css").headers["x-frame-options"] == "DENY"
    assert web.get(f"/console/leads/{m['rich']['id']}").status_code == 404
    assert web.get("/console/leads/not-a-uuid").status_code == 404


def test_approve_reject_and_deposit_need_the_csrf_token(
    admin_web: tuple[TestClient, str], market: Marketplace
) -> None:
    web, csrf = admin_web
    m = _market(market)
    lead = market.lead()
    approve = f"/console/leads/{lead['id']}/approve"
    for data in ({}, {"csrf_token": "wrong"}, {"csrf_token": csrf + "x"}):
        refused = web.post(approve, data=data, follow_redirects=False)
        assert refused.status_code == 403
    deposit = f"/console/providers/{m['poor']['id']}/deposits"
    assert web.post(deposit, data={"amount": "100"}, follow_redirects=False).status_code == 403
    assert market.get(f"/admin/leads/{lead['id']}")["status"] == "pending_approval"
    assert market.get(f"/admin/providers/{m['poor']['id']}")["balance_cents"] == 1000
    # Another session's token is wrong too.
    other = market.client.get("/console/login")
    assert csrf_of(other.text) != csrf

    ok = web.post(approve, data={"csrf_token": csrf}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == f"/console/leads/{lead['id']}"
    assert market.get(f"/admin/leads/{lead['id']}")["status"] == "approved"
    assert "Lead approved" in web.get(ok.headers["location"]).text


def test_deposit_reactivates_a_paused_subscription_once_per_form(
    admin_web: tuple[TestClient, str], market: Marketplace
) -> None:
    web, csrf = admin_web
    m = _market(market)
    poor = m["poor"]
    assert poor["subscriptions"][0]["status"] == "paused_low_balance"
    page = web.get(f"/console/providers/{poor['id']}").text
    assert "paused low balance" in page
    key = page.split('name="idempotency_key" value="')[1].split('"')[0]
    form = {"csrf_token": csrf, "amount": "25.00", "note": "top-up", "idempotency_key": key}
    for _ in range(2):  # a double submit
        done = web.post(f"/console/providers/{poor['id']}/deposits", data=form)
        assert done.status_code == 200
    assert market.get(f"/admin/providers/{poor['id']}")["balance_cents"] == 3500
    sub = market.get(f"/admin/subscriptions/{poor['subscriptions'][0]['id']}")
    assert sub["status"] == "active"

    bad = web.post(
        f"/console/providers/{poor['id']}/deposits",
        data={"csrf_token": csrf, "amount": "ten", "note": "typo", "idempotency_key": "k2"},
    )
    assert bad.status_code == 422
    assert "amount must be an amount in dollars" in bad.text
    assert 'value="ten"' in bad.text and 'value="typo"' in bad.text  # what was typed stays


def test_catalog_forms_create_and_keep_input_on_error(
    admin_web: tuple[TestClient, str], market: Marketplace
) -> None:
    web, csrf = admin_web
    made = web.post(
        "/console/niches",
        data={"csrf_token": csrf, "slug": "roofers", "name": "Roofers"},
        follow_redirects=False,
    )
    assert made.status_code == 303
    niche_path = made.headers["location"]
    level = web.post(
        f"{niche_path}/levels",
        data={
            "csrf_token": csrf,
            "name": "Top",
            "order_position": "1",
            "max_recipients": "2",
            "price": "30",
        },
    )
    assert level.status_code == 200 and "Level Top created" in level.text
    again = web.post("/console/niches", data={"csrf_token": csrf, "slug": "roofers", "name": "Dup"})
    assert again.status_code == 422 and 'value="Dup"' in again.text
    provider = web.post(
        "/console/providers",
        data={"csrf_token": csrf, "name": "Acme", "email": "acme@example.com"},
        follow_redirects=False,
    )
    assert provider.status_code == 303
    niche = market.get("/admin/niches")["items"][0]
    assert niche["slug"] == "roofers"


def test_a_lead_named_like_a_script_renders_as_text(
    admin_web: tuple[TestClient, str], market: Marketplace
) -> None:
    web, _ = admin_web
    _market(market)
    lead = market.lead(name=XSS)
    for path in ("/console/leads", f"/console/leads/{lead['id']}"):
        html = web.get(path).text
        assert XSS not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_session_cookie_flags_and_logout_revokes(
    api_settings: Any, db_url: str, admin: Admin
) -> None:
    with make_client(api_settings, db_url) as web:
        page = web.get("/console/login")
        first = web.post(
            "/console/login",
            data={
                "email": admin.email,
                "password": admin.password,
                "csrf_token": csrf_of(page.text),
            },
            follow_redirects=False,
        )
        assert first.status_code == 303
        mfa = web.get("/console/login/mfa")
        second = web.post(
            "/console/login/mfa",
            data={"code": totp_code(admin.secret, 1), "csrf_token": csrf_of(mfa.text)},
            follow_redirects=False,
        )
        cookie = next(
            v for k, v in second.headers.multi_items() if k == "set-cookie" and "lf_session=" in v
        )
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain HTTP here; https or LEADFLOW_PUBLIC_URL sets it
        token = web.cookies.get("lf_session")
        home = web.get("/console")
        assert home.status_code == 200
        out = web.post(
            "/console/logout", data={"csrf_token": csrf_of(home.text)}, follow_redirects=False
        )
        assert out.status_code == 303 and out.headers["location"] == "/console/login"
        # The old cookie opens nothing any more, in the console or as a bearer token.
        web.cookies.set("lf_session", token or "")
        assert web.get("/console", follow_redirects=False).status_code == 303
        api = web.get("/api/v1/admin/leads", headers={"Authorization": f"Bearer {token}"})
        assert api.status_code == 401


def test_wrong_totp_code_shows_the_form_again(api_settings: Any, db_url: str, admin: Admin) -> None:
    with make_client(api_settings, db_url) as web:
        page = web.get("/console/login")
        web.post(
            "/console/login",
            data={
                "email": admin.email,
                "password": admin.password,
                "csrf_token": csrf_of(page.text),
            },
        )
        wrong = web.post(
            "/console/login/mfa",
            data={"code": "000000", "csrf_token": csrf_of(page.text)},
        )
        assert wrong.status_code == 401 and "invalid or expired" in wrong.text
        bad_password = web.post(
            "/console/login",
            data={"email": admin.email, "password": "nope", "csrf_token": csrf_of(page.text)},
        )
        assert bad_password.status_code == 401 and "invalid email or password" in bad_password.text
        no_csrf = web.post("/console/login", data={"email": admin.email, "password": "x"})
        assert no_csrf.status_code == 403


def test_sessions_end_when_idle_or_too_old(
    admin_web: tuple[TestClient, str], pool: ConnectionPool[Connection]
) -> None:
    web, _ = admin_web
    assert web.get("/console").status_code == 200
    with pool.connection() as conn:  # the session's deadline, pushed on by every page
        row = conn.execute(
            "SELECT expires_at - now() AS left FROM sessions ORDER BY created_at DESC LIMIT 1"
        ).fetchone()
        assert row is not None and 1700 < row["left"].total_seconds() <= 1800
        # Used 13 hours after the login: past the absolute timeout, however active.
        conn.execute("UPDATE sessions SET created_at = now() - interval '13 hours'")
    assert web.get("/console", follow_redirects=False).headers["location"] == "/console/login"


def test_an_idle_session_ends(
    admin_web: tuple[TestClient, str], pool: ConnectionPool[Connection]
) -> None:
    web, _ = admin_web
    with pool.connection() as conn:
        conn.execute("UPDATE sessions SET expires_at = now() - interval '1 second'")
    assert web.get("/console/leads", follow_redirects=False).status_code == 303


def test_suspending_a_provider_ends_its_portal_session(
    admin_web: tuple[TestClient, str], market: Marketplace, api_settings: Any, db_url: str
) -> None:
    web, csrf = admin_web
    provider = market.provider_login("Portal", balance_cents=0)
    with make_client(api_settings, db_url) as portal:
        console_login(portal, provider.email, provider.password)
        suspended = web.post(
            f"/console/providers/{provider.id}/status",
            data={"csrf_token": csrf, "status": "suspended"},
        )
        assert suspended.status_code == 200 and "Provider is now suspended" in suspended.text
        assert portal.get("/portal", follow_redirects=False).status_code == 303


def test_cookies_are_secure_over_https_or_an_https_public_url(
    api_settings: Any, db_url: str, admin: Admin
) -> None:
    settings = api_settings.model_copy(update={"public_url": "https://leads.example.com"})
    with make_client(settings, db_url) as web:
        assert "Secure" in web.get("/console/login").headers["set-cookie"]
    app = create_app(api_settings, db_url, passwords=PASSWORDS)
    with TestClient(app, base_url="https://testserver") as web:
        page = web.get("/console/login")
        first = web.post(
            "/console/login",
            data={
                "email": admin.email,
                "password": admin.password,
                "csrf_token": csrf_of(page.text),
            },
            follow_redirects=False,
        )
        assert first.status_code == 303
        mfa = web.get("/console/login/mfa")
        second = web.post(
            "/console/login/mfa",
            data={"code": totp_code(admin.secret, 1), "csrf_token": csrf_of(mfa.text)},
            follow_redirects=False,
        )
        session = next(
            v for k, v in second.headers.multi_items() if k == "set-cookie" and "lf_session=" in v
        )
        assert "Secure" in session and "HttpOnly" in session


def test_forms_are_for_the_console_only(admin_web: tuple[TestClient, str]) -> None:
    """The API stays JSON-only (415 for a form body); the console's pages take forms."""
    web, csrf = admin_web
    api = web.post("/api/v1/leads", data={"niche": "movers"})
    assert api.status_code == 415
    page = web.post("/console/niches", data={"csrf_token": csrf, "slug": "x y", "name": "X"})
    assert page.status_code == 422 and "slug must be" in page.text


def test_returns_queue_approves_with_a_refund_and_denies_with_a_reason(
    admin_web: tuple[TestClient, str], market: Marketplace, pool: ConnectionPool[Connection]
) -> None:
    web, csrf = admin_web
    niche = market.niche("movers", levels=[("Gold", 1, 4900)])
    provider = market.provider_login(
        "Mover", balance_cents=100_000, levels=[niche["levels"][0]["id"]]
    )
    returned = []
    for _ in range(2):
        lead_id, _ = market.approved_lead()
        distribute_lead(pool, lead_id=UUID(lead_id), triggered_by=Actor.system())
        assignment = market.get(f"/admin/leads/{lead_id}/assignments")["items"][0]
        made = market.client.post(
            f"/api/v1/provider/assignments/{assignment['assignment_id']}/return",
            json={"reason": "other", "note": XSS},
            headers=provider.headers,
        )
        assert made.status_code == 201, made.text
        returned.append(made.json()["return_id"])

    queue = web.get("/console/returns")
    assert queue.status_code == 200 and queue.text.count('action="/console/returns/') == 4
    assert XSS not in queue.text
    assert web.post(f"/console/returns/{returned[0]}/approve", data={}).status_code == 403
    done = web.post(f"/console/returns/{returned[0]}/approve", data={"csrf_token": csrf})
    assert done.status_code == 200 and "Return approved; refunded 49.00 dollars" in done.text
    denied = web.post(
        f"/console/returns/{returned[1]}/deny", data={"csrf_token": csrf, "reason": "it works"}
    )
    assert "Return denied" in denied.text
    assert market.get(f"/admin/returns/{returned[0]}")["status"] == "approved"
    assert market.get(f"/admin/returns/{returned[1]}")["status"] == "denied"
    assert market.get(f"/admin/providers/{provider.id}")["balance_cents"] == 100_000 - 4900
    again = web.post(f"/console/returns/{returned[0]}/approve", data={"csrf_token": csrf})
    assert "flash error" in again.text


def test_erase_from_the_lead_page_needs_the_csrf_token_and_redacts_the_lead(
    admin_web: tuple[TestClient, str], market: Marketplace
) -> None:
    web, csrf = admin_web
    _market(market)
    lead = market.lead(email="erase.me@example.com")
    page = f"/console/leads/{lead['id']}"
    assert "Erase personal data" in web.get(page).text
    erase = f"{page}/erase"
    assert web.post(erase, data={}, follow_redirects=False).status_code == 403
    assert market.get(f"/admin/leads/{lead['id']}")["email"] == "erase.me@example.com"

    done = web.post(erase, data={"csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == page
    shown = web.get(page).text
    assert "Personal data erased" in shown
    assert "erase.me@example.com" not in shown
    assert market.get(f"/admin/leads/{lead['id']}")["erased_at"] is not None
