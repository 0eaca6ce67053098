"""Leads worth buying at intake (SPEC §11, issue 16 part A), through the real API and worker:
idempotent intake, duplicate consumers, consent."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg_pool import ConnectionPool

from leadflow.db.connection import Connection, open_autocommit_pool
from leadflow.services import intake
from leadflow.settings import Settings
from tests.e2e.api.conftest import Marketplace, ProviderLogin, make_client
from tests.e2e.api.test_bad_input import _snapshot

CONSENT = {
    "text": "I agree to be called by movers about my move, also by autodialer.",
    "version": "v3",
    "captured_at": "2026-12-01T09:30:00Z",
    "ip": "2001:db8::7",
    "user_agent": "Mozilla/5.0",
    "page_url": "https://movers.example/quote",
    "certificate_url": "https://cert.example/abc",
}


def _post(client: TestClient, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {} if key is None else {"Idempotency-Key": key}
    return client.post("/api/v1/leads", json=body, headers=headers)


def _body(**changes: Any) -> dict[str, Any]:
    body = {
        "niche": "movers",
        "name": "Jane Doe",
        "email": "jane@example.com",
        "phone": "+1 212 555 0100",
        "postal_code": "10001",
    }
    return {**body, **changes}


def _lead_count(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT count(*) FROM leads").fetchone()
    assert row is not None
    return int(row[0])


def _seller(market: Marketplace, **niche: Any) -> tuple[dict[str, Any], ProviderLogin]:
    """The movers niche (duplicate check on, 30 days unless told) and a funded buyer."""
    niche.setdefault("duplicate_window_days", 30)
    movers = market.niche(levels=[("Gold", 2, 100)], **niche)
    buyer = market.provider_login("Acme", balance_cents=100_000, levels=[movers["levels"][0]["id"]])
    return movers, buyer


# --- idempotent intake ------------------------------------------------------------------------


def test_a_retry_with_the_same_key_gets_the_first_answer_and_stores_nothing(
    market: Marketplace, db_url: str
) -> None:
    _seller(market)
    first = _post(market.client, _body(), key="order-1")
    assert first.status_code == 201, first.text
    before = _snapshot(db_url)
    again = _post(market.client, _body(), key="order-1")
    assert again.status_code == 200, again.text
    assert again.json() == first.json() == {"id": first.json()["id"], "status": "pending_approval"}
    assert _snapshot(db_url) == before
    # Another key is another request: the same consumer, so a duplicate of the first.
    other = _post(market.client, _body(), key="order-2")
    assert other.status_code == 201
    assert other.json()["status"] == "duplicate"
    assert _post(market.client, _body(), key="order-2").json() == other.json()


def test_the_same_key_with_another_body_is_409_and_stores_nothing(
    market: Marketplace, db_url: str
) -> None:
    _seller(market)
    assert _post(market.client, _body(), key="k-1").status_code == 201
    before = _snapshot(db_url)
    clash = _post(market.client, _body(name="Someone Else"), key="k-1")
    assert clash.status_code == 409
    assert clash.headers["content-type"] == "application/problem+json"
    assert "Idempotency-Key" in clash.json()["detail"]
    assert _snapshot(db_url) == before


def test_a_refused_request_leaves_its_key_free(market: Marketplace) -> None:
    _seller(market)
    refused = _post(market.client, _body(niche="nowhere"), key="k-2")
    assert refused.status_code == 422
    assert _post(market.client, _body(), key="k-2").status_code == 201


def test_a_key_expires_after_24_hours_and_is_pruned(market: Marketplace, db_url: str) -> None:
    _seller(market, duplicate_window_days=0)
    first = _post(market.client, _body(), key="old").json()
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE intake_idempotency SET created_at = now() - interval '25 hours'")
    again = _post(market.client, _body(), key="old")
    assert again.status_code == 201
    assert again.json()["id"] != first["id"]
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE intake_idempotency SET created_at = now() - interval '25 hours'")
        with conn.transaction():
            pruned = intake.prune(conn)  # type: ignore[arg-type]
    assert pruned == 1


def test_two_requests_with_one_key_at_once_store_one_lead(
    market: Marketplace, api_settings: Settings, db_url: str
) -> None:
    _seller(market, duplicate_window_days=0)
    answers: list[tuple[int, dict[str, Any]]] = []
    barrier = threading.Barrier(6)

    def send() -> None:
        with make_client(api_settings, db_url) as c:
            barrier.wait()
            response = _post(c, _body(), key="same-moment")
            answers.append((response.status_code, response.json()))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(code for code, _ in answers) == [200] * 5 + [201]
    assert len({a["id"] for _, a in answers}) == 1
    assert _lead_count(db_url) == 1


# --- duplicate consumers ----------------------------------------------------------------------


def test_a_duplicate_is_stored_audited_and_never_sold(
    market: Marketplace, worker: None, db_url: str
) -> None:
    _seller(market)
    original, _ = market.approved_lead()
    assert market.wait_settled(original)["lead_status"] == "distributed"
    duplicate = _post(market.client, _body(phone="(212) 555-0100", email=" JANE@Example.com "))
    assert duplicate.status_code == 201, duplicate.text
    assert duplicate.json() == {
        "id": duplicate.json()["id"],
        "status": "duplicate",
        "duplicate_of": original,
    }
    lead_id = duplicate.json()["id"]
    detail = market.get(f"/admin/leads/{lead_id}")
    assert detail["status"] == "duplicate"
    assert detail["duplicate_of"] == original
    assert (detail["phone_e164"], detail["email_normalized"]) == (
        "+12125550100",
        "jane@example.com",
    )
    assert detail["phone"] == "(212) 555-0100"  # as the consumer typed it
    [audit] = market.get("/admin/audit-log", action="lead.duplicate", entity_id=lead_id)["items"]
    assert audit["metadata"] == {"duplicate_of": original}
    # Never distributed: no job, and asking for one is refused.
    market.post(f"/admin/leads/{lead_id}/distribute", {}, expect=400)
    time.sleep(0.5)
    assert market.get(f"/admin/leads/{lead_id}/assignments")["total"] == 0
    assert market.get(f"/admin/leads/{lead_id}/distribution-status")["job"] is None


def test_an_admin_may_approve_a_duplicate_and_it_is_sold(market: Marketplace, worker: None) -> None:
    _seller(market)
    market.lead()
    duplicate = market.lead()
    assert duplicate["status"] == "duplicate"
    approval = market.post(f"/admin/leads/{duplicate['id']}/approve", {}, expect=200)
    assert approval["status"] == "approved"
    assert market.wait_settled(duplicate["id"])["lead_status"] == "distributed"
    assert market.get(f"/admin/leads/{duplicate['id']}/assignments")["total"] == 1
    [audit] = market.get("/admin/audit-log", action="lead.approved", entity_id=duplicate["id"])[
        "items"
    ]
    assert (
        audit["metadata"]["approved_duplicate_of"]
        == market.get(f"/admin/leads/{duplicate['id']}")["duplicate_of"]
    )


def test_a_duplicate_may_be_rejected(market: Marketplace) -> None:
    _seller(market)
    market.lead()
    duplicate = market.lead()
    rejected = market.post(f"/admin/leads/{duplicate['id']}/reject", {"reason": "spam"}, expect=200)
    assert rejected["status"] == "rejected"


def test_window_zero_turns_the_check_off(market: Marketplace) -> None:
    _seller(market, duplicate_window_days=0)
    assert market.lead()["status"] == market.lead()["status"] == "pending_approval"


def test_a_lead_older_than_the_window_is_no_original(market: Marketplace, db_url: str) -> None:
    niche, _ = _seller(market, duplicate_window_days=7)
    old = market.lead()
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "UPDATE leads SET created_at = now() - interval '7 days 1 minute' WHERE id = %s",
            (old["id"],),
        )
    assert market.lead()["status"] == "pending_approval"
    assert market.lead()["status"] == "duplicate"
    # The window is the niche's own and editable.
    patched = market.client.patch(
        f"/api/v1/admin/niches/{niche['id']}",
        json={"duplicate_window_days": 0},
        headers=market.admin.headers,
    )
    assert patched.json()["duplicate_window_days"] == 0
    assert market.lead()["status"] == "pending_approval"


def test_either_key_matches_and_the_earliest_lead_is_named(market: Marketplace) -> None:
    _seller(market)
    first = market.lead(email="a@example.com", phone="+1 212 555 0101")
    second = market.lead(email="b@example.com", phone="+1 212 555 0102")
    by_email = market.lead(email="A@EXAMPLE.COM", phone="+1 212 555 0199")
    by_both = market.lead(email="b@example.com", phone="+1 212 555 0101")
    assert by_email == {"id": by_email["id"], "status": "duplicate", "duplicate_of": first["id"]}
    assert by_both["duplicate_of"] == first["id"]
    assert second["status"] == "pending_approval"


def test_another_niche_is_no_duplicate(market: Marketplace) -> None:
    _seller(market)
    market.niche("roofing", levels=[("Gold", 1, 100)], duplicate_window_days=30)
    assert market.lead()["status"] == "pending_approval"
    assert market.lead("roofing")["status"] == "pending_approval"


def test_a_duplicate_in_a_confirmation_niche_gets_no_mail(market: Marketplace, db_url: str) -> None:
    _seller(market, require_confirmation=True)
    assert market.lead()["status"] == "pending_confirmation"
    assert market.lead(phone="+1 212 555 0177")["status"] == "duplicate"
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT count(*) FROM email_outbox").fetchone()
    assert row is not None and row[0] == 1


def test_phones_are_read_in_the_niche_region(market: Marketplace) -> None:
    _seller(market)
    market.niche("london", levels=[("Gold", 1, 100)], default_region="GB")
    local = market.lead("london", phone="020 7946 0958", email="a@example.co.uk")
    detail = market.get(f"/admin/leads/{local['id']}")
    assert detail["phone_e164"] == "+442079460958"
    # The same number dialled from abroad is the same consumer.
    assert market.lead("london", phone="+44 20 7946 0958")["status"] == "pending_approval"
    refused = _post(market.client, _body(niche="movers", phone="020 7946 0958"))
    assert refused.status_code == 422


def test_same_consumer_at_the_same_instant_gives_one_original(
    market: Marketplace, pool: ConnectionPool[Connection], settings: Settings, db_url: str
) -> None:
    _seller(market)
    form = intake.LeadForm(
        niche="movers",
        name="Jane",
        email="jane@example.com",
        phone="+1 212 555 0100",
        postal_code="10001",
        attributes={},
    )

    async def submit_all() -> list[intake.IntakeResult]:
        autocommit_pool = await open_autocommit_pool(db_url, settings, max_size=8)
        try:
            return await asyncio.gather(
                *(
                    intake.submit_lead_async(
                        pool, autocommit_pool, form=form, client_address="x", rate=None
                    )
                    for _ in range(8)
                )
            )
        finally:
            await autocommit_pool.close()

    for _ in range(3):
        results = asyncio.run(submit_all())
        originals = [r for r in results if r.status != "duplicate"]
        assert len(originals) <= 1
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT status, duplicate_of FROM leads").fetchall()
    assert len(rows) == 24
    assert [s for s, _ in rows].count("pending_approval") == 1
    assert len({d for s, d in rows if s == "duplicate"}) == 1


# --- consent ----------------------------------------------------------------------------------


def test_consent_is_stored_and_shown_to_admins_and_the_buyer(
    market: Marketplace, worker: None
) -> None:
    _, buyer = _seller(market, require_consent=True)
    lead_id, _ = market.approved_lead(consent=CONSENT)
    assert market.wait_settled(lead_id)["lead_status"] == "distributed"
    stored = market.get(f"/admin/leads/{lead_id}")["consent"]
    assert stored == {**CONSENT, "captured_at": "2026-12-01T09:30:00+00:00"}
    [mine] = market.client.get("/api/v1/provider/assignments", headers=buyer.headers).json()[
        "items"
    ]
    assert mine["consent"] == stored
    assert mine["phone_e164"] == "+12125550100"
    one = market.client.get(
        f"/api/v1/provider/assignments/{mine['assignment_id']}", headers=buyer.headers
    )
    assert one.json()["consent"] == stored


def test_a_niche_requiring_consent_refuses_a_lead_without_it(
    market: Marketplace, db_url: str
) -> None:
    _seller(market, require_consent=True)
    before = _snapshot(db_url)
    refused = _post(market.client, _body())
    assert refused.status_code == 422
    assert "consent" in refused.json()["detail"]
    assert _snapshot(db_url) == before


def test_consent_is_immutable_but_erasure_may_redact_it(market: Marketplace, db_url: str) -> None:
    _seller(market)
    lead = market.lead(consent=CONSENT)
    with psycopg.connect(db_url, autocommit=True) as conn:
        for change in (
            "consent = jsonb_set(consent, '{text}', '\"I agree to anything\"')",
            "consent = NULL",
            # An erasure may redact personal fields only, never the wording.
            "erased_at = now(), consent = jsonb_set(consent, '{text}', '\"x\"')",
        ):
            with pytest.raises(psycopg.DatabaseError, match="consent is never changed") as refused:
                conn.execute(f"UPDATE leads SET {change} WHERE id = %s", (lead["id"],))
            assert refused.value.sqlstate == "LF003"
        unconsented = market.lead(phone="+1 212 555 0111", email="x@example.com")
        with pytest.raises(psycopg.DatabaseError, match="consent is never changed"):
            conn.execute(
                'UPDATE leads SET consent = \'{"text": "forged"}\' WHERE id = %s',
                (unconsented["id"],),
            )
        conn.execute(
            """
            UPDATE leads SET erased_at = now(),
                   consent = consent || '{"ip": "[erased]", "user_agent": "[erased]"}'
            WHERE id = %s
            """,
            (lead["id"],),
        )
        # Other columns change freely.
        conn.execute("UPDATE leads SET name = 'J.' WHERE id = %s", (lead["id"],))
    consent = market.get(f"/admin/leads/{lead['id']}")["consent"]
    assert (consent["ip"], consent["text"]) == ("[erased]", CONSENT["text"])


@pytest.mark.parametrize(
    ("consent", "field"),
    [
        ({**CONSENT, "captured_at": "2099-01-01T00:00:00Z"}, "captured_at"),
        ({**CONSENT, "ip": "999.1.1.1"}, "ip"),
        ({**CONSENT, "text": "x" * 1001}, "text"),
        ({**CONSENT, "page_url": "javascript:alert(1)"}, "page_url"),
        ({**CONSENT, "certificate_url": "https://c.example/" + "x" * 2048}, "certificate_url"),
        ({**CONSENT, "captured_at": "2026-12-01"}, "captured_at"),
        ({k: v for k, v in CONSENT.items() if k != "ip"}, "ip"),
    ],
)
def test_bad_consent_is_422_naming_the_field(
    market: Marketplace, db_url: str, consent: dict[str, Any], field: str
) -> None:
    _seller(market)
    before = _snapshot(db_url)
    refused = _post(market.client, _body(consent=consent))
    assert refused.status_code == 422, refused.text
    assert field in refused.json()["detail"]
    assert _snapshot(db_url) == before


def test_consent_a_few_minutes_ahead_is_clock_skew(market: Marketplace) -> None:
    _seller(market)
    soon = (datetime.now(UTC) + timedelta(minutes=3)).isoformat()
    assert _post(market.client, _body(consent={**CONSENT, "captured_at": soon})).status_code == 201


# --- invariant 7 ------------------------------------------------------------------------------

CONSUMERS = [("a@example.com", "+1 212 555 0101"), ("b@example.com", "+1 212 555 0102")]


@pytest.mark.parametrize("auto_distribute", [False])
def test_no_duplicate_is_ever_sold(
    market: Marketplace, pool: ConnectionPool[Connection], db_url: str
) -> None:
    """Random mixes of new and repeated consumers, each lead approved when it may be and
    distributed: the duplicates keep no assignment (invariant 7)."""
    from leadflow.domain.model import Actor
    from leadflow.services.distribution import distribute_lead

    _seller(market)
    emails = st.sampled_from(["a@example.com", "b@example.com", "c@example.com"])
    phones = st.sampled_from(["+1 212 555 0101", "+1 212 555 0102", "+1 212 555 0103"])

    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.lists(st.tuples(emails, phones, st.booleans()), min_size=1, max_size=6))
    def run(leads: list[tuple[str, str, bool]]) -> None:
        with psycopg.connect(db_url) as conn:
            conn.execute("UPDATE leads SET created_at = created_at - interval '31 days'")
        seen: set[str] = set()
        for email, phone, try_to_sell in leads:
            lead = market.lead(email=email, phone=phone)
            repeat = email in seen or phone in seen
            seen |= {email, phone}
            assert (lead["status"] == "duplicate") == repeat, (leads, lead)
            if lead["status"] == "pending_approval" and try_to_sell:
                market.post(f"/admin/leads/{lead['id']}/approve", {}, expect=200)
                distribute_lead(pool, lead_id=UUID(lead["id"]), triggered_by=Actor.system())
            elif lead["status"] == "duplicate":
                market.post(f"/admin/leads/{lead['id']}/distribute", {}, expect=400)
        with psycopg.connect(db_url) as conn:
            sold = conn.execute(
                """
                SELECT count(*) FROM leads l JOIN lead_assignments a ON a.lead_id = l.id
                WHERE l.status = 'duplicate'
                """
            ).fetchone()
        assert sold is not None and sold[0] == 0

    run()
