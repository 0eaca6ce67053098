"""Disabling and enabling accounts (SPEC §8, §13): over the API and from the console's Users
page; a disabled account cannot log in and its API token and console session end at once."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.e2e.api.conftest import Admin, Marketplace, ProviderLogin, make_client
from tests.e2e.console.conftest import console_login


def _user_id(market: Marketplace, login: ProviderLogin) -> str:
    items = market.get("/admin/users", role="provider", limit=200)["items"]
    [user] = [u["id"] for u in items if u["provider_id"] == login.id]
    return str(user)


def _login(client: TestClient, login: ProviderLogin) -> int:
    body = {"email": login.email, "password": login.password}
    return client.post("/api/v1/auth/login", json=body).status_code


def test_disabled_user_cannot_log_in_and_its_sessions_end_at_once(
    market: Marketplace, api_settings: Any, db_url: str
) -> None:
    login = market.provider_login("Acme")
    user_id = _user_id(market, login)
    me = market.client.get("/api/v1/provider/me", headers=login.headers)
    assert me.status_code == 200
    with make_client(api_settings, db_url) as portal:
        console_login(portal, login.email, login.password)
        disabled = market.post(f"/admin/users/{user_id}/disable", {}, expect=200)
        assert disabled["is_active"] is False and disabled["provider_name"] == "Acme"
        assert market.client.get("/api/v1/provider/me", headers=login.headers).status_code == 401
        assert portal.get("/portal", follow_redirects=False).status_code == 303
    assert _login(market.client, login) == 401
    again = market.post(f"/admin/users/{user_id}/disable", {}, expect=200)
    assert again["is_active"] is False

    enabled = market.post(f"/admin/users/{user_id}/enable", {}, expect=200)
    assert enabled["is_active"] is True
    assert _login(market.client, login) == 200
    # The old token stays revoked.
    assert market.client.get("/api/v1/provider/me", headers=login.headers).status_code == 401

    audit = [
        row
        for row in market.get("/admin/audit-log", entity_type="user", entity_id=user_id)["items"]
        if row["action"] in ("user.disabled", "user.enabled")
    ]
    assert sorted(row["action"] for row in audit) == ["user.disabled", "user.enabled"]
    assert all(row["actor_role"] == "admin" for row in audit)


def test_user_list_filters_and_bad_input_is_refused_with_nothing_changed(
    market: Marketplace, admin: Admin
) -> None:
    login = market.provider_login("Acme")
    user_id = _user_id(market, login)
    every = market.get("/admin/users")
    assert every["total"] == 2 and {u["role"] for u in every["items"]} == {"admin", "provider"}
    assert all("password_hash" not in u and "mfa_secret" not in u for u in every["items"])
    [me] = market.get("/admin/users", role="admin")["items"]
    assert me["email"] == admin.email and me["provider_id"] is None
    assert market.get("/admin/users", is_active="false")["total"] == 0
    assert market.get(f"/admin/users/{user_id}")["email"] == login.email

    def problem(method: str, path: str, status: int, **params: Any) -> dict[str, Any]:
        response = market.client.request(
            method, f"/api/v1{path}", params=params, headers=market.admin.headers
        )
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        body: dict[str, Any] = response.json()
        return body

    own = problem("POST", f"/admin/users/{me['id']}/disable", 409)
    assert own["detail"] == "you cannot disable your own account"
    problem("POST", f"/admin/users/{login.id}/disable", 404)  # a provider id, not a user's
    problem("POST", "/admin/users/not-a-uuid/enable", 404)
    problem("GET", "/admin/users", 422, role="system")
    problem("GET", "/admin/users", 422, is_active="maybe")
    problem("GET", "/admin/users", 422, limit=201)
    assert market.get(f"/admin/users/{me['id']}")["is_active"] is True
    assert market.get(f"/admin/users/{user_id}")["is_active"] is True
    assert market.get("/admin/audit-log", action="user.disabled")["total"] == 0
    provider = market.client.get("/api/v1/admin/users", headers=login.headers)
    assert provider.status_code == 403


def test_users_page_disables_and_enables_with_the_csrf_token(
    admin_web: tuple[TestClient, str], market: Marketplace, api_settings: Any, db_url: str
) -> None:
    web, csrf = admin_web
    login = market.provider_login("Acme")
    user_id = _user_id(market, login)
    page = web.get("/console/users")
    assert page.status_code == 200
    assert f'action="/console/users/{user_id}/disable"' in page.text
    assert page.text.count("/disable") == 1  # not for the admin's own account
    with make_client(api_settings, db_url) as portal:
        console_login(portal, login.email, login.password)
        refused = web.post(f"/console/users/{user_id}/disable", data={}, follow_redirects=False)
        assert refused.status_code == 403
        assert portal.get("/portal").status_code == 200
        done = web.post(f"/console/users/{user_id}/disable", data={"csrf_token": csrf})
        assert done.status_code == 200 and f"{login.email} is disabled" in done.text
        assert f'action="/console/users/{user_id}/enable"' in done.text
        assert portal.get("/portal", follow_redirects=False).status_code == 303
    assert market.get(f"/admin/users/{user_id}")["is_active"] is False
    disabled = web.get("/console/users", params={"state": "disabled"}).text
    assert login.email in disabled and market.admin.email not in disabled

    [me] = market.get("/admin/users", role="admin")["items"]
    own = web.post(f"/console/users/{me['id']}/disable", data={"csrf_token": csrf})
    assert own.status_code == 200 and "you cannot disable your own account" in own.text
    assert market.get(f"/admin/users/{me['id']}")["is_active"] is True
    back = web.post(f"/console/users/{user_id}/enable", data={"csrf_token": csrf})
    assert f"{login.email} is enabled" in back.text
    assert web.get("/console/users", params={"role": "robot"}).status_code == 422
