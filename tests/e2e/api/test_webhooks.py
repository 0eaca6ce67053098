"""Webhooks through the real API, the real worker and a real receiver on 127.0.0.1 (SPEC §10).

The receiver verifies every signature the way a buyer would (``leadflow.webhooks.verify``) and
answers as each test tells it: 200, a refusal, 409, 410, 429, 500, a hang past the timeout, a
redirect, a 10 MB body.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from leadflow.settings import Settings
from leadflow.webhooks import verify
from tests.e2e.api.conftest import Marketplace, ProviderLogin, make_client
from tests.e2e.api.test_bad_input import _snapshot
from tests.support.receiver import REDIRECT_TARGET, Receiver, Reject
from tests.support.receiver import receiver as receiver

TIMEOUT_S = 1.0


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    """Attempts time out after a second here (10 s in production)."""
    return settings.model_copy(
        update={"intake_rate_limit": "0", "webhook_timeout_seconds": TIMEOUT_S}
    )


@dataclass
class Buyer:
    """A provider subscribed to the movers niche, with one endpoint on the receiver."""

    market: Marketplace
    receiver: Receiver
    login: ProviderLogin
    niche: dict[str, Any]
    endpoint: dict[str, Any]
    path: str = "acme"

    def sell(self) -> str:
        """A lead approved and sold to the buyer (the worker distributes it)."""
        lead_id, _ = self.market.approved_lead()
        status = self.market.wait_settled(lead_id)
        assert status["lead_status"] == "distributed", status
        return lead_id

    def deliveries(self, **params: Any) -> list[dict[str, Any]]:
        page = self.market.get("/admin/deliveries", endpoint_id=self.endpoint["id"], **params)
        return list(page["items"])

    def delivery(self, delivery_id: str) -> dict[str, Any]:
        return dict(self.market.get(f"/admin/deliveries/{delivery_id}"))

    def settled(self, count: int = 1, timeout: float = 20.0) -> list[dict[str, Any]]:
        """The buyer's deliveries once ``count`` of them are no longer pending."""
        deadline = time.monotonic() + timeout
        while True:
            items = self.deliveries()
            done = [d for d in items if d["status"] != "pending"]
            if len(done) >= count:
                return done
            if time.monotonic() > deadline:
                raise AssertionError(f"deliveries did not settle: {items}")
            time.sleep(0.05)


@pytest.fixture
def buyer(market: Marketplace, receiver: Receiver, worker: None) -> Buyer:
    niche = market.niche(levels=[("Gold", 2, 1000)], return_window_hours=72)
    login = market.provider_login("Acme", balance_cents=100_000, levels=[niche["levels"][0]["id"]])
    endpoint = market.post(f"/admin/providers/{login.id}/endpoints", {"url": receiver.url("acme")})
    receiver.secret("acme", endpoint["secret"])
    return Buyer(market, receiver, login, niche, endpoint)


def test_the_lead_assigned_body_carries_the_consent(buyer: Buyer) -> None:
    consent = {
        "text": "I agree to be called about my move.",
        "captured_at": "2026-12-01T09:30:00+00:00",
        "ip": "192.0.2.44",
    }
    lead_id, _ = buyer.market.approved_lead(consent=consent)
    assert buyer.market.wait_settled(lead_id)["lead_status"] == "distributed"
    [request] = buyer.receiver.wait_for("acme", 1)
    assert request.signature_valid is True
    lead = request.json["lead"]
    assert lead["consent"] == {
        **consent,
        "version": None,
        "user_agent": None,
        "page_url": None,
        "certificate_url": None,
    }
    assert lead["phone_e164"] == "+12125550100"


def test_a_sale_is_delivered_once_signed_with_the_lead(buyer: Buyer) -> None:
    lead_id = buyer.sell()
    [request] = buyer.receiver.wait_for("acme", 1)
    [delivery] = buyer.settled()

    assert request.signature_valid is True
    assert verify(buyer.endpoint["secret"], request.headers["leadflow-signature"], request.body)
    assert request.headers["leadflow-delivery"] == delivery["id"]
    assert request.headers["user-agent"].startswith("leadflow/")
    assert request.headers["content-type"] == "application/json"
    body = request.json
    assert body["event"] == "lead.assigned"
    assert body["delivery_id"] == delivery["id"]
    assert body["assignment_id"] == delivery["assignment_id"]
    assert body["lead"]["id"] == lead_id
    assert body["lead"]["email"] == "jane@example.com"
    assert body["lead"]["postal_code"] == "10001"
    assert body["niche"]["id"] == buyer.niche["id"]
    assert body["level"]["name"] == "Gold"
    assert body["price_charged_cents"] == 1000
    assert body["assigned_at"]

    assert delivery["status"] == "delivered"
    assert delivery["event"] == "lead.assigned"
    detail = buyer.delivery(delivery["id"])
    [attempt] = detail["attempts"]
    assert attempt["outcome"] == "delivered"
    assert attempt["status_code"] == 200
    assert attempt["latency_ms"] >= 0
    assert attempt["response_excerpt"] == '{"ok": true}'
    # Exactly once: nothing more arrives.
    time.sleep(0.5)
    assert len(buyer.receiver.received("acme")) == 1

    # The provider sees the same delivery; the secret is never shown again.
    own = buyer.market.client.get("/api/v1/provider/deliveries", headers=buyer.login.headers)
    assert [d["id"] for d in own.json()["items"]] == [delivery["id"]]
    listed = buyer.market.get(f"/admin/providers/{buyer.login.id}/endpoints")["items"]
    assert [e["id"] for e in listed] == [buyer.endpoint["id"]]
    assert "secret" not in listed[0]


def test_server_errors_are_retried_with_the_same_body_and_id(buyer: Buyer) -> None:
    buyer.receiver.respond("acme", "error", "busy", "ok")
    buyer.sell()
    requests = buyer.receiver.wait_for("acme", 3)
    [delivery] = buyer.settled()

    assert delivery["status"] == "delivered"
    assert len({r.headers["leadflow-delivery"] for r in requests}) == 1
    assert len({r.body for r in requests}) == 1
    assert all(r.signature_valid for r in requests)
    outcomes = [
        (a["outcome"], a["status_code"]) for a in buyer.delivery(delivery["id"])["attempts"]
    ]
    assert outcomes == [("retry", 500), ("retry", 429), ("delivered", 200)]


def test_a_client_error_fails_at_once(buyer: Buyer) -> None:
    buyer.receiver.respond("acme", "gone")
    buyer.sell()
    [delivery] = buyer.settled()
    assert delivery["status"] == "failed"
    assert delivery["last_status_code"] == 410
    assert len(buyer.delivery(delivery["id"])["attempts"]) == 1
    time.sleep(0.3)
    assert len(buyer.receiver.received("acme")) == 1


def test_the_last_retry_fails_the_delivery(buyer: Buyer, api_settings: Settings) -> None:
    buyer.receiver.respond("acme", "error")
    buyer.sell()
    [delivery] = buyer.settled()
    assert delivery["status"] == "failed"
    assert delivery["attempt_count"] == 1 + len(api_settings.retry_delays)
    assert len(buyer.receiver.received("acme")) == 1 + len(api_settings.retry_delays)


def test_a_hang_times_out_and_is_retried(buyer: Buyer) -> None:
    buyer.receiver.respond("acme", "hang", "ok")
    buyer.sell()
    buyer.receiver.wait_for("acme", 2, timeout=20)
    [delivery] = buyer.settled()
    assert delivery["status"] == "delivered"
    first, second = buyer.delivery(delivery["id"])["attempts"]
    assert first["outcome"] == "retry"
    assert first["status_code"] is None
    assert first["error"] == "timeout"
    assert TIMEOUT_S * 1000 * 0.9 <= first["latency_ms"] < TIMEOUT_S * 1000 * 3
    assert second["outcome"] == "delivered"


def test_a_redirect_is_not_followed(buyer: Buyer) -> None:
    buyer.receiver.respond("acme", "redirect")
    buyer.sell()
    [delivery] = buyer.settled()
    assert delivery["status"] == "failed"
    assert delivery["last_status_code"] == 302
    assert buyer.receiver.received(REDIRECT_TARGET) == []


def test_a_huge_reply_is_read_only_up_to_the_cap(buyer: Buyer) -> None:
    buyer.receiver.respond("acme", "huge")
    buyer.sell()
    [delivery] = buyer.settled()
    assert delivery["status"] == "delivered"
    [attempt] = buyer.delivery(delivery["id"])["attempts"]
    assert attempt["status_code"] == 200
    assert len(attempt["response_excerpt"].encode()) <= 1024 * 4
    assert len(attempt["response_excerpt"]) <= 1024


def test_twenty_failed_deliveries_disable_the_endpoint(buyer: Buyer, db_url: str) -> None:
    buyer.receiver.respond("acme", "gone")
    for _ in range(20):
        buyer.sell()
    buyer.settled(20)
    endpoint = buyer.market.get(f"/admin/endpoints/{buyer.endpoint['id']}")
    assert endpoint["is_active"] is False
    assert endpoint["consecutive_failures"] == 20
    assert "20 deliveries in a row failed" in endpoint["disabled_reason"]
    with psycopg.connect(db_url, row_factory=dict_row) as conn:
        audit = conn.execute(
            "SELECT actor_role FROM audit_log WHERE action = 'webhook_endpoint.disabled' "
            "AND entity_id = %s",
            (buyer.endpoint["id"],),
        ).fetchall()
        assert audit == [{"actor_role": "system"}]
        mails = _wait_rows(
            conn,
            "SELECT to_address, body_text FROM email_outbox WHERE template = 'endpoint_disabled'",
        )
    assert mails[0]["to_address"] == buyer.login.email
    assert buyer.endpoint["url"] in mails[0]["body_text"]

    # A disabled endpoint matches no sale (invariant 6: the endpoints active at commit time);
    # enabled again, it gets the next one.
    buyer.receiver.respond("acme", "ok")
    buyer.sell()
    time.sleep(0.5)
    assert len(buyer.receiver.received("acme")) == 20
    assert len(buyer.deliveries()) == 20
    enabled = buyer.market.client.patch(
        f"/api/v1/admin/endpoints/{buyer.endpoint['id']}",
        json={"is_active": True},
        headers=buyer.market.admin.headers,
    )
    assert enabled.json()["consecutive_failures"] == 0
    assert enabled.json()["disabled_reason"] is None
    buyer.sell()
    buyer.receiver.wait_for("acme", 21, timeout=15)


def test_during_a_rotation_both_secrets_sign(buyer: Buyer) -> None:
    old = buyer.endpoint["secret"]
    rotated = buyer.market.post(
        f"/admin/endpoints/{buyer.endpoint['id']}/rotate-secret", {"grace_hours": 24}, expect=200
    )
    new = rotated["secret"]
    assert new != old
    assert rotated["previous_secret_expires_at"] is not None
    buyer.receiver.secret("acme", new, old)
    buyer.sell()
    [request] = buyer.receiver.wait_for("acme", 1)
    assert request.valid_for == (0, 1)
    assert request.headers["leadflow-signature"].count("v1=") == 2

    # Without a grace period the old secret stops at once.
    buyer.market.post(
        f"/admin/endpoints/{buyer.endpoint['id']}/rotate-secret", {"grace_hours": 0}, expect=200
    )
    buyer.sell()
    _, second = buyer.receiver.wait_for("acme", 2)
    assert second.headers["leadflow-signature"].count("v1=") == 1
    assert not verify(old, second.headers["leadflow-signature"], second.body)
    assert not verify(new, second.headers["leadflow-signature"], second.body)


def test_redeliver_sends_the_same_delivery_again(buyer: Buyer) -> None:
    buyer.receiver.respond("acme", "gone", "ok")
    buyer.sell()
    [failed] = buyer.settled()
    assert failed["status"] == "failed"
    again = buyer.market.post(f"/admin/deliveries/{failed['id']}/redeliver", {}, expect=202)
    assert again["status"] == "pending"
    first, second = buyer.receiver.wait_for("acme", 2)
    assert first.body == second.body
    assert second.headers["leadflow-delivery"] == failed["id"]
    deadline = time.monotonic() + 10
    while buyer.delivery(failed["id"])["status"] == "pending" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert buyer.delivery(failed["id"])["status"] == "delivered"
    # A pending delivery cannot be redelivered; an unknown one is not found.
    buyer.receiver.respond("acme", "hang")
    buyer.sell()
    pending = next(d for d in buyer.deliveries() if d["status"] == "pending")
    refused = buyer.market.client.post(
        f"/api/v1/admin/deliveries/{pending['id']}/redeliver", headers=buyer.market.admin.headers
    )
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    unknown = buyer.market.client.post(
        "/api/v1/admin/deliveries/00000000-0000-4000-8000-000000000000/redeliver",
        headers=buyer.market.admin.headers,
    )
    assert unknown.status_code == 404


def test_a_rolled_back_sale_delivers_nothing(buyer: Buyer, db_url: str) -> None:
    """The sale fails after its deliveries were written (its last audit row is refused): the
    whole transaction rolls back, deliveries with it."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            """
            CREATE FUNCTION test_refuse_completion() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.action = 'distribution.completed' THEN
                    RAISE EXCEPTION 'the sale fails at its very end';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER test_refuse_completion BEFORE INSERT ON audit_log
            FOR EACH ROW EXECUTE FUNCTION test_refuse_completion();
            """
        )
    lead_id, _ = buyer.market.approved_lead()
    status = buyer.market.wait_settled(lead_id)
    assert status["lead_status"] == "approved"
    with psycopg.connect(db_url, row_factory=dict_row) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM webhook_deliveries) AS deliveries, "
            "(SELECT count(*) FROM lead_assignments) AS assignments"
        ).fetchone()
        conn.execute("DROP TRIGGER test_refuse_completion ON audit_log")
        conn.commit()
    assert counts == {"deliveries": 0, "assignments": 0}
    time.sleep(0.3)
    assert buyer.receiver.received("acme") == []


def test_an_endpoint_for_another_niche_gets_nothing(
    buyer: Buyer, market: Marketplace, receiver: Receiver
) -> None:
    other = market.niche("plumbers", levels=[("Gold", 1, 500)])
    market.post(
        "/admin/subscriptions",
        {"provider_id": buyer.login.id, "competition_level_id": other["levels"][0]["id"]},
    )
    market.post(
        f"/admin/providers/{buyer.login.id}/endpoints",
        {"url": receiver.url("plumbing"), "niche_id": other["id"]},
    )
    buyer.sell()
    buyer.receiver.wait_for("acme", 1)
    time.sleep(0.3)
    assert receiver.received("plumbing") == []


def test_the_buyer_saying_no_files_a_return(buyer: Buyer) -> None:
    buyer.receiver.respond("acme", Reject("bad_contact"))
    buyer.sell()
    [delivery] = buyer.settled()
    assert delivery["status"] == "delivered"
    assert delivery["buyer_reason"] == "bad_contact"
    assert delivery["filed_return_id"] is not None
    filed = buyer.market.get(f"/admin/returns/{delivery['filed_return_id']}")
    assert filed["assignment_id"] == delivery["assignment_id"]
    assert filed["reason"] == "bad_contact"
    assert filed["status"] == "requested"
    assert "bad_contact" in filed["note"]


def test_a_409_files_a_return_with_reason_other(buyer: Buyer) -> None:
    buyer.receiver.respond("acme", "conflict")
    buyer.sell()
    [delivery] = buyer.settled()
    assert delivery["status"] == "delivered"
    filed = buyer.market.get(f"/admin/returns/{delivery['filed_return_id']}")
    assert filed["reason"] == "other"
    assert filed["note"] == '{"error": "conflict"}'


def test_a_refusal_outside_the_return_window_is_recorded_without_refund(
    buyer: Buyer, db_url: str
) -> None:
    buyer.market.client.patch(
        f"/api/v1/admin/niches/{buyer.niche['id']}",
        json={"return_window_hours": 0},
        headers=buyer.market.admin.headers,
    )
    buyer.receiver.respond("acme", Reject("duplicate"))
    buyer.sell()
    [delivery] = buyer.settled()
    assert delivery["status"] == "rejected_by_buyer"
    assert delivery["buyer_reason"] == "duplicate"
    assert delivery["filed_return_id"] is None
    assert buyer.market.get("/admin/returns")["items"] == []


def test_an_approved_return_is_delivered_as_lead_returned(buyer: Buyer) -> None:
    buyer.sell()
    [sold] = buyer.settled()
    requested = buyer.market.client.post(
        f"/api/v1/provider/assignments/{sold['assignment_id']}/return",
        json={"reason": "bad_contact"},
        headers=buyer.login.headers,
    )
    assert requested.status_code == 201, requested.text
    return_id = requested.json()["return_id"]
    buyer.market.post(f"/admin/returns/{return_id}/approve", {}, expect=200)
    _, returned = buyer.receiver.wait_for("acme", 2, timeout=20)
    assert returned.signature_valid is True
    assert returned.json["event"] == "lead.returned"
    assert returned.json["return_id"] == return_id
    assert returned.json["assignment_id"] == sold["assignment_id"]
    assert returned.json["refund_cents"] == 1000
    assert returned.headers["leadflow-event"] == "lead.returned"


# --- endpoints: bad input, SSRF, ownership ------------------------------------------------------


@pytest.fixture
def seller(market: Marketplace) -> ProviderLogin:
    niche = market.niche(levels=[("Gold", 1, 100)])
    return market.provider_login("Acme", balance_cents=10_000, levels=[niche["levels"][0]["id"]])


REFUSED_URLS = [
    ("not a url", "url"),
    ("ftp://example.com/hook", "https"),
    ("http://example.com/hook", "https"),
    ("https://example.com/" + "a" * 2048, "2048"),
    ("https://10.0.0.1/hook", "private"),
    ("https://169.254.169.254/latest/meta-data", "169.254.169.254"),
    ("https://[::ffff:127.0.0.1]/hook", "loopback"),
    ("https://localhost/hook", "loopback"),
    ("https://[::1]/hook", "loopback"),
    ("https://100.64.0.1/hook", "100.64"),
    ("https://user:pass@example.com/hook", "user"),
]


@pytest.mark.parametrize(("url", "said"), REFUSED_URLS)
def test_unsafe_or_bad_urls_are_refused_and_nothing_is_stored(
    market: Marketplace, seller: ProviderLogin, db_url: str, url: str, said: str
) -> None:
    before = _snapshot(db_url)
    for path, headers in (
        (f"/api/v1/admin/providers/{seller.id}/endpoints", market.admin.headers),
        ("/api/v1/provider/endpoints", seller.headers),
    ):
        response = market.client.post(path, json={"url": url}, headers=headers)
        assert response.status_code == 422, (url, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert said.lower() in response.json()["detail"].lower(), response.json()
    assert _snapshot(db_url) == before


def test_plain_http_to_loopback_needs_the_allow_list(
    api_settings: Settings, db_url: str, market: Marketplace, seller: ProviderLogin
) -> None:
    allowed = market.client.post(
        "/api/v1/provider/endpoints",
        json={"url": "http://127.0.0.1:9/hook"},
        headers=seller.headers,
    )
    assert allowed.status_code == 201, allowed.text
    strict = api_settings.model_copy(update={"webhook_allow_hosts": []})
    with make_client(strict, db_url) as client:
        response = client.post(
            "/api/v1/provider/endpoints",
            json={"url": "http://127.0.0.1:9/hook"},
            headers=seller.headers,
        )
        assert response.status_code == 422
        assert "https" in response.json()["detail"]
        https = client.post(
            "/api/v1/provider/endpoints",
            json={"url": "https://127.0.0.1/hook"},
            headers=seller.headers,
        )
        assert https.status_code == 422
        assert "loopback" in https.json()["detail"]


def test_another_providers_endpoint_is_not_found(
    market: Marketplace, seller: ProviderLogin, db_url: str
) -> None:
    other = market.provider_login("Other", balance_cents=1000)
    own = market.client.post(
        "/api/v1/provider/endpoints", json={"url": "http://127.0.0.1:9/a"}, headers=seller.headers
    ).json()
    before = _snapshot(db_url)
    path = f"/api/v1/provider/endpoints/{own['id']}"
    for method, suffix, body in (
        ("GET", "", None),
        ("PATCH", "", {"is_active": False}),
        ("DELETE", "", None),
        ("POST", "/rotate-secret", {}),
    ):
        response = market.client.request(method, path + suffix, json=body, headers=other.headers)
        assert response.status_code == 404, (method, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert _snapshot(db_url) == before
    assert market.client.get(path, headers=seller.headers).status_code == 200


def test_an_endpoint_for_a_niche_without_a_subscription_is_refused(
    market: Marketplace, seller: ProviderLogin, db_url: str
) -> None:
    other = market.niche("plumbers", levels=[("Gold", 1, 100)])
    before = _snapshot(db_url)
    response = market.client.post(
        "/api/v1/provider/endpoints",
        json={"url": "http://127.0.0.1:9/a", "niche_id": other["id"]},
        headers=seller.headers,
    )
    assert response.status_code == 422
    assert "niche_id" in response.json()["detail"]
    assert _snapshot(db_url) == before


def test_endpoint_lifecycle_for_the_provider(market: Marketplace, seller: ProviderLogin) -> None:
    created = market.client.post(
        "/api/v1/provider/endpoints", json={"url": "http://127.0.0.1:9/a"}, headers=seller.headers
    )
    assert created.status_code == 201
    endpoint = created.json()
    assert len(endpoint["secret"]) >= 43
    path = f"/api/v1/provider/endpoints/{endpoint['id']}"
    shown = market.client.get(path, headers=seller.headers).json()
    assert "secret" not in shown
    changed = market.client.patch(
        path, json={"url": "http://127.0.0.1:9/b", "is_active": False}, headers=seller.headers
    ).json()
    assert (changed["url"], changed["is_active"]) == ("http://127.0.0.1:9/b", False)
    null = market.client.patch(path, json={"url": None}, headers=seller.headers)
    assert null.status_code == 422
    assert market.client.delete(path, headers=seller.headers).status_code == 204
    assert market.client.get(path, headers=seller.headers).status_code == 404
    listed = market.client.get("/api/v1/provider/endpoints", headers=seller.headers).json()
    assert listed["items"] == []


def test_secrets_are_stored_encrypted(
    market: Marketplace, seller: ProviderLogin, db_url: str
) -> None:
    made = market.client.post(
        "/api/v1/provider/endpoints", json={"url": "http://127.0.0.1:9/a"}, headers=seller.headers
    ).json()
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT secret_ciphertext FROM webhook_endpoints WHERE id = %s", (made["id"],)
        ).fetchone()
        assert row is not None
        dump = json.dumps(conn.execute("SELECT * FROM audit_log").fetchall(), default=str)
    assert made["secret"] not in row[0]
    assert made["secret"] not in dump


def _wait_rows(conn: psycopg.Connection[Any], query: str, timeout: float = 15.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        rows = conn.execute(query).fetchall()
        conn.commit()
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


@pytest.fixture
def no_key_client(api_settings: Settings, db_url: str) -> Iterator[Any]:
    with make_client(api_settings.model_copy(update={"secret_key": None}), db_url) as client:
        yield client


def test_without_a_secret_key_endpoints_cannot_be_made(
    no_key_client: Any, seller: ProviderLogin, db_url: str
) -> None:
    before = _snapshot(db_url)
    response = no_key_client.post(
        "/api/v1/provider/endpoints", json={"url": "http://127.0.0.1:9/a"}, headers=seller.headers
    )
    assert response.status_code == 503
    assert "LEADFLOW_SECRET_KEY" in response.json()["detail"]
    assert _snapshot(db_url) == before
