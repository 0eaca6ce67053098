"""Returns, refunds and adjustments through the real API (SPEC §9)."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg.rows import dict_row

from leadflow.db.connection import create_pool
from leadflow.domain.model import Actor
from leadflow.services import dispatch
from leadflow.services.distribution import distribute_lead
from leadflow.settings import Settings
from tests.e2e.api.conftest import Marketplace, ProviderLogin, make_client
from tests.e2e.api.test_bad_input import _snapshot
from tests.e2e.worker.conftest import sample


def test_niche_carries_its_return_settings(market: Marketplace) -> None:
    niche = market.post("/admin/niches", {"slug": "movers", "name": "Movers"})
    assert niche["return_window_hours"] == 72
    assert niche["return_reasons"] == [
        "bad_contact",
        "duplicate",
        "out_of_area",
        "not_interested",
        "other",
    ]
    assert niche["auto_approve_returns_under_rate"] is None
    assert niche["resell_returned"] is False

    changed = market.client.patch(
        f"/api/v1/admin/niches/{niche['id']}",
        json={
            "return_window_hours": 24,
            "return_reasons": ["bad_contact", "other"],
            "auto_approve_returns_under_rate": 0.1,
            "resell_returned": True,
        },
        headers=market.admin.headers,
    )
    assert changed.status_code == 200, changed.text
    got = market.get(f"/admin/niches/{niche['id']}")
    assert (got["return_window_hours"], got["return_reasons"]) == (24, ["bad_contact", "other"])
    assert (got["auto_approve_returns_under_rate"], got["resell_returned"]) == (0.1, True)

    off = market.client.patch(
        f"/api/v1/admin/niches/{niche['id']}",
        json={"auto_approve_returns_under_rate": None},
        headers=market.admin.headers,
    )
    assert off.json()["auto_approve_returns_under_rate"] is None


def test_adjustments_credit_debit_and_replay(market: Marketplace) -> None:
    niche = market.niche(levels=[("Gold", 1, 1000)])
    provider = market.provider("Acme", balance_cents=1500, levels=[niche["levels"][0]["id"]])
    path = f"/api/v1/admin/providers/{provider['id']}/adjustments"
    headers = market.admin.headers

    debit = market.client.post(
        path, json={"amount_cents": -800, "reason": "double deposit"}, headers=headers
    )
    assert debit.status_code == 201, debit.text
    assert debit.json()["balance_cents"] == 700
    assert debit.json()["ledger_entry"]["kind"] == "adjustment"
    assert debit.json()["ledger_entry"]["note"] == "double deposit"

    body = {"amount_cents": 500, "reason": "goodwill", "idempotency_key": "gw-1"}
    first = market.client.post(path, json=body, headers=headers)
    again = market.client.post(path, json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["ledger_entry_id"] == again.json()["ledger_entry_id"]
    assert again.json()["balance_cents"] == 1200

    overdraft = market.client.post(
        path, json={"amount_cents": -1201, "reason": "too much"}, headers=headers
    )
    assert overdraft.status_code == 409
    assert overdraft.headers["content-type"] == "application/problem+json"
    assert market.get(f"/admin/providers/{provider['id']}")["balance_cents"] == 1200

    ledger = market.get(f"/admin/providers/{provider['id']}/ledger")
    assert [e["kind"] for e in ledger["items"]] == ["adjustment", "adjustment", "deposit"]
    actions = [row["action"] for row in market.get("/admin/audit-log")["items"]]
    assert actions.count("provider.adjustment") == 2


def test_a_credit_adjustment_resumes_a_subscription_paused_for_low_balance(
    market: Marketplace,
) -> None:
    niche = market.niche(levels=[("Gold", 1, 1000)])
    provider = market.provider("Acme", balance_cents=500, levels=[niche["levels"][0]["id"]])
    assert provider["subscriptions"][0]["status"] == "paused_low_balance"
    market.post(
        f"/admin/providers/{provider['id']}/adjustments", {"amount_cents": 500, "reason": "promo"}
    )
    detail = market.get(f"/admin/providers/{provider['id']}")
    assert detail["subscriptions"][0]["status"] == "active"


def _sell(market: Marketplace, db_url: str) -> str:
    """An approved lead of "movers", distributed now (no worker in these tests); its lead id."""
    lead_id, _ = market.approved_lead()
    pool = create_pool(db_url, Settings(_env_file=None), max_size=1)  # type: ignore[call-arg]
    try:
        distribute_lead(pool, lead_id=UUID(lead_id), triggered_by=Actor.system())
    finally:
        pool.close()
    return lead_id


def _dispatch(db_url: str) -> None:
    pool = create_pool(db_url, Settings(_env_file=None), max_size=1)  # type: ignore[call-arg]
    try:
        dispatch.dispatch_due(pool, retry_delays=[0])
    finally:
        pool.close()


def _mails(db_url: str, template: str) -> list[dict[str, Any]]:
    with psycopg.connect(db_url, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT to_address, subject, body_text FROM email_outbox WHERE template = %s",
            (template,),
        ).fetchall()


@dataclass
class Sold:
    provider: ProviderLogin
    assignment_id: str
    lead_id: str


@pytest.fixture
def sold(market: Marketplace, db_url: str) -> Sold:
    """Acme (balance = one lead's price) bought one lead of "movers"; its subscription is now
    paused for low balance."""
    niche = market.niche(levels=[("Gold", 1, 1000)])
    acme = market.provider_login("Acme", balance_cents=1000, levels=[niche["levels"][0]["id"]])
    lead_id = _sell(market, db_url)
    [assignment] = market.get(f"/admin/leads/{lead_id}/assignments")["items"]
    assert assignment["provider_id"] == acme.id
    detail = market.get(f"/admin/providers/{acme.id}")
    assert (detail["balance_cents"], detail["subscriptions"][0]["status"]) == (
        0,
        "paused_low_balance",
    )
    return Sold(acme, assignment["assignment_id"], lead_id)


def _request(market: Marketplace, sold: Sold, **body: Any) -> Any:
    return market.client.post(
        f"/api/v1/provider/assignments/{sold.assignment_id}/return",
        json={"reason": "bad_contact", **body},
        headers=sold.provider.headers,
    )


def test_request_then_approve_refunds_resumes_and_mails(
    market: Marketplace, sold: Sold, db_url: str
) -> None:
    requested = _request(market, sold, note="number disconnected")
    assert requested.status_code == 201, requested.text
    assert requested.json()["status"] == "requested"
    return_id = requested.json()["return_id"]

    queue = market.get("/admin/returns", status="requested")
    assert [r["id"] for r in queue["items"]] == [return_id]
    assert queue["items"][0]["note"] == "number disconnected"

    approved = market.post(f"/admin/returns/{return_id}/approve", {}, expect=200)
    assert approved["status"] == "approved"
    assert (approved["refund_cents"], approved["balance_cents"]) == (1000, 1000)

    detail = market.get(f"/admin/providers/{sold.provider.id}")
    assert detail["balance_cents"] == 1000
    assert detail["subscriptions"][0]["status"] == "active"
    [assignment] = market.get(f"/admin/leads/{sold.lead_id}/assignments")["items"]
    assert assignment["status"] == "returned"
    ledger = market.get(f"/admin/providers/{sold.provider.id}/ledger")["items"]
    assert [(e["kind"], e["amount_cents"]) for e in ledger][:2] == [
        ("refund", 1000),
        ("lead_charge", -1000),
    ]
    assert ledger[0]["assignment_id"] == sold.assignment_id
    own = market.client.get("/api/v1/provider/returns", headers=sold.provider.headers).json()
    assert [(r["status"], r["refund_cents"]) for r in own["items"]] == [("approved", 1000)]
    actions = {row["action"] for row in market.get("/admin/audit-log")["items"]}
    assert {"return.requested", "return.approved"} <= actions

    scraped = market.client.get("/metrics").text
    assert sample(scraped, "returns_total", status="requested") == 1
    assert sample(scraped, "returns_total", status="approved") == 1
    assert sample(scraped, "refunds_cents_total") == 1000

    _dispatch(db_url)
    [mail] = _mails(db_url, "return_decided")
    assert mail["to_address"] == sold.provider.email
    assert "approved" in mail["subject"]
    assert "$10.00" in mail["body_text"]


def test_deny_keeps_the_money_and_tells_why(market: Marketplace, sold: Sold, db_url: str) -> None:
    return_id = _request(market, sold).json()["return_id"]
    denied = market.post(
        f"/admin/returns/{return_id}/deny", {"reason": "the number works"}, expect=200
    )
    assert (denied["status"], denied["decision_reason"], denied["refund_cents"]) == (
        "denied",
        "the number works",
        None,
    )
    assert market.get(f"/admin/providers/{sold.provider.id}")["balance_cents"] == 0
    [assignment] = market.get(f"/admin/leads/{sold.lead_id}/assignments")["items"]
    assert assignment["status"] == "active"
    again = market.client.post(
        f"/api/v1/admin/returns/{return_id}/approve", headers=market.admin.headers
    )
    assert again.status_code == 409
    _dispatch(db_url)
    [mail] = _mails(db_url, "return_decided")
    assert "denied" in mail["subject"] and "the number works" in mail["body_text"]


def test_auto_approval_under_the_niche_rate(market: Marketplace, sold: Sold) -> None:
    niche = market.niches["movers"]
    market.client.patch(
        f"/api/v1/admin/niches/{niche['id']}",
        json={"auto_approve_returns_under_rate": 0.5},
        headers=market.admin.headers,
    )
    requested = _request(market, sold)
    assert requested.status_code == 201, requested.text
    assert requested.json()["status"] == "approved"
    view = market.get(f"/admin/returns/{requested.json()['return_id']}")
    assert (view["decided_by_role"], view["refund_cents"]) == ("system", 1000)
    assert market.get(f"/admin/providers/{sold.provider.id}")["balance_cents"] == 1000


def test_auto_approval_stops_at_the_rate(market: Marketplace, db_url: str) -> None:
    niche = market.niche(levels=[("Gold", 1, 100)], auto_approve_returns_under_rate=0.5)
    acme = market.provider_login("Acme", balance_cents=1000, levels=[niche["levels"][0]["id"]])
    leads = [_sell(market, db_url) for _ in range(2)]
    statuses = []
    for lead_id in leads:
        [assignment] = market.get(f"/admin/leads/{lead_id}/assignments")["items"]
        response = market.client.post(
            f"/api/v1/provider/assignments/{assignment['assignment_id']}/return",
            json={"reason": "other"},
            headers=acme.headers,
        )
        statuses.append(response.json()["status"])
    # 0 approved of 2 sold is under half: approved; then 1 of 2 is not: left to an admin.
    assert statuses == ["approved", "requested"]


def test_two_admins_deciding_at_once_give_one_decision(
    market: Marketplace, sold: Sold, api_settings: Settings, db_url: str
) -> None:
    return_id = _request(market, sold).json()["return_id"]
    barrier = threading.Barrier(2)

    def decide(path: str, body: dict[str, Any]) -> int:
        with make_client(api_settings, db_url) as other:
            barrier.wait()
            return other.post(path, json=body, headers=market.admin.headers).status_code

    with ThreadPoolExecutor(2) as pool:
        approve = pool.submit(decide, f"/api/v1/admin/returns/{return_id}/approve", {})
        deny = pool.submit(decide, f"/api/v1/admin/returns/{return_id}/deny", {"reason": "no"})
        codes = sorted([approve.result(), deny.result()])
    assert codes == [200, 409]
    view = market.get(f"/admin/returns/{return_id}")
    balance = market.get(f"/admin/providers/{sold.provider.id}")["balance_cents"]
    assert (view["status"], balance) in {("approved", 1000), ("denied", 0)}


def test_two_approvals_at_once_refund_once(
    market: Marketplace, sold: Sold, api_settings: Settings, db_url: str
) -> None:
    return_id = _request(market, sold).json()["return_id"]
    barrier = threading.Barrier(2)

    def approve() -> int:
        with make_client(api_settings, db_url) as other:
            barrier.wait()
            return other.post(
                f"/api/v1/admin/returns/{return_id}/approve", headers=market.admin.headers
            ).status_code

    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(lambda _: approve(), range(2)))
    assert codes == [200, 409]
    assert market.get(f"/admin/providers/{sold.provider.id}")["balance_cents"] == 1000
    ledger = market.get(f"/admin/providers/{sold.provider.id}/ledger")["items"]
    assert [e["kind"] for e in ledger].count("refund") == 1


def _assignment_of(market: Marketplace, lead_id: str, provider_id: str) -> str:
    items = market.get(f"/admin/leads/{lead_id}/assignments")["items"]
    return str(next(a["assignment_id"] for a in items if a["provider_id"] == provider_id))


def test_bad_return_requests_and_decisions_get_a_problem_and_change_nothing(
    market: Marketplace, db_url: str
) -> None:
    niche = market.niche(levels=[("Gold", 2, 100)])
    closed = market.niche("closed", levels=[("Gold", 1, 100)], return_window_hours=0)
    level = niche["levels"][0]["id"]
    acme = market.provider_login("Acme", balance_cents=10_000, levels=[level])
    bolt = market.provider_login("Bolt", balance_cents=10_000, levels=[level])
    market.post(
        "/admin/subscriptions",
        {"provider_id": acme.id, "competition_level_id": closed["levels"][0]["id"]},
    )
    sold = [_sell(market, db_url) for _ in range(3)]
    pending, returned, old = (_assignment_of(market, lead, acme.id) for lead in sold)
    bolts = _assignment_of(market, sold[0], bolt.id)
    closed_lead, _ = market.approved_lead("closed")
    pool = create_pool(db_url, Settings(_env_file=None), max_size=1)  # type: ignore[call-arg]
    try:
        distribute_lead(pool, lead_id=UUID(closed_lead), triggered_by=Actor.system())
    finally:
        pool.close()
    no_window = _assignment_of(market, closed_lead, acme.id)

    def ask(assignment_id: str, reason: str = "bad_contact") -> Any:
        return market.client.post(
            f"/api/v1/provider/assignments/{assignment_id}/return",
            json={"reason": reason},
            headers=acme.headers,
        )

    pending_return = ask(pending).json()["return_id"]
    decided_return = ask(returned).json()["return_id"]
    market.post(f"/admin/returns/{decided_return}/approve", {}, expect=200)
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "UPDATE lead_assignments SET assigned_at = now() - interval '73 hours' WHERE id = %s",
            (old,),
        )

    provider = "/api/v1/provider/assignments/{}/return"
    admin = "/api/v1/admin/returns/{}"
    cases: list[tuple[str, str, str, Any, int, dict[str, str]]] = [
        ("unknown reason", "POST", provider.format(pending), {"reason": "meh"}, 422, acme.headers),
        ("empty reason", "POST", provider.format(old), {"reason": ""}, 422, acme.headers),
        ("no reason", "POST", provider.format(old), {}, 422, acme.headers),
        (
            "NUL in note",
            "POST",
            provider.format(old),
            {"reason": "other", "note": "a\x00"},
            422,
            acme.headers,
        ),
        (
            "outside the window",
            "POST",
            provider.format(old),
            {"reason": "other"},
            409,
            acme.headers,
        ),
        ("window 0", "POST", provider.format(no_window), {"reason": "other"}, 409, acme.headers),
        (
            "second request",
            "POST",
            provider.format(pending),
            {"reason": "other"},
            409,
            acme.headers,
        ),
        (
            "another provider's",
            "POST",
            provider.format(bolts),
            {"reason": "other"},
            404,
            acme.headers,
        ),
        (
            "already returned",
            "POST",
            provider.format(returned),
            {"reason": "other"},
            409,
            acme.headers,
        ),
        (
            "unknown assignment",
            "POST",
            provider.format(UUID(int=0)),
            {"reason": "other"},
            404,
            acme.headers,
        ),
        (
            "malformed assignment",
            "POST",
            provider.format("x"),
            {"reason": "other"},
            404,
            acme.headers,
        ),
        (
            "approve decided",
            "POST",
            admin.format(decided_return) + "/approve",
            None,
            409,
            market.admin.headers,
        ),
        (
            "deny decided",
            "POST",
            admin.format(decided_return) + "/deny",
            {"reason": "no"},
            409,
            market.admin.headers,
        ),
        (
            "deny without reason",
            "POST",
            admin.format(pending_return) + "/deny",
            {},
            422,
            market.admin.headers,
        ),
        (
            "deny blank reason",
            "POST",
            admin.format(pending_return) + "/deny",
            {"reason": " "},
            422,
            market.admin.headers,
        ),
        (
            "approve unknown",
            "POST",
            admin.format(UUID(int=0)) + "/approve",
            None,
            404,
            market.admin.headers,
        ),
        (
            "approve malformed",
            "POST",
            admin.format("x") + "/approve",
            None,
            404,
            market.admin.headers,
        ),
        (
            "list: unknown status",
            "GET",
            "/api/v1/admin/returns?status=lost",
            None,
            422,
            market.admin.headers,
        ),
        (
            "list: limit 201",
            "GET",
            "/api/v1/admin/returns?limit=201",
            None,
            422,
            market.admin.headers,
        ),
        (
            "own list: unknown status",
            "GET",
            "/api/v1/provider/returns?status=x",
            None,
            422,
            acme.headers,
        ),
        (
            "another provider's return",
            "GET",
            f"/api/v1/provider/returns/{pending_return}",
            None,
            404,
            bolt.headers,
        ),
        (
            "provider approves",
            "POST",
            admin.format(pending_return) + "/approve",
            None,
            403,
            acme.headers,
        ),
        (
            "admin files a return",
            "POST",
            provider.format(old),
            {"reason": "other"},
            403,
            market.admin.headers,
        ),
    ]
    before = _snapshot(db_url)
    failures = []
    for name, method, path, body, want, headers in cases:
        response = market.client.request(method, path, json=body, headers=headers)
        if response.status_code != want:
            failures.append(f"{name}: {response.status_code} (want {want}) {response.text[:200]}")
        elif response.headers.get("content-type") != "application/problem+json":
            failures.append(f"{name}: content-type {response.headers.get('content-type')}")
        elif not response.json().get("detail"):
            failures.append(f"{name}: no detail")
        after = _snapshot(db_url)
        if after != before:
            failures.append(f"{name}: changed {sorted(t for t in after if after[t] != before[t])}")
            before = after
    assert failures == []


def test_cli_lists_and_decides_returns(market: Marketplace, sold: Sold, db_url: str) -> None:
    from tests.e2e.api.test_cli import leadflow

    return_id = _request(market, sold).json()["return_id"]
    listed = leadflow(db_url, "returns", "list")
    assert listed.returncode == 0, listed.stderr
    [line] = listed.stdout.splitlines()
    assert json.loads(line)["id"] == return_id

    approved = leadflow(db_url, "returns", "approve", return_id, "--operator", "pat")
    assert approved.returncode == 0, approved.stderr
    assert json.loads(approved.stdout)["balance_cents"] == 1000
    again = leadflow(db_url, "returns", "deny", return_id, "--reason", "late")
    assert again.returncode == 1
    assert "already approved" in again.stderr
    view = market.get(f"/admin/returns/{return_id}")
    assert (view["status"], view["decided_by"]) == ("approved", "cli:pat")


def _runs(db_url: str, lead_id: str) -> list[dict[str, Any]]:
    with psycopg.connect(db_url, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT trigger, status, assignments_created FROM distribution_runs "
            "WHERE lead_id = %s ORDER BY started_at",
            (lead_id,),
        ).fetchall()


@pytest.mark.usefixtures("worker")
def test_resale_sells_a_returned_lead_once_more_to_a_new_provider_only(
    market: Marketplace, db_url: str
) -> None:
    niche = market.niche(levels=[("Gold", 1, 1000)], resell_returned=True)
    level = niche["levels"][0]["id"]
    buyers = {
        p.id: p
        for p in (
            market.provider_login(name, balance_cents=5000, levels=[level])
            for name in ("Acme", "Bolt", "Cora")
        )
    }
    lead_id, _ = market.approved_lead()
    assert market.wait_settled(lead_id)["lead_status"] == "distributed"

    def return_and_approve() -> tuple[str, dict[str, Any]]:
        [active] = [
            a
            for a in market.get(f"/admin/leads/{lead_id}/assignments")["items"]
            if a["status"] == "active"
        ]
        owner = buyers[active["provider_id"]]
        response = market.client.post(
            f"/api/v1/provider/assignments/{active['assignment_id']}/return",
            json={"reason": "duplicate"},
            headers=owner.headers,
        )
        assert response.status_code == 201, response.text
        decision = market.post(
            f"/admin/returns/{response.json()['return_id']}/approve", {}, expect=200
        )
        return owner.id, decision

    first_buyer, _ = return_and_approve()
    assert market.wait_settled(lead_id)["lead_status"] == "distributed"
    sales = market.get(f"/admin/leads/{lead_id}/assignments")["items"]
    assert len(sales) == 2
    resold = next(a for a in sales if a["status"] == "active")
    assert resold["provider_id"] != first_buyer
    assert [(r["trigger"], r["assignments_created"]) for r in _runs(db_url, lead_id)] == [
        ("distribution", 1),
        ("resale", 1),
    ]

    # The resale's buyer returns it too: refunded, but the lead is not sold a third time.
    second_buyer, _ = return_and_approve()
    assert second_buyer == resold["provider_id"]
    assert market.get(f"/admin/leads/{lead_id}")["status"] == "distributed"
    assert len(_runs(db_url, lead_id)) == 2
    assert {a["status"] for a in market.get(f"/admin/leads/{lead_id}/assignments")["items"]} == {
        "returned"
    }


def test_resale_without_a_new_buyer_leaves_the_lead_approved(
    market: Marketplace, db_url: str
) -> None:
    niche = market.niche(levels=[("Gold", 1, 1000)], resell_returned=True)
    acme = market.provider_login("Acme", balance_cents=5000, levels=[niche["levels"][0]["id"]])
    lead_id = _sell(market, db_url)
    [sale] = market.get(f"/admin/leads/{lead_id}/assignments")["items"]
    response = market.client.post(
        f"/api/v1/provider/assignments/{sale['assignment_id']}/return",
        json={"reason": "duplicate"},
        headers=acme.headers,
    )
    market.post(f"/admin/returns/{response.json()['return_id']}/approve", {}, expect=200)
    assert market.get(f"/admin/leads/{lead_id}")["status"] == "approved"
    pool = create_pool(db_url, Settings(_env_file=None), max_size=1)  # type: ignore[call-arg]
    try:
        result = distribute_lead(pool, lead_id=UUID(lead_id), triggered_by=Actor.system())
    finally:
        pool.close()
    assert result.assignments == ()
    assert [s.reason for s in result.skipped] == ["duplicate"]
    assert _runs(db_url, lead_id)[-1] == {
        "trigger": "resale",
        "status": "no_eligible",
        "assignments_created": 0,
    }
    assert market.get(f"/admin/leads/{lead_id}")["status"] == "approved"
