"""The OpenAPI document tells the truth: schemathesis (``--checks all``, every operation, a fixed
seed) against the real API under uvicorn, with an admin and a provider logged in.

The bounded run is part of ``make test``; ``make fuzz`` runs the same test with more examples
per operation (``LEADFLOW_FUZZ_EXAMPLES``), a floor on the cases generated
(``LEADFLOW_FUZZ_MIN_CASES``) and its report kept (``LEADFLOW_FUZZ_REPORT_DIR``). What the run
is told (tokens per operation, which statuses a check accepts and why) is in
``schemathesis.toml`` beside this file. The intake's rate limit is off here (``api_settings``),
as in every API test: 429 is documented, and its own test covers it.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from psycopg_pool import ConnectionPool

from leadflow.api import create_app
from leadflow.db.connection import Connection
from leadflow.settings import Settings
from tests.e2e.api.conftest import LEAD, PASSWORDS, create_admin, totp_code

CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = int(os.environ.get("LEADFLOW_FUZZ_SEED", "20261203"))
# Examples per operation and phase: 8 give some 2,400 cases in 35-80 s on two cores.
EXAMPLES = int(os.environ.get("LEADFLOW_FUZZ_EXAMPLES", "8"))
MIN_CASES = int(os.environ.get("LEADFLOW_FUZZ_MIN_CASES", "1000"))
REPORT_DIR = os.environ.get("LEADFLOW_FUZZ_REPORT_DIR")


@dataclass(frozen=True)
class LiveApi:
    url: str
    admin_token: str
    provider_token: str
    logout_token: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def live_server(api_settings: Settings, db_url: str) -> Iterator[str]:
    """The app under uvicorn on a local port, in a thread of this process."""
    port = _free_port()
    config = uvicorn.Config(
        create_app(api_settings, db_url, passwords=PASSWORDS),
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fuzz-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def _seed(http: httpx.Client, admin: dict[str, str]) -> tuple[str, str]:
    """A small marketplace, so that listings and lookups have something to return; the
    provider's two tokens (one for the portal, one that ``/auth/logout`` may revoke)."""

    def post(path: str, body: object, expect: int = 201) -> dict[str, object]:
        response = http.post(f"/api/v1{path}", json=body, headers=admin)
        assert response.status_code == expect, response.text
        result: dict[str, object] = response.json()
        return result

    niche = post("/admin/niches", {"slug": "movers", "name": "Movers"})
    level = post(
        f"/admin/niches/{niche['id']}/levels",
        {"name": "Gold", "order_position": 1, "max_recipients": 2, "price_per_lead_cents": 500},
    )
    provider = post(
        "/admin/providers",
        {"name": "Acme", "email": "acme@example.com", "password": "provider-pass-1"},
    )
    post(f"/admin/providers/{provider['id']}/deposits", {"amount_cents": 10_000})
    post(
        "/admin/subscriptions",
        {"provider_id": provider["id"], "competition_level_id": level["id"]},
    )
    for _ in range(3):
        lead = http.post("/api/v1/leads", json=LEAD)
        assert lead.status_code == 201, lead.text
    post(f"/admin/leads/{lead.json()['id']}/approve", {}, expect=200)

    def provider_token() -> str:
        response = http.post(
            "/api/v1/auth/login", json={"email": "acme@example.com", "password": "provider-pass-1"}
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    return provider_token(), provider_token()


@pytest.fixture
def live_api(live_server: str, pool: ConnectionPool[Connection]) -> LiveApi:
    email, password, secret = create_admin(pool)
    with httpx.Client(base_url=live_server, timeout=30) as http:
        first = http.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert first.status_code == 200, first.text
        second = http.post(
            "/api/v1/auth/mfa",
            json={"mfa_token": first.json()["mfa_token"], "code": totp_code(secret)},
        )
        assert second.status_code == 200, second.text
        admin_token = second.json()["access_token"]
        provider_token, logout_token = _seed(http, {"Authorization": f"Bearer {admin_token}"})
    return LiveApi(live_server, admin_token, provider_token, logout_token)


def test_schemathesis_finds_no_contract_violation(live_api: LiveApi, tmp_path: Path) -> None:
    report_dir = Path(REPORT_DIR).resolve() if REPORT_DIR else tmp_path
    report_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "FUZZ_ADMIN_TOKEN": live_api.admin_token,
        "FUZZ_PROVIDER_TOKEN": live_api.provider_token,
        "FUZZ_LOGOUT_TOKEN": live_api.logout_token,
    }
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(CONFIG),
        "run",
        f"{live_api.url}/openapi.json",
        "--checks",
        "all",
        "--seed",
        str(SEED),
        "--max-examples",
        str(EXAMPLES),
        "--workers",
        "1",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
    ]
    started = time.monotonic()
    # schemathesis keeps a cache in its working folder: the report folder, not the checkout.
    done = subprocess.run(
        command, env=env, cwd=report_dir, capture_output=True, text=True, timeout=1800
    )
    elapsed = time.monotonic() - started
    output = f"{done.stdout}{done.stderr}\nschemathesis ran for {elapsed:.1f} s\n"
    (report_dir / "schemathesis.txt").write_text(output)
    assert done.returncode == 0, output[-20000:]
    generated = _generated_cases(output)
    assert generated >= MIN_CASES, f"only {generated} cases generated\n{output[-5000:]}"


def _generated_cases(output: str) -> int:
    match = re.search(r"Test cases:\s*\n?\s*(\d+) generated", output)
    return int(match.group(1)) if match else 0
