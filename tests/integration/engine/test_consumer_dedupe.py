"""``duplicate_consumer`` on a real PostgreSQL (SPEC §11): the read is index lookups, a provider
that bought the consumer in another niche is skipped, the window and 0 = off hold, and a sale
of the consumer committed after the plan's read is seen by the guard."""

from __future__ import annotations

import json
import re
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg_pool import ConnectionPool

from leadflow.db import distribution, queries
from leadflow.db.connection import Connection, transaction
from leadflow.domain.model import Actor, RunStatus, SkipReason
from leadflow.services import catalog_admin
from leadflow.services.distribution import distribute_lead, preview_distribution
from tests.support import queries as q
from tests.support.factory import ADMIN, Market, market
from tests.support.work import committed

SYSTEM = Actor.system()
Pool = ConnectionPool[Connection]
PHONE = "+12125550100"
EMAIL = "jane@example.com"


def consumer_lead(m: Market, *, phone: str | None = PHONE, email: str | None = EMAIL) -> UUID:
    lead_id = m.lead()
    with transaction(m.pool) as conn:
        conn.execute(
            "UPDATE leads SET phone_e164 = %s, email_normalized = %s WHERE id = %s",
            (phone, email, lead_id),
        )
    return lead_id


def two_niches(pool: Pool) -> tuple[Market, Market]:
    """Two niches of one Gold level (2 seats), p and q subscribed in both."""
    a = market(pool, [("Gold", 2, 1000)])
    b = market(pool, [("Gold", 2, 1000)])
    b.providers = a.providers  # the same providers, by name
    for m in (a, b):
        m.add_provider("p", balance_cents=100_000, levels=[1])
        m.add_provider("q", balance_cents=100_000, levels=[1])
    return a, b


def skips(result: Any) -> list[tuple[UUID, SkipReason]]:
    return [(s.provider_id, s.reason) for s in result.skipped]


def test_a_consumer_bought_in_one_niche_is_not_sold_to_that_provider_in_another(
    pool: Pool,
) -> None:
    a, b = two_niches(pool)
    p, qq = a.providers["p"], a.providers["q"]
    first = distribute_lead(pool, lead_id=consumer_lead(a), triggered_by=SYSTEM)
    assert {x.provider_id for x in first.assignments} == {p, qq}
    # In niche b, only r (new) may buy the consumer; p and q are skipped, email alone matches.
    b.add_provider("r", balance_cents=100_000, levels=[1])
    lead_b = consumer_lead(b, phone=None)
    with transaction(pool) as tx:
        preview = preview_distribution(tx, lead_id=lead_b)
    assert {(s.provider_id, s.reason) for s in preview.skipped} == {
        (p, SkipReason.DUPLICATE_CONSUMER),
        (qq, SkipReason.DUPLICATE_CONSUMER),
    }
    second = distribute_lead(pool, lead_id=lead_b, triggered_by=SYSTEM)
    assert [x.provider_id for x in second.assignments] == [b.providers["r"]]
    assert second.status is RunStatus.PARTIAL
    assert set(skips(second)) == {
        (p, SkipReason.DUPLICATE_CONSUMER),
        (qq, SkipReason.DUPLICATE_CONSUMER),
    }
    [run] = q.rows(pool, "SELECT skipped FROM distribution_runs WHERE lead_id = %s", lead_b)
    assert {s["reason"] for s in run["skipped"]} == {"duplicate_consumer"}
    audit = q.rows(
        pool,
        "SELECT metadata FROM audit_log WHERE action = 'distribution.skipped_provider'"
        " AND entity_id = %s",
        str(lead_b),
    )
    assert {row["metadata"]["reason"] for row in audit} == {"duplicate_consumer"}


def test_dedupe_days_zero_turns_it_off_and_the_window_ends(pool: Pool) -> None:
    a, b = two_niches(pool)
    p, qq = a.providers["p"], a.providers["q"]
    distribute_lead(pool, lead_id=consumer_lead(a), triggered_by=SYSTEM)
    committed(
        pool, catalog_admin.update_provider, actor=ADMIN, provider_id=p, changes={"dedupe_days": 0}
    )
    # q bought it 31 days ago (its window is 30): a new consumer lead for q again.
    with transaction(pool) as conn:
        conn.execute(
            "UPDATE lead_assignments SET assigned_at = now() - interval '31 days'"
            " WHERE provider_id = %s",
            (qq,),
        )
    result = distribute_lead(pool, lead_id=consumer_lead(b, email=None), triggered_by=SYSTEM)
    assert {x.provider_id for x in result.assignments} == {p, qq}
    assert result.skipped == ()


def test_a_returned_assignment_or_an_erased_lead_does_not_count(pool: Pool) -> None:
    a, b = two_niches(pool)
    first = distribute_lead(pool, lead_id=consumer_lead(a), triggered_by=SYSTEM)
    with transaction(pool) as conn:
        conn.execute(
            "UPDATE lead_assignments SET status = 'returned' WHERE lead_id = %s", (first.lead_id,)
        )
        found = distribution.consumer_buyers(conn, consumer_lead(b))
        conn.execute("ROLLBACK")
    assert found == frozenset()


def test_the_guard_sees_a_sale_of_the_consumer_committed_after_the_read(pool: Pool) -> None:
    """The plan's read found nobody; a sale of the consumer to p commits; the guarded sale must
    refuse (``plan_changed``) and the careful path skip p."""
    a, b = two_niches(pool)
    p = a.providers["p"]
    lead_a, lead_b = consumer_lead(a), consumer_lead(b)
    real = distribution.lock_and_read

    def read_then_sell_elsewhere(conn: Connection, lead_id: UUID) -> Any:
        found = real(conn, lead_id)
        if lead_id == lead_b:
            distribution.lock_and_read = real  # once
            distribute_lead(pool, lead_id=lead_a, triggered_by=SYSTEM)
        return found

    distribution.lock_and_read = read_then_sell_elsewhere  # type: ignore[assignment]
    try:
        result = distribute_lead(pool, lead_id=lead_b, triggered_by=SYSTEM)
    finally:
        distribution.lock_and_read = real  # type: ignore[assignment]
    assert p not in {x.provider_id for x in result.assignments}
    assert (p, SkipReason.DUPLICATE_CONSUMER) in skips(result)


def _generic_plan(conn: Connection, statement: str, params: list[Any]) -> Any:
    numbered = iter(range(1, 100))
    names: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names[match.group(1)] = next(numbered)
        return f"${names[match.group(1)]}"

    text = re.sub(r"%\((\w+)\)s", number, statement)
    conn.execute("SET plan_cache_mode = force_generic_plan")
    conn.execute(f"PREPARE consumer_q(uuid, uuid[]) AS {text}")  # type: ignore[arg-type]
    explain = sql.SQL("EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE consumer_q({}, {})")
    rows = conn.execute(explain.format(*map(sql.Literal, params))).fetchall()
    conn.execute("DEALLOCATE consumer_q")
    return rows[0]["QUERY PLAN"]


def _nodes(plan: Any) -> list[dict[str, Any]]:
    found = [plan]
    for child in plan.get("Plans", []):
        found += _nodes(child)
    return found


def test_the_read_is_index_lookups_not_a_scan(pool: Pool) -> None:
    a, b = two_niches(pool)
    p = a.providers["p"]
    distribute_lead(pool, lead_id=consumer_lead(a), triggered_by=SYSTEM)
    lead_b = consumer_lead(b)
    r = b.add_provider("r", balance_cents=0)
    statements = {
        "consumer_buyers": (queries.load("distribution.sql")["consumer_buyers"], [lead_b, None]),
        "guard_consumer": (queries.load("sale.sql")["guard_consumer"], [lead_b, [r]]),
    }
    sub = a.subscriptions[("p", 1)]
    with pool.connection() as conn:
        # A few thousand leads of other consumers, each sold to p: rolled back at the end.
        conn.execute(
            """
            WITH l AS (
                INSERT INTO leads (niche_id, name, email, phone, postal_code, status,
                                   phone_e164, email_normalized)
                SELECT %(niche)s, 'x', 'l' || g || '@x.test', '+1', '10001', 'distributed',
                       '+1999' || lpad(g::text, 7, '0'), 'l' || g || '@x.test'
                FROM generate_series(1, 4000) g
                RETURNING id
            ), r AS (
                INSERT INTO distribution_runs (lead_id, niche_id, triggered_by_role, status)
                SELECT id, %(niche)s, 'system', 'success' FROM l
                RETURNING id, lead_id
            )
            INSERT INTO lead_assignments (lead_id, provider_id, subscription_id,
                                          competition_level_id, distribution_run_id,
                                          price_charged_cents)
            SELECT r.lead_id, %(p)s, %(sub)s, %(level)s, r.id, 1000 FROM r
            """,
            {"niche": a.niche.id, "p": p, "sub": sub, "level": a.level(1).id},
        )
        conn.execute("ANALYZE leads")
        conn.execute("ANALYZE lead_assignments")
        for name, (statement, params) in statements.items():
            [plan] = _generic_plan(conn, statement, params)
            nodes = _nodes(plan["Plan"])
            scans = {(n["Node Type"], n.get("Relation Name")) for n in nodes}
            seq = {s for s in scans if s[0] == "Seq Scan" and s[1] != "providers"}
            assert not seq, (name, json.dumps(plan))
            on_leads = {n.get("Index Name") for n in nodes if n.get("Relation Name") == "leads"}
            assert {
                "ix_leads_phone_e164_niche_id_created_at",
                "ix_leads_email_normalized_niche_id_created_at",
            } <= on_leads, (name, on_leads)
            assert max(n.get("Actual Rows", 0) for n in nodes) < 10, (name, json.dumps(plan))
        conn.rollback()
