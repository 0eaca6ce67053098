"""The console's leads list by keyset: walking older then newer visits every lead once in the
list's order, ties of ``created_at`` included, with the filters kept in the links."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from leadflow.db.connection import Connection
from tests.e2e.api.conftest import Marketplace

_ROW = re.compile(r'<a href="/console/leads/([0-9a-f-]{36})">')
_NEXT = re.compile(r'<a href="([^"]+)" rel="next">')
_PREV = re.compile(r'<a href="([^"]+)" rel="prev">')


def _walk(web: TestClient, start: str, link: re.Pattern[str]) -> tuple[list[list[str]], str]:
    """The pages' lead ids from ``start`` following ``link`` to the end; and the last page."""
    pages, path = [], start
    while True:
        page = web.get(path)
        assert page.status_code == 200, page.text[:300]
        pages.append(_ROW.findall(page.text))
        found = link.search(page.text)
        if found is None:
            return pages, path
        path = html.unescape(found.group(1))


def test_the_leads_list_pages_by_keyset_through_ties(
    admin_web: tuple[TestClient, str], market: Marketplace, pool: ConnectionPool[Connection]
) -> None:
    web, _ = admin_web
    market.niche("movers", levels=[("Gold", 1, 100)])
    market.niche("roofers", levels=[("Top", 1, 100)])
    for i in range(115):
        market.lead(email=f"lead{i}@example.com", phone=f"+1 212 555 {i:04d}")
    market.lead("roofers")
    with pool.connection() as conn:
        # Forty leads share one instant: the id breaks the tie, across a page boundary.
        conn.execute(
            """
            UPDATE leads SET created_at = '2026-01-02T03:04:05.123456+00'
            WHERE id IN (SELECT id FROM leads ORDER BY created_at DESC, id OFFSET 30 LIMIT 40)
            """
        )
        expected = [
            str(r["id"])
            for r in conn.execute(
                "SELECT l.id FROM leads l JOIN niches n ON n.id = l.niche_id "
                "WHERE n.slug = 'movers' ORDER BY l.created_at DESC, l.id"
            ).fetchall()
        ]
    niche_id = market.niches["movers"]["id"]

    older, last = _walk(web, f"/console/leads?niche_id={niche_id}", _NEXT)
    assert [len(p) for p in older] == [50, 50, 15]
    assert [i for p in older for i in p] == expected
    assert "115 in all" in web.get(last).text
    assert f"niche_id={niche_id}" in last and "cursor=o" in last

    newer, _ = _walk(web, last, _PREV)
    assert newer == older[::-1]
    first = web.get(f"/console/leads?niche_id={niche_id}").text
    assert 'rel="prev"' not in first
    assert web.get("/console/leads?cursor=nonsense").status_code == 422


_AUDIT_ROW = re.compile(r'data-audit-id="([0-9a-f-]{36})"')


def test_the_audit_log_pages_by_keyset_with_its_filters(
    admin_web: tuple[TestClient, str], market: Marketplace, pool: ConnectionPool[Connection]
) -> None:
    web, _ = admin_web
    market.niche("movers", levels=[("Gold", 1, 100)])
    for i in range(60):
        market.post("/admin/providers", {"name": f"P{i}", "email": f"p{i}@example.com"})
    with pool.connection() as conn:
        # Twenty entries share one instant, across the first page boundary.
        conn.execute(
            """
            UPDATE audit_log SET at = '2026-01-02T03:04:05.123456+00'
            WHERE id IN (SELECT id FROM audit_log WHERE action = 'provider.created'
                         ORDER BY at DESC, id OFFSET 40 LIMIT 20)
            """
        )
        expected = [
            str(r["id"])
            for r in conn.execute(
                "SELECT id FROM audit_log WHERE action = 'provider.created' ORDER BY at DESC, id"
            ).fetchall()
        ]
    start = "/console/audit?action=provider.created"
    pages, path = [], start
    while True:
        page = web.get(path)
        assert page.status_code == 200, page.text[:300]
        pages.append(_AUDIT_ROW.findall(page.text))
        found = _NEXT.search(page.text)
        if found is None:
            break
        path = html.unescape(found.group(1))
    assert [len(p) for p in pages] == [50, 10]
    assert [i for p in pages for i in p] == expected
    assert "action=provider.created" in path and "60 in all" in web.get(path).text
    back = _PREV.search(web.get(path).text)
    assert back is not None
    assert _AUDIT_ROW.findall(web.get(html.unescape(back.group(1))).text) == pages[0]
