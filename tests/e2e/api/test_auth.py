"""Auth limits of SPEC §8: lock-outs, unknown accounts, MFA expiry and wrong codes, TOTP replay,
revocation on logout and on suspension."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import psycopg
import pyotp
import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from leadflow.db.connection import Connection
from leadflow.services import auth
from leadflow.settings import Settings
from tests.e2e.api.conftest import Admin, Marketplace, create_admin, make_client, totp_code
from tests.support.work import committed

LOGIN = "/api/v1/auth/login"
MFA = "/api/v1/auth/mfa"
ADMIN_ROUTE = "/api/v1/admin/niches"


def _wrong_code(secret: str) -> str:
    valid = {totp_code(secret, offset) for offset in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def _login(client: TestClient, email: str, password: str) -> tuple[int, dict[str, object]]:
    response = client.post(LOGIN, json={"email": email, "password": password})
    return response.status_code, response.json()


def test_admin_needs_password_then_totp(
    client: TestClient, pool: ConnectionPool[Connection]
) -> None:
    email, password, secret = create_admin(pool)
    status, body = _login(client, email, password)
    assert status == 200
    assert body["mfa_required"] is True
    assert "access_token" not in body or body["access_token"] is None
    token = client.post(MFA, json={"mfa_token": body["mfa_token"], "code": totp_code(secret)})
    assert token.status_code == 200
    assert token.json()["token_type"] == "bearer"
    assert token.json()["expires_at"]
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert client.get(ADMIN_ROUTE, headers=headers).status_code == 200
    # The MFA token is single use.
    again = client.post(MFA, json={"mfa_token": body["mfa_token"], "code": totp_code(secret, 1)})
    assert again.status_code == 401


def test_unknown_account_is_answered_like_a_wrong_password(
    client: TestClient, admin: Admin
) -> None:
    wrong = client.post(LOGIN, json={"email": admin.email, "password": "not the password"})
    unknown = client.post(
        LOGIN, json={"email": "nobody@example.com", "password": "not the password"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert (
        wrong.headers["content-type"]
        == unknown.headers["content-type"]
        == "application/problem+json"
    )


@pytest.mark.parametrize("known", [True, False], ids=["known", "unknown"])
def test_lockout_per_account_and_address(
    known: bool, client: TestClient, admin: Admin, api_settings: Settings, db_url: str
) -> None:
    email = admin.email if known else "ghost@example.com"
    for _ in range(5):
        assert _login(client, email, "wrong-password")[0] == 401
    status, body = _login(client, email, "wrong-password")
    assert status == 429
    assert "too many" in str(body["detail"])
    # Locked out even with the right password, from this address...
    assert (
        _login(client, admin.email if known else email, admin.password if known else "x")[0] == 429
    )
    # ...but not from another address.
    with make_client(api_settings, db_url, address="10.1.2.3") as other:
        expected = 200 if known else 401
        assert _login(other, email, admin.password if known else "wrong-password")[0] == expected


def test_lockout_per_address(
    client: TestClient, admin: Admin, api_settings: Settings, db_url: str
) -> None:
    for i in range(20):
        assert _login(client, f"user{i}@example.com", "wrong-password")[0] == 401
    assert _login(client, admin.email, admin.password)[0] == 429
    with make_client(api_settings, db_url, address="10.9.9.9") as other:
        assert _login(other, admin.email, admin.password)[0] == 200


def test_forwarded_address_counts_behind_a_trusted_proxy(
    api_settings: Settings, db_url: str, admin: Admin
) -> None:
    settings = api_settings.model_copy(update={"trusted_proxies": ["127.0.0.1"]})
    with make_client(settings, db_url, address="127.0.0.1") as proxy:

        def attempt(forwarded: str, password: str = "wrong-password") -> int:
            body = {"email": admin.email, "password": password}
            return proxy.post(LOGIN, json=body, headers={"X-Forwarded-For": forwarded}).status_code

        for _ in range(5):
            assert attempt("203.0.113.7, 127.0.0.1") == 401
        assert attempt("203.0.113.7") == 429
        # Another client behind the same proxy is not locked out; a spoofed left part is ignored.
        assert attempt("198.51.100.1, 203.0.113.8", admin.password) == 200


def test_three_wrong_codes_kill_the_mfa_token(
    client: TestClient, pool: ConnectionPool[Connection]
) -> None:
    email, password, secret = create_admin(pool)
    mfa_token = _login(client, email, password)[1]["mfa_token"]
    for _ in range(3):
        assert (
            client.post(MFA, json={"mfa_token": mfa_token, "code": _wrong_code(secret)}).status_code
            == 401
        )
    assert (
        client.post(MFA, json={"mfa_token": mfa_token, "code": totp_code(secret)}).status_code
        == 401
    )
    # A fresh login works (3 MFA failures + 1 dead-token attempt are still under the 5 limit).
    fresh = _login(client, email, password)[1]["mfa_token"]
    assert client.post(MFA, json={"mfa_token": fresh, "code": totp_code(secret)}).status_code == 200


def test_mfa_failures_count_as_failed_logins(
    client: TestClient, pool: ConnectionPool[Connection]
) -> None:
    email, password, secret = create_admin(pool)
    mfa_token = _login(client, email, password)[1]["mfa_token"]
    for _ in range(3):
        client.post(MFA, json={"mfa_token": mfa_token, "code": _wrong_code(secret)})
    assert _login(client, email, "wrong-password")[0] == 401
    assert _login(client, email, "wrong-password")[0] == 401
    assert _login(client, email, password)[0] == 429


def test_expired_mfa_token_is_refused(
    client: TestClient, pool: ConnectionPool[Connection], db_url: str
) -> None:
    email, password, secret = create_admin(pool)
    mfa_token = _login(client, email, password)[1]["mfa_token"]
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE mfa_challenges SET expires_at = now() - interval '1 second'")
    assert (
        client.post(MFA, json={"mfa_token": mfa_token, "code": totp_code(secret)}).status_code
        == 401
    )


def test_totp_code_is_accepted_once(client: TestClient, pool: ConnectionPool[Connection]) -> None:
    email, password, secret = create_admin(pool)
    code = totp_code(secret)
    first = _login(client, email, password)[1]["mfa_token"]
    assert client.post(MFA, json={"mfa_token": first, "code": code}).status_code == 200
    second = _login(client, email, password)[1]["mfa_token"]
    assert client.post(MFA, json={"mfa_token": second, "code": code}).status_code == 401
    # An older step than the last accepted one is a replay too.
    assert (
        client.post(MFA, json={"mfa_token": second, "code": totp_code(secret, -1)}).status_code
        == 401
    )


def test_logout_revokes_the_token(client: TestClient, admin: Admin) -> None:
    assert client.get(ADMIN_ROUTE, headers=admin.headers).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=admin.headers).status_code == 204
    assert client.get(ADMIN_ROUTE, headers=admin.headers).status_code == 401
    assert client.post("/api/v1/auth/logout", headers=admin.headers).status_code == 401


def test_expired_access_token_is_refused(client: TestClient, admin: Admin, db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE sessions SET expires_at = now() - interval '1 second'")
    assert client.get(ADMIN_ROUTE, headers=admin.headers).status_code == 401


def test_token_lifetime_follows_settings(
    api_settings: Settings, db_url: str, pool: ConnectionPool[Connection]
) -> None:
    settings = api_settings.model_copy(update={"token_ttl": 120})
    email, password, secret = create_admin(pool)
    with make_client(settings, db_url) as c:
        mfa_token = _login(c, email, password)[1]["mfa_token"]
        body = c.post(MFA, json={"mfa_token": mfa_token, "code": totp_code(secret)}).json()
    lifetime = datetime.fromisoformat(body["expires_at"]).timestamp() - time.time()
    assert 60 < lifetime <= 120


def test_suspension_revokes_provider_tokens_and_refuses_login(market: Marketplace) -> None:
    provider = market.provider_login("Acme")
    assert market.client.get("/api/v1/provider/me", headers=provider.headers).status_code == 200
    market.client.patch(
        f"/api/v1/admin/providers/{provider.id}",
        json={"status": "suspended"},
        headers=market.admin.headers,
    ).raise_for_status()
    assert market.client.get("/api/v1/provider/me", headers=provider.headers).status_code == 401
    assert _login(market.client, provider.email, provider.password)[0] == 403
    # A wrong password for a suspended provider is still just 401: nothing is revealed.
    assert _login(market.client, provider.email, "wrong-password")[0] == 401


def test_admin_create_gives_a_working_totp_secret(
    client: TestClient, pool: ConnectionPool[Connection]
) -> None:
    email, password, secret = create_admin(pool)
    assert len(pyotp.TOTP(secret).now()) == 6
    assert _login(client, email.upper(), password)[1]["mfa_required"] is True


def test_prune_forgets_only_what_no_limit_needs(
    client: TestClient, admin: Admin, db_url: str, pool: ConnectionPool[Connection]
) -> None:
    _login(client, admin.email, "wrong-password")
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO login_failures (account, client_address, at) VALUES ('old', 'x', now() - interval '2 hours')"
        )
        conn.execute(
            "INSERT INTO rate_limit_windows VALUES ('intake:x', now() - interval '3 days', 5)"
        )
        conn.execute("UPDATE mfa_challenges SET expires_at = now() - interval '2 days'")
    committed(pool, auth.prune)
    with psycopg.connect(db_url) as conn:
        accounts = [r[0] for r in conn.execute("SELECT account FROM login_failures").fetchall()]
        windows = conn.execute("SELECT count(*) FROM rate_limit_windows").fetchone()
        challenges = conn.execute("SELECT count(*) FROM mfa_challenges").fetchone()
    assert accounts == [admin.email]
    assert windows == (0,)
    assert challenges == (0,)
    assert client.get(ADMIN_ROUTE, headers=admin.headers).status_code == 200


def test_concurrent_guesses_are_all_counted(client: TestClient, admin: Admin) -> None:
    """Ten wrong passwords at once: exactly five are checked, the rest are refused."""
    with ThreadPoolExecutor(max_workers=10) as pool_:
        statuses = list(
            pool_.map(lambda _: _login(client, admin.email, "wrong-password")[0], range(10))
        )
    assert sorted(statuses) == [401] * 5 + [429] * 5
