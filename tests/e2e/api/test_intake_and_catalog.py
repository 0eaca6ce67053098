"""Intake with confirmation and its limits, approval and rejection, deposits, the portal."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from leadflow.db.connection import Connection, open_autocommit_pool
from leadflow.domain.errors import RateLimited
from leadflow.services import intake
from leadflow.services.limits import Rate
from leadflow.settings import Settings
from tests.e2e.api.conftest import LEAD, Marketplace, make_client


def _confirmation_mails(db_url: str) -> list[tuple[str, str]]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT subject, body_text FROM email_outbox WHERE template = 'lead_confirmation' ORDER BY created_at"
        ).fetchall()
    return [(str(s), str(b)) for s, b in rows]


def test_each_intake_stores_one_lead_logged_with_its_request_id(
    market: Marketplace, db_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    # Without a rate limit a lead into "movers" is one autocommitted statement; one into
    # "confirmed" is refused by it and then stored by the transaction that writes the mail.
    market.niche(levels=[("Gold", 1, 100)])
    market.niche("confirmed", levels=[("Gold", 1, 100)], require_confirmation=True)
    ids = {}
    for slug, status in (("movers", "pending_approval"), ("confirmed", "pending_confirmation")):
        response = market.client.post(
            "/api/v1/leads", json={**LEAD, "niche": slug}, headers={"X-Request-ID": f"in-{slug}"}
        )
        assert response.status_code == 201, response.text
        assert response.json()["status"] == status
        assert response.headers["x-request-id"] == f"in-{slug}"
        ids[slug] = response.json()["id"]
    with psycopg.connect(db_url) as conn:
        stored = conn.execute(
            "SELECT n.slug, l.id::text FROM leads l JOIN niches n ON n.id = l.niche_id"
        ).fetchall()
    assert sorted(stored) == sorted(ids.items())
    assert len(_confirmation_mails(db_url)) == 1
    out, err = capfd.readouterr()
    submitted = [line for line in (out + err).splitlines() if "lead_submitted" in line]
    for slug, lead_id in ids.items():
        [line] = [line for line in submitted if lead_id in line]
        assert f"request_id=in-{slug}" in line or f'"request_id": "in-{slug}"' in line


def test_confirmation_by_mailed_token(market: Marketplace, db_url: str) -> None:
    market.niche(levels=[("Gold", 1, 100)], require_confirmation=True)
    lead = market.lead()
    assert lead["status"] == "pending_confirmation"
    [(subject, body)] = _confirmation_mails(db_url)
    assert "Confirm" in subject
    token = body.split("Your confirmation token: ")[1].split()[0]
    # Approval must wait for the confirmation.
    market.post(f"/admin/leads/{lead['id']}/approve", {}, expect=409)
    confirmed = market.client.post("/api/v1/leads/confirm", json={"token": token})
    assert confirmed.status_code == 200
    assert confirmed.json() == {"id": lead["id"], "status": "pending_approval"}
    assert market.client.post("/api/v1/leads/confirm", json={"token": token}).status_code == 404
    stored = market.get(f"/admin/leads/{lead['id']}")
    assert stored["confirmed_at"] is not None
    assert stored["niche"] == "movers"


def test_a_confirmation_token_expires_a_week_after_intake(market: Marketplace, db_url: str) -> None:
    market.niche(levels=[("Gold", 1, 100)], require_confirmation=True)
    lead = market.lead()
    [(_, body)] = _confirmation_mails(db_url)
    token = body.split("Your confirmation token: ")[1].split()[0]
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "UPDATE leads SET created_at = now() - interval '8 days' WHERE id = %s", (lead["id"],)
        )

    assert market.client.post("/api/v1/leads/confirm", json={"token": token}).status_code == 404
    assert market.get(f"/admin/leads/{lead['id']}")["status"] == "pending_confirmation"


def test_one_confirmation_mail_per_recipient_per_ten_minutes(
    market: Marketplace, db_url: str
) -> None:
    market.niche(levels=[("Gold", 1, 100)], require_confirmation=True)
    first = market.lead()
    second = market.lead()
    other = market.lead(email="someone.else@example.com")
    assert first["status"] == second["status"] == other["status"] == "pending_confirmation"
    assert len(_confirmation_mails(db_url)) == 2


def test_intake_rate_limit_per_address(
    market: Marketplace, api_settings: Settings, db_url: str
) -> None:
    market.niche(levels=[("Gold", 1, 100)])
    limited = api_settings.model_copy(update={"intake_rate_limit": "3/day"})
    with make_client(limited, db_url, address="192.0.2.10") as c:
        for _ in range(3):
            assert c.post("/api/v1/leads", json=LEAD).status_code == 201
        refused = c.post("/api/v1/leads", json=LEAD)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) > 0
    with make_client(limited, db_url, address="192.0.2.11") as c:
        assert c.post("/api/v1/leads", json=LEAD).status_code == 201
    assert market.get("/admin/leads")["total"] == 4
    # A refused lead is not counted.
    assert _hits(db_url) == {"intake:192.0.2.10": 3, "intake:192.0.2.11": 1}


def _hits(db_url: str) -> dict[str, int]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT key, hits FROM rate_limit_windows").fetchall()
    return {str(k): int(h) for k, h in rows}


def test_intake_rate_limit_counts_each_stored_lead_once(
    market: Marketplace, api_settings: Settings, db_url: str
) -> None:
    market.niche(levels=[("Gold", 1, 100)])
    market.niche("confirmed", levels=[("Gold", 1, 100)], require_confirmation=True)
    limited = api_settings.model_copy(update={"intake_rate_limit": "3/day"})
    with make_client(limited, db_url, address="192.0.2.20") as c:
        assert c.post("/api/v1/leads", json={**LEAD, "niche": "nowhere"}).status_code == 422
        for slug in ("confirmed", "movers", "confirmed"):
            assert c.post("/api/v1/leads", json={**LEAD, "niche": slug}).status_code == 201
        assert c.post("/api/v1/leads", json={**LEAD, "niche": "confirmed"}).status_code == 429
        assert c.post("/api/v1/leads", json=LEAD).status_code == 429
    assert _hits(db_url) == {"intake:192.0.2.20": 3}
    assert market.get("/admin/leads")["total"] == 3


def test_concurrent_intakes_are_limited_exactly(
    market: Marketplace, pool: ConnectionPool[Connection], settings: Settings, db_url: str
) -> None:
    market.niche(levels=[("Gold", 1, 100)])
    form = intake.LeadForm(attributes={}, **LEAD)

    async def submit_all() -> list[BaseException | intake.IntakeResult]:
        autocommit_pool = await open_autocommit_pool(db_url, settings, max_size=8)
        try:
            return await asyncio.gather(
                *(
                    intake.submit_lead_async(
                        pool,
                        autocommit_pool,
                        form=form,
                        client_address="192.0.2.30",
                        rate=Rate(limit=5, window_seconds=86400),
                    )
                    for _ in range(20)
                ),
                return_exceptions=True,
            )
        finally:
            await autocommit_pool.close()

    results = asyncio.run(submit_all())
    assert sum(isinstance(r, intake.IntakeResult) for r in results) == 5
    assert sum(isinstance(r, RateLimited) for r in results) == 15
    assert _hits(db_url) == {"intake:192.0.2.30": 5}
    assert market.get("/admin/leads")["total"] == 5


def test_approve_and_reject(market: Marketplace) -> None:
    market.niche(levels=[("Gold", 1, 100)])
    lead = market.lead()
    approval = market.post(f"/admin/leads/{lead['id']}/approve", {}, expect=200)
    assert approval["status"] == "approved"
    assert isinstance(approval["distribution_job_id"], int)
    audit = market.get("/admin/audit-log", action="lead.approved", entity_id=lead["id"])["items"]
    assert audit[0]["metadata"]["distribution_job_id"] == approval["distribution_job_id"]
    assert audit[0]["actor_role"] == "admin"
    market.post(f"/admin/leads/{lead['id']}/approve", {}, expect=409)
    rejected = market.post(f"/admin/leads/{lead['id']}/reject", {"reason": "duplicate"}, expect=200)
    assert rejected["status"] == "rejected"
    assert rejected["rejection_reason"] == "duplicate"
    market.post(f"/admin/leads/{lead['id']}/approve", {}, expect=409)
    assert market.get("/admin/leads", status="rejected")["total"] == 1
    assert market.get("/admin/leads", status="approved")["total"] == 0


def test_deposit_is_idempotent_and_resumes_paused_subscriptions(market: Marketplace) -> None:
    niche = market.niche(levels=[("Gold", 1, 4900)])
    provider = market.provider("Acme", levels=[niche["levels"][0]["id"]])
    sub = provider["subscriptions"][0]
    assert sub["status"] == "paused_low_balance"
    path = f"/admin/providers/{provider['id']}/deposits"
    first = market.post(
        path, {"amount_cents": 5000, "idempotency_key": "wire-1", "note": "wire"}, expect=201
    )
    again = market.post(path, {"amount_cents": 5000, "idempotency_key": "wire-1"}, expect=200)
    assert again == first
    assert first["balance_cents"] == 5000
    market.post(path, {"amount_cents": 6000, "idempotency_key": "wire-1"}, expect=409)
    assert market.get(f"/admin/subscriptions/{sub['id']}")["status"] == "active"
    ledger = market.get(f"/admin/providers/{provider['id']}/ledger")
    assert ledger["total"] == 1
    assert ledger["items"][0]["id"] == first["ledger_entry_id"]


def test_catalog_patches_and_lists(market: Marketplace) -> None:
    niche = market.niche(levels=[("Gold", 1, 4900), ("Silver", 2, 2500)])
    patched = market.client.patch(
        f"/api/v1/admin/niches/{niche['id']}",
        json={"is_active": False, "distribution_mode": "first_level"},
        headers=market.admin.headers,
    ).json()
    assert patched["is_active"] is False
    assert patched["distribution_mode"] == "first_level"
    assert [lv["name"] for lv in patched["levels"]] == ["Gold", "Silver"]
    assert market.client.post("/api/v1/leads", json=LEAD).status_code == 422
    listed = market.get("/admin/niches", limit=1)
    assert (listed["page"], listed["limit"], listed["total"], len(listed["items"])) == (1, 1, 1, 1)
    provider = market.provider("Acme", balance_cents=10_000, levels=[niche["levels"][0]["id"]])
    sub = provider["subscriptions"][0]
    changed = market.client.patch(
        f"/api/v1/admin/subscriptions/{sub['id']}",
        json={
            "postal_codes": [" 10001 ", "10002"],
            "filters": [{"field": "rooms", "op": "gte", "value": 2}],
            "daily_cap": 3,
        },
        headers=market.admin.headers,
    ).json()
    assert changed["postal_codes"] == ["10001", "10002"]
    assert changed["daily_cap"] == 3
    paused = market.client.patch(
        f"/api/v1/admin/subscriptions/{sub['id']}",
        json={"status": "paused"},
        headers=market.admin.headers,
    ).json()
    assert paused["status"] == "paused"
    cleared = market.client.patch(
        f"/api/v1/admin/subscriptions/{sub['id']}",
        json={"daily_cap": None},
        headers=market.admin.headers,
    ).json()
    assert cleared["daily_cap"] is None
    assert market.get("/admin/providers", status="active")["total"] == 1


def test_provider_portal_shows_own_data(market: Marketplace) -> None:
    niche = market.niche(levels=[("Gold", 1, 4900)])
    login = market.provider_login("Acme", balance_cents=10_000, levels=[niche["levels"][0]["id"]])
    me = market.client.get("/api/v1/provider/me", headers=login.headers).json()
    assert me["id"] == login.id
    assert me["balance_cents"] == 10_000
    assert [(s["level_name"], s["niche_name"], s["status"]) for s in me["subscriptions"]] == [
        ("Gold", "Movers", "active")
    ]
    ledger = market.client.get("/api/v1/provider/ledger", headers=login.headers).json()
    assert [e["amount_cents"] for e in ledger["items"]] == [10_000]
