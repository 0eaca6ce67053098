"""The console over HTTP (Starlette's TestClient, cookies and forms as a browser sends them)
and in a real browser (Playwright driving the system's chromium) against a real uvicorn
server, the real worker and PostgreSQL."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from leadflow.api import create_app
from tests.e2e.api import conftest as api
from tests.e2e.api.conftest import PASSWORDS, Admin, make_client, totp_code

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Bounds a failure only: every wait is for a condition, never a fixed time.
TIMEOUT_MS = 15_000
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

# The API tier's fixtures: a client, its admin, a marketplace builder, a worker.
auto_distribute = api.auto_distribute
api_settings = api.api_settings
client = api.client
admin = api.admin
market = api.market
worker = api.worker


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def console_login(
    c: httpx.Client, email: str, password: str, secret: str | None = None, *, step: int = 1
) -> str:
    """Log in through the forms; returns the session's CSRF token. ``step``: which TOTP step's
    code to send (the admin fixture's API login used the current one, and a code works once;
    the next step's is accepted for clock drift)."""
    page = c.get("/console/login")
    assert page.status_code == 200, page.text
    first = c.post(
        "/console/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert first.status_code == 303, first.text
    if secret is not None:
        assert first.headers["location"].startswith("/console/login/mfa")
        mfa = c.get("/console/login/mfa")
        second = c.post(
            "/console/login/mfa",
            data={"code": totp_code(secret, step), "csrf_token": csrf_of(mfa.text)},
            follow_redirects=False,
        )
        assert second.status_code == 303, second.text
    home = c.get("/console" if secret else "/portal")
    assert home.status_code == 200, home.text
    return csrf_of(home.text)


@pytest.fixture
def admin_web(api_settings: Any, db_url: str, admin: Admin) -> Iterator[tuple[TestClient, str]]:
    """A second client, logged in to the console as the admin: (client, CSRF token)."""
    with make_client(api_settings, db_url) as c:
        yield c, console_login(c, admin.email, admin.password, admin.secret)


# --- a real server and a real browser ---


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_url(api_settings: Any, db_url: str) -> Iterator[str]:
    """The API app under uvicorn on a free port, in a thread."""
    port = _free_port()
    app = create_app(api_settings, db_url, passwords=PASSWORDS)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="console-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("the console server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


# Module scope: while Playwright's sync driver is open its event loop runs in this thread, so
# asyncio.run() in a later test module would fail; each browser module opens and closes its own.
@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """One chromium per test module (Playwright gives it a fresh, temporary profile)."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail(
            f"chromium is missing ({CHROMIUM}); install it with `apt-get install -y chromium` "
            "(.ci/run does): the console's browser tests need it"
        )
    browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()
