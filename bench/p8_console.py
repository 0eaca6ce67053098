"""P8 — console pages: server time per page (p95) with 100,000 leads and 1,000 providers in
the database, logged in as an admin (and as a provider for the portal).

Requests go to the app in-process (Starlette's TestClient: no network, no second process), so
the time is the server's: routing, the session check, the services' SQL, rendering.
Reference, same app, same run: ``GET /healthz``. Target: every page's p95 under 100 ms.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from typing import Any

import psycopg
import pyotp

from bench import common, seed

TARGET_MS = 100.0
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def run(server_url: str, *, quick: bool = False) -> common.Row:
    from fastapi.testclient import TestClient

    from leadflow.api import create_app
    from leadflow.db.connection import transaction
    from leadflow.domain.model import Actor
    from leadflow.services import auth, distribution
    from leadflow.services.pages import Cursor

    leads, reps = (10_000, 5) if quick else (100_000, 30)
    url = common.fresh_database(server_url, "bench_p8")
    with psycopg.connect(url) as conn:
        niches = seed.seed_niches(
            conn,
            niches=10,
            levels=[(2, 1000), (3, 500)],
            subscriptions_per_level=50,  # 10 niches x 2 levels x 50 = 1,000 providers
            balance_cents=10**7,
            prefix="p8",
        )
        lead_ids = seed.seed_leads(
            conn, niches, leads, postal_codes=None, status="pending_approval"
        )
        conn.execute(
            "UPDATE leads SET status = 'approved', approved_at = now() WHERE id = ANY(%s)",
            (lead_ids[:200],),
        )
        # An endpoint per provider: the sales below write their deliveries (SPEC §10).
        conn.execute(
            """
            INSERT INTO webhook_endpoints (provider_id, url, secret_ciphertext)
            SELECT id, 'https://hooks.example.com/' || id, 'bench-not-a-secret' FROM providers
            """
        )
    with psycopg.connect(url, autocommit=True) as conn:
        seed.settle(conn)
    deliveries_sql = """
        WITH failed AS (
          UPDATE webhook_deliveries
          SET status = 'failed', attempts = 1, last_status_code = 410
          RETURNING id
        )
        INSERT INTO webhook_attempts (delivery_id, outcome, status_code, latency_ms,
                                      response_excerpt)
        SELECT id, 'failed', 410, 12, repeat('{"error": "gone"} ', 50) FROM failed
    """

    passwords = auth.Passwords.fast()
    settings = common.bench_settings(url, intake_rate_limit="0", auto_distribute=False)
    with common.open_pool(url, size=2) as pool:
        for lead_id in lead_ids[:200]:
            distribution.distribute_lead(pool, lead_id=lead_id, triggered_by=Actor.system())
        with transaction(pool) as tx:
            # No worker here: every delivery has failed once, with a reply to show.
            deliveries = tx.execute(deliveries_sql).rowcount
            admin = auth.create_admin(
                tx, passwords=passwords, email="p8@bench.test", password="bench-password"
            )
            provider = tx.execute(
                "SELECT provider_id FROM lead_assignments GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
            ).fetchone()
            assert provider is not None
            auth.create_provider_user(
                tx,
                provider_id=provider["provider_id"],
                email="p8-provider@bench.test",
                password_hash=passwords.hash("bench-password"),
            )
            ids = tx.execute(
                """
                SELECT (SELECT lead_id FROM distribution_runs ORDER BY started_at DESC LIMIT 1) AS lead,
                       (SELECT id FROM webhook_deliveries WHERE provider_id = %s
                        ORDER BY created_at DESC LIMIT 1) AS delivery,
                       (SELECT id FROM distribution_runs ORDER BY started_at DESC LIMIT 1) AS run,
                       (SELECT id FROM niches ORDER BY slug LIMIT 1) AS niche,
                       %s::uuid AS provider
                """,
                (provider["provider_id"], provider["provider_id"]),
            ).fetchone()
            assert ids is not None

    with psycopg.connect(url) as conn:
        # Where page 100 of the leads list starts (the list pages by keyset, from a cursor).
        row = conn.execute(
            "SELECT created_at, id FROM leads ORDER BY created_at DESC, id OFFSET 4949 LIMIT 1"
        ).fetchone()
        assert row is not None
    deep = urllib.parse.quote(Cursor((row[0], row[1])).encode())

    app = create_app(settings, url, passwords=passwords)
    admin_pages = {
        "dashboard": "/console",
        "leads": "/console/leads",
        "leads by status": "/console/leads?status=pending_approval",
        "leads page 100": f"/console/leads?cursor={deep}",
        "lead": f"/console/leads/{ids['lead']}",
        "run": f"/console/runs/{ids['run']}",
        "niches": "/console/niches",
        "niche": f"/console/niches/{ids['niche']}",
        "providers": "/console/providers",
        "provider": f"/console/providers/{ids['provider']}",
        "subscriptions": "/console/subscriptions",
        "deliveries": "/console/deliveries",
        "deliveries failed": "/console/deliveries?status=failed",
        "deliveries of a provider": f"/console/deliveries?provider_id={ids['provider']}",
        "delivery": f"/console/deliveries/{ids['delivery']}",
        "jobs": "/console/jobs",
        "audit": "/console/audit",
    }
    timings: dict[str, list[float]] = {}
    with TestClient(app) as admin_client, TestClient(app) as provider_client:
        _login(admin_client, "p8@bench.test", pyotp.TOTP(admin.mfa_secret).now())
        _login(provider_client, "p8-provider@bench.test", None)
        plan: list[tuple[str, Any, str]] = [("healthz", admin_client, "/healthz")]
        plan += [(name, admin_client, path) for name, path in admin_pages.items()]
        plan += [
            ("portal", provider_client, "/portal"),
            ("portal ledger", provider_client, "/portal/ledger"),
            ("portal endpoints", provider_client, "/portal/endpoints"),
            ("portal delivery", provider_client, f"/portal/deliveries/{ids['delivery']}"),
        ]
        for name, client, path in plan:
            client.get(path)  # warm: templates compiled, plans cached
            timings[name] = []
            for _ in range(reps):
                started = time.perf_counter()
                response = client.get(path)
                timings[name].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (name, response.status_code)

    p95 = {name: common.percentile(values, 95) for name, values in timings.items()}
    reference = p95.pop("healthz")
    worst_name = max(p95, key=lambda n: p95[n])
    worst = p95[worst_name]
    data = {
        "leads": leads,
        "providers": 1000,
        "deliveries": deliveries,
        "reps": reps,
        "p95_ms": p95,
        "healthz_p95_ms": reference,
    }
    common.write_result("p8_console", data)
    return common.Row(
        "P8",
        f"console pages, {leads:,} leads, 1,000 providers (worst: {worst_name})",
        worst,
        "ms p95",
        reference,
        "ms p95 /healthz",
        worst / reference if reference else None,
        f"every page p95 < {TARGET_MS:.0f} ms",
        worst < TARGET_MS,
        note=", ".join(f"{n} {v:.1f}" for n, v in sorted(p95.items(), key=lambda kv: -kv[1])),
        extra=data,
    )


def _login(client: Any, email: str, code: str | None) -> None:
    page = client.get("/console/login")
    token = _CSRF.search(page.text)
    assert token is not None
    data = {"email": email, "password": "bench-password", "csrf_token": token.group(1)}
    client.post("/console/login", data=data)
    if code is not None:
        mfa = client.get("/console/login/mfa")
        token = _CSRF.search(mfa.text)
        assert token is not None
        client.post("/console/login/mfa", data={"code": code, "csrf_token": token.group(1)})
