"""The API in-process (httpx through Starlette's TestClient) on a fresh database per test,
with helpers to log in as an admin (TOTP) or a provider, and a real worker when asked."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from leadflow.api import create_app
from leadflow.db.connection import Connection
from leadflow.services import auth
from leadflow.settings import Settings
from tests.support.work import committed

PASSWORDS = auth.Passwords.fast()
_seq = itertools.count(1)
# A valid intake into the "movers" niche.
LEAD = {
    "niche": "movers",
    "name": "Jane Doe",
    "email": "jane@example.com",
    "phone": "+1 212 555 0100",
    "postal_code": "10001",
}


@pytest.fixture
def auto_distribute() -> bool:
    """Overridden to False by tests that trigger distribution by hand."""
    return True


@pytest.fixture
def api_settings(settings: Settings, auto_distribute: bool) -> Settings:
    """Test settings: intake rate limit off unless a test turns it on."""
    return settings.model_copy(
        update={"intake_rate_limit": "0", "auto_distribute": auto_distribute}
    )


def make_client(settings: Settings, db_url: str, *, address: str = "127.0.0.1") -> TestClient:
    app = create_app(settings, db_url, passwords=PASSWORDS)
    return TestClient(app, client=(address, 50000), raise_server_exceptions=False)


@pytest.fixture
def client(api_settings: Settings, db_url: str) -> Iterator[TestClient]:
    with make_client(api_settings, db_url) as c:
        yield c


@dataclass
class Admin:
    email: str
    password: str
    secret: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def totp_code(secret: str, offset: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.at(int(time.time()) + offset * totp.interval)


def create_admin(pool: ConnectionPool[Connection]) -> tuple[str, str, str]:
    email = f"admin{next(_seq)}@example.com"
    password = "correct horse battery"
    created = committed(
        pool, auth.create_admin, passwords=PASSWORDS, email=email, password=password
    )
    return email, password, created.mfa_secret


def admin_login(client: TestClient, email: str, password: str, secret: str) -> str:
    first = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert first.status_code == 200, first.text
    assert first.json()["mfa_required"] is True
    second = client.post(
        "/api/v1/auth/mfa", json={"mfa_token": first.json()["mfa_token"], "code": totp_code(secret)}
    )
    assert second.status_code == 200, second.text
    token: str = second.json()["access_token"]
    return token


@pytest.fixture
def admin(client: TestClient, pool: ConnectionPool[Connection]) -> Admin:
    email, password, secret = create_admin(pool)
    return Admin(
        email=email,
        password=password,
        secret=secret,
        token=admin_login(client, email, password, secret),
    )


@dataclass
class ProviderLogin:
    id: str
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Marketplace:
    """Builds a marketplace through the admin API."""

    client: TestClient
    admin: Admin
    niches: dict[str, dict[str, Any]] = field(default_factory=dict)

    def post(self, path: str, body: dict[str, Any], expect: int = 201) -> Any:
        response = self.client.post(f"/api/v1{path}", json=body, headers=self.admin.headers)
        assert response.status_code == expect, response.text
        return response.json()

    def get(self, path: str, expect: int = 200, **params: Any) -> Any:
        response = self.client.get(f"/api/v1{path}", params=params, headers=self.admin.headers)
        assert response.status_code == expect, response.text
        return response.json()

    def niche(
        self, slug: str = "movers", *, levels: list[tuple[str, int, int]], **extra: Any
    ) -> dict[str, Any]:
        """A niche with levels (name, max_recipients, price_cents) at positions 1, 2, ...

        Its duplicate check is off unless ``duplicate_window_days`` is given: most tests post
        one consumer (``lead``'s defaults) many times and mean many leads."""
        extra.setdefault("duplicate_window_days", 0)
        niche = self.post("/admin/niches", {"slug": slug, "name": slug.title(), **extra})
        niche["levels"] = [
            self.post(
                f"/admin/niches/{niche['id']}/levels",
                {
                    "name": name,
                    "order_position": i,
                    "max_recipients": n,
                    "price_per_lead_cents": price,
                },
            )
            for i, (name, n, price) in enumerate(levels, start=1)
        ]
        self.niches[slug] = niche
        return niche

    def provider(
        self,
        name: str,
        *,
        balance_cents: int = 0,
        levels: list[str] = (),
        password: str | None = None,
        dedupe_days: int = 0,
        **sub: Any,
    ) -> dict[str, Any]:
        """A provider with a deposit and subscriptions to the named level ids.

        Its ``duplicate_consumer`` check is off unless ``dedupe_days`` is given: most tests
        post one consumer (``lead``'s defaults) many times and mean many leads."""
        body: dict[str, Any] = {
            "name": name,
            "email": f"{name.lower()}-{next(_seq)}@example.com",
            "dedupe_days": dedupe_days,
        }
        if password:
            body["password"] = password
        provider = self.post("/admin/providers", body)
        if balance_cents:
            self.post(
                f"/admin/providers/{provider['id']}/deposits", {"amount_cents": balance_cents}
            )
        provider["subscriptions"] = [
            self.post(
                "/admin/subscriptions",
                {"provider_id": provider["id"], "competition_level_id": lv, **sub},
            )
            for lv in levels
        ]
        return provider

    def provider_login(
        self, name: str, *, balance_cents: int = 0, levels: list[str] = ()
    ) -> ProviderLogin:
        password = "provider-pass-1"
        provider = self.provider(
            name, balance_cents=balance_cents, levels=levels, password=password
        )
        response = self.client.post(
            "/api/v1/auth/login", json={"email": provider["email"], "password": password}
        )
        assert response.status_code == 200, response.text
        assert response.json()["mfa_required"] is False
        return ProviderLogin(
            provider["id"], provider["email"], password, response.json()["access_token"]
        )

    def lead(
        self, niche: str = "movers", *, postal_code: str = "10001", **extra: Any
    ) -> dict[str, Any]:
        body = {
            "niche": niche,
            "name": "Jane Doe",
            "email": "jane@example.com",
            "phone": "+1 212 555 0100",
            "postal_code": postal_code,
            **extra,
        }
        response = self.client.post("/api/v1/leads", json=body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def approved_lead(self, niche: str = "movers", **extra: Any) -> tuple[str, int | None]:
        lead = self.lead(niche, **extra)
        approval = self.post(f"/admin/leads/{lead['id']}/approve", {}, expect=200)
        return lead["id"], approval["distribution_job_id"]

    def wait_settled(self, lead_id: str, *, deadline_s: float = 60.0) -> dict[str, Any]:
        """Poll the status until no job of the lead is queued or running."""
        stop = time.monotonic() + deadline_s
        while True:
            status = self.get(f"/admin/leads/{lead_id}/distribution-status")
            if status["last_attempt_status"] not in ("queued", "running"):
                return dict(status)
            if time.monotonic() > stop:
                raise AssertionError(f"distribution of {lead_id} did not settle: {status}")
            time.sleep(0.05)


@pytest.fixture
def market(client: TestClient, admin: Admin) -> Marketplace:
    return Marketplace(client=client, admin=admin)


@pytest.fixture
def worker(api_settings: Settings, db_url: str) -> Iterator[None]:
    """A real Procrastinate worker (issue 3's ``run_worker``) in a background thread."""
    from leadflow.worker.runner import run_worker

    loop = asyncio.new_event_loop()
    task_holder: list[asyncio.Task[None]] = []
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        task = loop.create_task(run_worker(api_settings, db_url, concurrency=2))
        task_holder.append(task)
        started.set()
        try:
            loop.run_until_complete(task)
        except (asyncio.CancelledError, Exception):
            pass
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="test-worker", daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield
    finally:
        if thread.is_alive():
            loop.call_soon_threadsafe(task_holder[0].cancel)
            thread.join(30)
