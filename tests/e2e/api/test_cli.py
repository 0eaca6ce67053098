"""``leadflow admin create`` and the ``up --demo`` marketplace, as an operator meets them."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from leadflow import demo_marketplace
from leadflow.db.connection import Connection
from leadflow.settings import Settings
from tests.e2e.api.conftest import PASSWORDS, admin_login
from tests.e2e.api.conftest import Marketplace as _Marketplace
from tests.e2e.console.conftest import console_login
from tests.support.keys import PROCESS_ENV

LEADFLOW = str(Path(sys.executable).parent / "leadflow")


def leadflow(db_url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real ``leadflow`` command, as an operator would."""
    env = {**os.environ, **PROCESS_ENV, "DATABASE_URL": db_url}
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except OSError:
        return 0, ""


def _wait(what: str, check: Callable[[], bool], deadline_s: float = 90.0) -> None:
    stop = time.monotonic() + deadline_s
    while not check():
        if time.monotonic() > stop:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.2)


def _delivered(receiver: str) -> bool:
    status, body = _get(f"{receiver}/")
    received = json.loads(body)["received"] if status == 200 else []
    return any(r["signature_valid"] and r["event"] == "lead.assigned" for r in received)


def test_up_demo_serves_distributes_and_stops_gracefully(db_url: str) -> None:
    """`leadflow up --demo` as a newcomer runs it: API, worker and demo leads in one process;
    Ctrl-C (SIGINT) stops it cleanly."""
    port = _free_port()
    env = {
        **os.environ,
        **PROCESS_ENV,
        "DATABASE_URL": db_url,
        "LEADFLOW_INTAKE_RATE_LIMIT": "0",
    }
    process = subprocess.Popen(
        [LEADFLOW, "up", "--demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    output: list[str] = []
    reader = threading.Thread(
        target=lambda: output.extend(iter(process.stdout.readline, "")), daemon=True
    )  # type: ignore[union-attr]
    reader.start()
    try:
        base = f"http://127.0.0.1:{port}"
        _wait("readiness", lambda: _get(f"{base}/readyz")[0] == 200)
        _wait(
            "a demo lead sold",
            lambda: (
                'distribution_total{status="success"}' in _get(f"{base}/metrics")[1]
                or 'distribution_total{status="partial"}' in _get(f"{base}/metrics")[1]
            ),
        )
        text = "".join(output)
        # The sales reach the demo's webhook receiver, signed.
        [receiver] = re.findall(r"^\s+(http://127\.0\.0\.1:\d+)/$", text, re.MULTILINE)
        _wait("a signed delivery at the demo receiver", lambda: _delivered(receiver))
        assert "admin e-mail: admin@leadflow.demo" in text
        assert "TOTP secret:" in text
        # The console comes first, and the printed logins open the console and the portal.
        assert text.index(f"console:      {base}/console") < text.index("API docs:")
        printed = dict(re.findall(r"^  ([a-zA-Z -]+):\s+(\S+)", text, re.MULTILINE))
        secret = printed["TOTP secret"]
        passwords = re.findall(r"^  password:\s+(\S+)", text, re.MULTILINE)
        provider_email = re.findall(r"^  e-mail:\s+(\S+)", text, re.MULTILINE)[0]
        with httpx.Client(base_url=base) as web:
            console_login(web, "admin@leadflow.demo", passwords[0], secret, step=0)
        with httpx.Client(base_url=base) as web:
            console_login(web, provider_email, passwords[1])
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(10)
    assert "leadflow stopped" in "".join(output)
    # Without a terminal, `up` logs JSON lines (its banner and credentials stay plain text).
    logged = [json.loads(line) for line in output if line.startswith("{")]
    assert {"worker_started", "http_request"} <= {entry["event"] for entry in logged}


def test_serve_refuses_an_unmigrated_database_and_serves_a_migrated_one(
    db_url: str, server_url: str
) -> None:
    from tests.conftest import url_for

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS lf_unmigrated_serve")
        conn.execute("CREATE DATABASE lf_unmigrated_serve")
    try:
        refused = leadflow(
            url_for(server_url, "lf_unmigrated_serve"), "serve", "--port", str(_free_port())
        )
        assert refused.returncode == 1
        assert "leadflow migrate" in refused.stderr
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS lf_unmigrated_serve WITH (FORCE)")
    port = _free_port()
    process = subprocess.Popen(
        [LEADFLOW, "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **PROCESS_ENV, "DATABASE_URL": db_url},
    )
    try:
        _wait("readiness", lambda: _get(f"http://127.0.0.1:{port}/readyz")[0] == 200)
        assert _get(f"http://127.0.0.1:{port}/openapi.json")[0] == 200
    finally:
        process.terminate()
        process.wait(timeout=30)
