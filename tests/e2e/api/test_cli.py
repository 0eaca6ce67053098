"""``leadflow admin create`` and the ``up --demo`` marketplace, as an operator meets them."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from leadflow import demo_marketplace
from leadflow.db.connection import Connection
from leadflow.settings import Settings
from tests.e2e.api.conftest import PASSWORDS, admin_login
from tests.e2e.api.conftest import Marketplace as _Marketplace

LEADFLOW = str(Path(sys.executable).parent / "leadflow")


def leadflow(db_url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real ``leadflow`` command, as an operator would."""
    env = {**os.environ, "DATABASE_URL": db_url}
    return subprocess.run(
        [LEADFLOW, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("how", ["option", "stdin"])
def test_admin_create_prints_json_that_logs_in(how: str, db_url: str, client: TestClient) -> None:
    args = ["admin", "create", "--email", "ops@example.com"]
    if how == "option":
        result = leadflow(db_url, *args, "--password", "long enough pw")
    else:
        result = leadflow(db_url, *args, "--password-stdin", stdin="long enough pw\n")
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert set(created) == {"user_id", "email", "mfa_secret", "otpauth_uri"}
    assert created["otpauth_uri"].startswith("otpauth://totp/")
    assert admin_login(client, "ops@example.com", "long enough pw", created["mfa_secret"])
    again = leadflow(db_url, *args, "--password", "long enough pw")
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_admin_create_refuses_a_short_password(db_url: str) -> None:
    result = leadflow(
        db_url, "admin", "create", "--email", "ops@example.com", "--password", "short"
    )
    assert result.returncode == 1
    assert "password" in result.stderr


@pytest.mark.usefixtures("worker")
def test_demo_marketplace_flows_through_the_api(
    pool: ConnectionPool[Connection], api_settings: Settings, client: TestClient
) -> None:
    setup = demo_marketplace.prepare(pool, passwords=PASSWORDS)
    token = admin_login(client, setup.admin.email, setup.password, setup.admin.mfa_secret)
    admin = type("A", (), {"headers": {"Authorization": f"Bearer {token}"}})()
    market = _Marketplace(client=client, admin=admin)  # type: ignore[arg-type]
    niche = market.get(f"/admin/niches/{setup.market.niche_id}")
    assert [
        (lv["name"], lv["max_recipients"], lv["price_per_lead_cents"]) for lv in niche["levels"]
    ] == [
        ("Gold", 1, 4900),
        ("Silver", 3, 2500),
        ("Bronze", 5, 1000),
    ]
    assert market.get("/admin/providers")["total"] == 12
    rng = random.Random(1)
    lead_ids = [demo_marketplace.feed_one(pool, api_settings, setup, rng, n) for n in range(1, 4)]
    for lead_id in lead_ids:
        status = market.wait_settled(str(lead_id))
        assert status["last_attempt_status"] in ("success", "partial")
        assert status["assignments_created"] >= 1
    # Preparing again (a restart of `up --demo`) reuses the marketplace and rotates the admin's secrets.
    again = demo_marketplace.prepare(pool, passwords=PASSWORDS)
    assert again.market.niche_id == setup.market.niche_id
    assert again.admin.user_id == setup.admin.user_id
    assert again.admin.mfa_secret != setup.admin.mfa_secret
    assert client.get("/api/v1/admin/niches", headers=admin.headers).status_code == 401
