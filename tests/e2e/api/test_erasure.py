"""Erasure and retention (SPEC §11, invariant 7) through the API, the CLI and the maintenance
sweep; a real ``pg_dump`` of the database holds the erased e-mail and phone in no form."""

from __future__ import annotations

import subprocess
import time
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from leadflow.db.server import postgres_program
from leadflow.services import erasure
from leadflow.settings import Settings
from tests.e2e.api.conftest import Marketplace
from tests.support.receiver import Receiver
from tests.support.receiver import receiver as receiver

MARKER = "[erased]"
EMAIL = "Erase.Me@Example.COM"
PHONE = "+1 (646) 555-0199"
FORMS = [
    EMAIL,
    EMAIL.lower(),
    PHONE,
    "+16465550199",
    "16465550199",
    "6465550199",
    "Zelda Erasable",
]
CONSENT = {
    "text": "I agree to be called about my move.",
    "captured_at": "2026-12-01T09:30:00+00:00",
    "ip": "198.51.100.77",
    "user_agent": "Mozilla/5.0 ZeldaBrowser",
}


def _erased_lead(market: Marketplace, **extra: Any) -> dict[str, Any]:
    return market.lead(name="Zelda Erasable", email=EMAIL, phone=PHONE, **extra)


def _db(db_url: str, query: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(db_url, row_factory=dict_row) as conn:
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


def test_erase_redacts_the_lead_keeps_the_money_and_is_idempotent(
    market: Marketplace, db_url: str
) -> None:
    niche = market.niche(levels=[("Gold", 1, 1000)])
    provider = market.provider_login(
        "Acme", balance_cents=10_000, levels=[niche["levels"][0]["id"]]
    )
    lead = _erased_lead(market, consent=CONSENT, attributes={"rooms": 3})
    market.post(f"/admin/leads/{lead['id']}/approve", {}, expect=200)

    first = market.post(f"/admin/leads/{lead['id']}/erase", {}, expect=200)
    assert first["id"] == lead["id"] and first["erased_at"]
    shown = market.get(f"/admin/leads/{lead['id']}")
    assert shown["name"] == shown["email"] == shown["phone"] == MARKER
    assert shown["attributes"] == {"rooms": MARKER}
    row = _db(db_url, "SELECT * FROM leads WHERE id = %s", lead["id"])[0]
    assert row["phone_e164"] is None and row["email_normalized"] is None
    assert row["consent"]["ip"] == row["consent"]["user_agent"] == MARKER
    assert row["consent"]["text"] == CONSENT["text"]
    before = _db(db_url, "SELECT * FROM leads WHERE id = %s", lead["id"])
    audit_before = market.get("/admin/audit-log", action="lead.erased")["items"]
    assert len(audit_before) == 1
    assert not any(f.lower() in str(audit_before).lower() for f in FORMS)
    # Twice: 200, the same answer, nothing changes.
    again = market.post(f"/admin/leads/{lead['id']}/erase", {}, expect=200)
    assert again == first
    assert _db(db_url, "SELECT * FROM leads WHERE id = %s", lead["id"]) == before
    assert len(market.get("/admin/audit-log", action="lead.erased")["items"]) == 1
    assert provider.id


def test_erase_of_an_unknown_lead_is_a_404_problem(market: Marketplace) -> None:
    response = market.client.post(
        "/api/v1/admin/leads/00000000-0000-4000-8000-000000000000/erase",
        headers=market.admin.headers,
    )
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_retention_sweep_erases_old_leads_in_batches(
    market: Marketplace, db_url: str, pool: Any
) -> None:
    market.niche(levels=[("Gold", 1, 1000)])
    old = [_erased_lead(market)["id"] for _ in range(5)]
    fresh = market.lead()["id"]
    _db_exec(
        db_url, "UPDATE leads SET created_at = now() - interval '40 days' WHERE id = ANY(%s)", old
    )
    assert erasure.erase_expired(pool, retention_days=None) == 0
    assert erasure.erase_expired(pool, retention_days=30, batch=2, batches=2) == 4
    assert erasure.erase_expired(pool, retention_days=30, batch=2, batches=2) == 1
    rows = _db(db_url, "SELECT id::text, erased_at FROM leads")
    erased = {r["id"] for r in rows if r["erased_at"] is not None}
    assert erased == set(old) and fresh not in erased


def _db_exec(db_url: str, query: str, *params: Any) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute(query, params)  # type: ignore[arg-type]


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    """A failed webhook attempt waits a minute: the delivery stays pending, its body stored."""
    return settings.model_copy(
        update={
            "intake_rate_limit": "0",
            "webhook_timeout_seconds": 1.0,
            "retry_delays": [60, 60, 60],
        }
    )


@pytest.mark.usefixtures("worker")
def test_after_erasure_a_pg_dump_holds_the_consumer_in_no_form(
    market: Marketplace,
    receiver: Receiver,
    db_url: str,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    niche = market.niche(levels=[("Gold", 1, 1000)], require_confirmation=True)
    login = market.provider_login("Acme", balance_cents=100_000, levels=[niche["levels"][0]["id"]])
    endpoint = market.post(f"/admin/providers/{login.id}/endpoints", {"url": receiver.url("acme")})
    receiver.secret("acme", endpoint["secret"])
    receiver.respond("acme", "error")
    lead = _erased_lead(market, consent=CONSENT)
    # The confirmation mail to the consumer (no SMTP here: it stays pending in the outbox).
    [mail] = _db(db_url, "SELECT * FROM email_outbox WHERE lead_id = %s", lead["id"])
    token = mail["body_text"].split("token: ")[1].split()[0]
    confirm = market.client.post("/api/v1/leads/confirm", json={"token": token})
    assert confirm.status_code in (200, 201), confirm.text
    market.post(f"/admin/leads/{lead['id']}/approve", {}, expect=200)
    assert market.wait_settled(lead["id"])["lead_status"] == "distributed"
    # The buyer's endpoint fails: the delivery stays pending with its body stored.
    receiver.wait_for("acme", 1)
    deadline = time.monotonic() + 20
    while not _db(db_url, "SELECT 1 FROM webhook_deliveries WHERE body IS NOT NULL"):
        assert time.monotonic() < deadline, "the delivery's body was never stored"
        time.sleep(0.05)
    assert _db(db_url, "SELECT status FROM webhook_deliveries") == [{"status": "pending"}]
    assert _db(db_url, "SELECT 1 FROM email_outbox WHERE status = 'pending'")

    # People copy the consumer into free text: the buyer's return note, the operator's decision.
    [sale] = market.get(f"/admin/leads/{lead['id']}/assignments")["items"]
    returned = market.client.post(
        f"/api/v1/provider/assignments/{sale['assignment_id']}/return",
        json={"reason": "bad_contact", "note": f"Zelda Erasable: {EMAIL.lower()} / 6465550199"},
        headers=login.headers,
    )
    assert returned.status_code == 201, returned.text
    market.post(
        f"/admin/returns/{returned.json()['return_id']}/deny",
        {"reason": f"we reached {PHONE} fine"},
        expect=200,
    )

    sent_before = len(receiver.received("acme"))
    market.post(f"/admin/leads/{lead['id']}/erase", {}, expect=200)

    [purchased] = market.client.get("/api/v1/provider/assignments", headers=login.headers).json()[
        "items"
    ]
    assert MARKER in str(purchased) and not _holds(str(purchased))
    assert not _holds(str(market.get(f"/admin/leads/{lead['id']}")))
    # Anything the buyer is sent later carries the redacted lead only.
    later = receiver.received("acme")[sent_before:]
    assert not any(_holds(r.body.decode()) for r in later)
    dump = subprocess.run(
        [postgres_program("pg_dump"), "--no-owner", "--dbname", db_url],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert "lead_assignments" in dump and lead["id"] in dump
    found = [form for form in FORMS if form.lower() in dump.lower()]
    assert not found, found
    out, err = capfd.readouterr()
    logs = out + err + caplog.text
    assert not _holds(logs), [f for f in FORMS if f.lower() in logs.lower()]


def _holds(text: str) -> bool:
    return any(form.lower() in text.lower() for form in FORMS)


def test_leadflow_leads_erase_erases_through_the_same_service(
    market: Marketplace, db_url: str
) -> None:
    from tests.e2e.api.test_cli import leadflow

    market.niche(levels=[("Gold", 1, 1000)])
    lead = _erased_lead(market)
    first = leadflow(db_url, "leads", "erase", lead["id"], "--operator", "ops")
    assert first.returncode == 0, first.stderr
    assert '"already_erased": false' in first.stdout
    assert market.get(f"/admin/leads/{lead['id']}")["email"] == MARKER
    [row] = market.get("/admin/audit-log", action="lead.erased")["items"]
    assert row["actor_id"] == "cli:ops"
    again = leadflow(db_url, "leads", "erase", lead["id"])
    assert again.returncode == 0 and '"already_erased": true' in again.stdout
    unknown = leadflow(db_url, "leads", "erase", "00000000-0000-4000-8000-000000000000")
    assert unknown.returncode == 1
