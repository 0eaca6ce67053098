"""A provider returns a lead from the portal and follows its status (SPEC §9); an admin
corrects a balance with the adjustment form on the provider's page."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from leadflow.db.connection import Connection
from leadflow.domain.model import Actor
from leadflow.services.distribution import distribute_lead
from tests.e2e.api.conftest import Marketplace, ProviderLogin, make_client
from tests.e2e.console.conftest import console_login, csrf_of


def _bought(
    market: Marketplace, pool: ConnectionPool[Connection], count: int = 1, **niche: Any
) -> tuple[ProviderLogin, list[str]]:
    level = market.niche("movers", levels=[("Gold", 1, 4900)], **niche)["levels"][0]["id"]
    buyer = market.provider_login("Mover", balance_cents=100_000, levels=[level])
    assignments = []
    for _ in range(count):
        lead_id, _ = market.approved_lead(name="Ann Lee")
        distribute_lead(pool, lead_id=UUID(lead_id), triggered_by=Actor.system())
        assignments.append(
            market.get(f"/admin/leads/{lead_id}/assignments")["items"][0]["assignment_id"]
        )
    return buyer, assignments


def test_provider_returns_a_lead_from_the_portal_and_sees_its_status(
    market: Marketplace, pool: ConnectionPool[Connection], api_settings: Any, db_url: str
) -> None:
    buyer, [assignment, other] = _bought(market, pool, 2)
    with make_client(api_settings, db_url) as portal:
        csrf = console_login(portal, buyer.email, buyer.password)
        page = portal.get(f"/portal/leads/{assignment}")
        assert page.status_code == 200 and "Return this lead" in page.text
        assert '<option value="bad_contact">bad contact</option>' in page.text
        target = f"/portal/leads/{assignment}/return"

        refused = portal.post(target, data={"reason": "other"}, follow_redirects=False)
        assert refused.status_code == 403
        wrong = portal.post(target, data={"csrf_token": csrf, "reason": "bored", "note": "x"})
        assert wrong.status_code == 422
        assert "reason must be one of" in wrong.text and 'value="x"' in wrong.text
        assert market.get("/admin/returns")["total"] == 0

        done = portal.post(target, data={"csrf_token": csrf, "reason": "bad_contact"})
        assert done.status_code == 200
        assert "Return requested; an operator will decide" in done.text
        assert "Return this lead" not in done.text and "requested" in done.text
        twice = portal.post(target, data={"csrf_token": csrf, "reason": "bad_contact"})
        assert twice.status_code == 422 and "already requested" in twice.text

        [request] = market.get("/admin/returns")["items"]
        assert request["assignment_id"] == assignment and request["reason"] == "bad_contact"
        market.post(f"/admin/returns/{request['id']}/approve", {}, expect=200)
        lead = portal.get(f"/portal/leads/{assignment}").text
        assert "approved" in lead and "$49.00" in lead
        mine = portal.get("/portal/returns")
        assert mine.status_code == 200 and mine.text.count("<tr data-return-id=") == 1
        assert "approved" in mine.text and "$49.00" in mine.text
        assert "Return this lead" in portal.get(f"/portal/leads/{other}").text

        stranger = market.provider_login("Stranger", balance_cents=0)
    with make_client(api_settings, db_url) as theirs:
        their_csrf = console_login(theirs, stranger.email, stranger.password)
        assert theirs.get(f"/portal/leads/{other}").status_code == 404
        response = theirs.post(
            f"/portal/leads/{other}/return", data={"csrf_token": their_csrf, "reason": "other"}
        )
        assert response.status_code == 404
        assert "No return yet" in theirs.get("/portal/returns").text
    assert market.get("/admin/returns")["total"] == 1


def test_a_niche_without_returns_offers_none(
    market: Marketplace, pool: ConnectionPool[Connection], api_settings: Any, db_url: str
) -> None:
    buyer, [assignment] = _bought(market, pool, return_window_hours=0)
    with make_client(api_settings, db_url) as portal:
        csrf = console_login(portal, buyer.email, buyer.password)
        page = portal.get(f"/portal/leads/{assignment}").text
        assert "can no longer be returned" in page and "Return this lead" not in page
        refused = portal.post(
            f"/portal/leads/{assignment}/return", data={"csrf_token": csrf, "reason": "other"}
        )
        assert refused.status_code == 422 and "does not take returns" in refused.text


def test_adjustment_form_credits_and_refuses_an_uncovered_debit(
    admin_web: tuple[TestClient, str], market: Marketplace
) -> None:
    web, csrf = admin_web
    provider = market.provider("Acme", balance_cents=1000)
    url = f"/console/providers/{provider['id']}"
    page = web.get(url).text
    key = page.split('action="' + url + '/adjustments"')[1]
    key = key.split('name="idempotency_key" value="')[1].split('"')[0]

    form = {
        "csrf_token": csrf,
        "amount": "-2.50",
        "reason": "goodwill back",
        "idempotency_key": key,
    }
    for _ in range(2):  # a double submit posts once
        done = web.post(f"{url}/adjustments", data=form)
        assert done.status_code == 200, done.text
        assert "Adjustment recorded; balance 7.50 dollars" in done.text
    assert market.get(f"/admin/providers/{provider['id']}")["balance_cents"] == 750

    too_much = web.post(
        f"{url}/adjustments", data={"csrf_token": csrf, "amount": "-100", "reason": "oops"}
    )
    assert too_much.status_code == 422 and "does not cover a debit" in too_much.text
    assert 'value="-100"' in too_much.text and 'value="oops"' in too_much.text
    for data in (
        {"amount": "abc", "reason": "x"},
        {"amount": "0", "reason": "x"},
        {"amount": "5", "reason": " "},
    ):
        bad = web.post(f"{url}/adjustments", data={"csrf_token": csrf, **data})
        assert bad.status_code == 422, data
    assert web.post(f"{url}/adjustments", data={"amount": "5", "reason": "x"}).status_code == 403
    credit = web.post(
        f"{url}/adjustments", data={"csrf_token": csrf, "amount": "+1", "reason": "y"}
    )
    assert "balance 8.50 dollars" in credit.text
    ledger = market.get(f"/admin/providers/{provider['id']}/ledger")["items"]
    assert sorted(e["amount_cents"] for e in ledger if e["kind"] == "adjustment") == [-250, 100]
    assert csrf_of(credit.text) == csrf
