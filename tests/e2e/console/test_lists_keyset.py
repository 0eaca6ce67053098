"""The console's long lists by keyset (besides leads and the audit log): walking older then
newer visits every row once in the list's order, ties of the position included, with the
filters kept in the links; a cursor that is no position in the list is refused."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from leadflow.db.connection import Connection
from leadflow.settings import Settings
from tests.e2e.api.conftest import Marketplace, make_client
from tests.e2e.console.conftest import console_login

_NEXT = re.compile(r'<a href="([^"]+)" rel="next">')
_PREV = re.compile(r'<a href="([^"]+)" rel="prev">')
_TIE = "2026-01-02T03:04:05.123456+00"


def _walk(
    web: TestClient, start: str, row: re.Pattern[str], link: re.Pattern[str]
) -> tuple[list[list[str]], str]:
    """The pages' row ids from ``start`` following ``link`` to the end; and the last page."""
    pages, path = [], start
    while True:
        page = web.get(path)
        assert page.status_code == 200, page.text[:300]
        pages.append(row.findall(page.text))
        found = link.search(page.text)
        if found is None:
            return pages, path
        path = html.unescape(found.group(1))


def _walk_both_ways(
    web: TestClient, start: str, row: re.Pattern[str], expected: list[str], sizes: list[int]
) -> str:
    """Older to the end, then newer back to the first page: the same pages either way."""
    older, last = _walk(web, start, row, _NEXT)
    assert [len(p) for p in older] == sizes
    assert [i for p in older for i in p] == expected
    assert f"{len(expected)} in all" in web.get(last).text
    assert "cursor=o" in last
    newer, _ = _walk(web, last, row, _PREV)
    assert newer == older[::-1]
    assert 'rel="prev"' not in web.get(start).text
    return last


_SUBSCRIPTION = re.compile(r'<select id="st-([0-9a-f-]{36})"')


def test_the_subscriptions_list_pages_by_keyset_with_its_filters(
    admin_web: tuple[TestClient, str], market: Marketplace, pool: ConnectionPool[Connection]
) -> None:
    web, _ = admin_web
    movers = market.niche("movers", levels=[("Gold", 1, 100)])
    roofers = market.niche("roofers", levels=[("Top", 1, 100)])
    with pool.connection() as conn:
        # 115 providers on the movers level (5 of them paused) and one on the roofers level.
        conn.execute(
            """
            WITH p AS (
                INSERT INTO providers (name, email)
                SELECT 'P' || i, 'p' || i || '@example.com' FROM generate_series(1, 116) i
                RETURNING id, name
            )
            INSERT INTO subscriptions (provider_id, competition_level_id, status, created_at)
            SELECT p.id,
                   CASE WHEN p.name = 'P116' THEN %(top)s::uuid ELSE %(gold)s::uuid END,
                   CASE WHEN p.name IN ('P3', 'P4', 'P5', 'P6', 'P7') THEN 'paused'
                        ELSE 'active' END,
                   now() - make_interval(secs => substr(p.name, 2)::int)
            FROM p
            """,
            {"gold": movers["levels"][0]["id"], "top": roofers["levels"][0]["id"]},
        )
        # Forty share one instant: the id breaks the tie, across a page boundary.
        conn.execute(
            """
            UPDATE subscriptions SET created_at = %s
            WHERE id IN (SELECT id FROM subscriptions ORDER BY created_at DESC, id
                         OFFSET 30 LIMIT 40)
            """,
            (_TIE,),
        )
        expected = [
            str(r["id"])
            for r in conn.execute(
                "SELECT id FROM subscriptions WHERE competition_level_id = %s"
                " AND status = 'active' ORDER BY created_at DESC, id",
                (movers["levels"][0]["id"],),
            ).fetchall()
        ]
    assert len(expected) == 110
    start = f"/console/subscriptions?status=active&niche_id={movers['id']}"
    last = _walk_both_ways(web, start, _SUBSCRIPTION, expected, [50, 50, 10])
    assert f"niche_id={movers['id']}" in last and "status=active" in last
    assert web.get("/console/subscriptions?cursor=nonsense").status_code == 422


_DELIVERY = re.compile(r'<a href="/console/deliveries/([0-9a-f-]{36})">')


def test_the_deliveries_list_pages_by_keyset_with_its_filters(
    admin_web: tuple[TestClient, str],
    market: Marketplace,
    pool: ConnectionPool[Connection],
    worker: None,
) -> None:
    web, _ = admin_web
    niche = market.niche("movers", levels=[("Gold", 2, 100)])
    gold = niche["levels"][0]["id"]
    acme = market.provider("Acme", balance_cents=10_000, levels=[gold])
    other = market.provider("Other", balance_cents=10_000, levels=[gold])
    for i in range(3):
        lead_id, _ = market.approved_lead(email=f"lead{i}@example.com")
        assert market.wait_settled(lead_id)["lead_status"] == "distributed"
    with pool.connection() as conn:
        # Each sale delivered to 40 endpoints of Acme and one of Other, as the sale writes them
        # (at its instant: 40 ties each, across the page boundaries), the endpoints inactive so
        # that no sender touches them; 4 of Acme's failed.
        conn.execute(
            """
            WITH e AS (
                INSERT INTO webhook_endpoints (provider_id, url, is_active, secret_ciphertext,
                                               created_at)
                SELECT CASE WHEN i = 41 THEN %(other)s::uuid ELSE %(acme)s::uuid END,
                       'https://hooks.example.com/' || i, false, 'x', '2020-01-01T00:00:00Z'
                FROM generate_series(1, 41) i
                RETURNING id, provider_id, url
            )
            INSERT INTO webhook_deliveries (endpoint_id, provider_id, lead_id, assignment_id,
                                            event, status, created_at)
            SELECT e.id, e.provider_id, a.lead_id, a.id, 'lead.assigned',
                   CASE WHEN split_part(e.url, '/', 4)::int <= 4 THEN 'failed'
                        ELSE 'pending' END,
                   a.assigned_at
            FROM e JOIN lead_assignments a ON a.provider_id = e.provider_id
            """,
            {"acme": acme["id"], "other": other["id"]},
        )
        expected = [
            str(r["id"])
            for r in conn.execute(
                "SELECT id FROM webhook_deliveries WHERE provider_id = %s"
                " AND status = 'pending' ORDER BY created_at DESC, id",
                (acme["id"],),
            ).fetchall()
        ]
    assert len(expected) == 108
    start = f"/console/deliveries?status=pending&provider_id={acme['id']}"
    last = _walk_both_ways(web, start, _DELIVERY, expected, [50, 50, 8])
    assert f"provider_id={acme['id']}" in last and "status=pending" in last
    assert web.get("/console/deliveries?cursor=o2026-01-02_nonsense").status_code == 422


_ENTRY = re.compile(r"<tr><td>(\d+)</td><td>")


def test_a_providers_ledger_pages_by_keyset_on_its_seq(
    admin_web: tuple[TestClient, str], market: Marketplace, pool: ConnectionPool[Connection]
) -> None:
    web, _ = admin_web
    acme = market.provider("Acme")
    other = market.provider("Other")
    for i in range(108):
        market.post(f"/admin/providers/{acme['id']}/deposits", {"amount_cents": 100 + i})
        if i % 20 == 0:  # another provider's entries between Acme's
            market.post(f"/admin/providers/{other['id']}/deposits", {"amount_cents": 5})
    with pool.connection() as conn:
        expected = [
            str(r["seq"])
            for r in conn.execute(
                "SELECT seq FROM ledger_entries WHERE provider_id = %s ORDER BY seq DESC",
                (acme["id"],),
            ).fetchall()
        ]
    assert len(expected) == 108
    start = f"/console/providers/{acme['id']}"
    _walk_both_ways(web, start, _ENTRY, expected, [50, 50, 8])
    for bad in ("nonsense", "o2026-01-02T03:04:05+00:00_x", "o-5", "x12"):
        assert web.get(f"{start}?cursor={bad}").status_code == 422, bad


def test_the_jobs_list_pages_by_keyset_on_the_job_id_with_its_filter(
    admin_web: tuple[TestClient, str], pool: ConnectionPool[Connection]
) -> None:
    web, _ = admin_web
    with pool.connection() as conn:
        # Finished jobs (no worker takes them): 108 succeeded mails, 7 dead letters between
        # them and maintenance ticks, which the list never shows.
        conn.execute(
            """
            INSERT INTO procrastinate_jobs (queue_name, task_name, args, status)
            SELECT CASE WHEN i % 10 = 0 THEN 'maintenance' ELSE 'email' END, 'deliver_mail',
                   '{}'::jsonb,
                   (CASE WHEN i % 20 = 5 THEN 'failed' ELSE 'succeeded' END)::procrastinate_job_status
            FROM generate_series(1, 127) i
            """
        )
        expected = [
            str(r["id"])
            for r in conn.execute(
                "SELECT id FROM procrastinate_jobs WHERE queue_name = 'email'"
                " AND status = 'succeeded' ORDER BY id DESC"
            ).fetchall()
        ]
    assert len(expected) == 108
    last = _walk_both_ways(web, "/console/jobs?status=succeeded", _ENTRY, expected, [50, 50, 8])
    assert "status=succeeded" in last
    assert web.get("/console/jobs?cursor=o2026-01-02T03:04:05+00:00_x").status_code == 422


_PORTAL_ENTRY = re.compile(r'<tr data-seq="(\d+)">')


def test_the_portals_ledger_pages_by_keyset_on_its_seq(
    api_settings: Settings, db_url: str, market: Marketplace, pool: ConnectionPool[Connection]
) -> None:
    acme = market.provider_login("Acme")
    other = market.provider("Other")
    for i in range(108):
        market.post(f"/admin/providers/{acme.id}/deposits", {"amount_cents": 100 + i})
        if i % 20 == 0:  # another provider's entries between Acme's
            market.post(f"/admin/providers/{other['id']}/deposits", {"amount_cents": 5})
    with pool.connection() as conn:
        expected = [
            str(r["seq"])
            for r in conn.execute(
                "SELECT seq FROM ledger_entries WHERE provider_id = %s ORDER BY seq DESC",
                (acme.id,),
            ).fetchall()
        ]
    with make_client(api_settings, db_url) as web:
        console_login(web, acme.email, acme.password)
        _walk_both_ways(web, "/portal/ledger", _PORTAL_ENTRY, expected, [50, 50, 8])
        assert web.get("/portal/ledger?cursor=nonsense").status_code == 422


_PORTAL_LEAD = re.compile(r'<a href="/portal/leads/([0-9a-f-]{36})">')


def test_the_portals_leads_page_by_keyset_through_ties(
    api_settings: Settings,
    db_url: str,
    market: Marketplace,
    pool: ConnectionPool[Connection],
    worker: None,
) -> None:
    movers = market.niche("movers", levels=[("Gold", 1, 100)])
    roofers = market.niche("roofers", levels=[("Top", 1, 100)])
    acme = market.provider_login("Acme", balance_cents=100_000, levels=[movers["levels"][0]["id"]])
    market.provider("Other", balance_cents=100_000, levels=[roofers["levels"][0]["id"]])
    sold = [market.approved_lead(email=f"lead{i}@example.com")[0] for i in range(55)]
    sold += [market.approved_lead("roofers", email=f"roof{i}@example.com")[0] for i in range(3)]
    for lead_id in sold:
        assert market.wait_settled(lead_id)["lead_status"] == "distributed"
    with pool.connection() as conn:
        # Twelve sales share one instant: the id breaks the tie, across the page boundary.
        conn.execute(
            """
            UPDATE lead_assignments SET assigned_at = %s
            WHERE id IN (SELECT id FROM lead_assignments WHERE provider_id = %s
                         ORDER BY assigned_at DESC, id OFFSET 40 LIMIT 12)
            """,
            (_TIE, acme.id),
        )
        expected = [
            str(r["id"])
            for r in conn.execute(
                "SELECT id FROM lead_assignments WHERE provider_id = %s"
                " ORDER BY assigned_at DESC, id",
                (acme.id,),
            ).fetchall()
        ]
    assert len(expected) == 55
    with make_client(api_settings, db_url) as web:
        console_login(web, acme.email, acme.password)
        _walk_both_ways(web, "/portal", _PORTAL_LEAD, expected, [50, 5])
        assert web.get("/portal?cursor=o12").status_code == 422


_RETURN = re.compile(r'data-return-id="([0-9a-f-]{36})"')


def test_the_returns_queue_and_the_portals_returns_page_by_keyset(
    api_settings: Settings,
    admin_web: tuple[TestClient, str],
    db_url: str,
    market: Marketplace,
    pool: ConnectionPool[Connection],
    worker: None,
) -> None:
    web, _ = admin_web
    movers = market.niche("movers", levels=[("Gold", 1, 100)])
    acme = market.provider_login("Acme", balance_cents=100_000, levels=[movers["levels"][0]["id"]])
    sold = [market.approved_lead(email=f"lead{i}@example.com")[0] for i in range(64)]
    for lead_id in sold:
        assert market.wait_settled(lead_id)["lead_status"] == "distributed"
    bought = market.client.get(
        "/api/v1/provider/assignments", params={"limit": 200}, headers=acme.headers
    ).json()["items"]
    for i, assignment in enumerate(bought):
        response = market.client.post(
            f"/api/v1/provider/assignments/{assignment['assignment_id']}/return",
            json={"reason": "bad_contact", "note": f"return {i}"},
            headers=acme.headers,
        )
        assert response.status_code == 201, response.text
        if i % 8 == 0:  # some decided: the queue (requested) leaves them out
            market.post(
                f"/admin/returns/{response.json()['return_id']}/deny", {"reason": "no"}, 200
            )
    with pool.connection() as conn:
        # Twenty returns share one instant: the id breaks the tie, across the page boundary.
        conn.execute(
            "UPDATE lead_returns SET created_at = %s WHERE id IN (SELECT id FROM lead_returns"
            " ORDER BY created_at DESC, id OFFSET 35 LIMIT 20)",
            (_TIE,),
        )

        def ids(where: str) -> list[str]:
            rows = conn.execute(
                f"SELECT id FROM lead_returns {where} ORDER BY created_at DESC, id"
            ).fetchall()
            return [str(r["id"]) for r in rows]

        requested, every = ids("WHERE status = 'requested'"), ids("")
    assert len(requested) == 56 and len(every) == 64
    last = _walk_both_ways(web, "/console/returns?status=requested", _RETURN, requested, [50, 6])
    assert "status=requested" in last
    # "Any status" is an empty value, not a missing one (the queue's default is requested).
    last = _walk_both_ways(web, "/console/returns?status=", _RETURN, every, [50, 14])
    assert "status=&" in last or last.endswith("status=")
    assert web.get("/console/returns?cursor=nonsense").status_code == 422
    with make_client(api_settings, db_url) as portal:
        console_login(portal, acme.email, acme.password)
        _walk_both_ways(portal, "/portal/returns", _RETURN, every, [50, 14])
