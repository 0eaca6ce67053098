"""Eligibility rules, caps, skip limits and the failure path of the engine on PostgreSQL."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from leadflow.db.connection import Connection
from leadflow.domain.model import Actor, RunStatus, SkipReason
from leadflow.services.distribution import distribute_lead
from tests.support import queries
from tests.support.factory import Market, market

SYSTEM = Actor.system()
Pool = ConnectionPool[Connection]


def distribute(m: Market, lead_id: Any) -> Any:
    return distribute_lead(m.pool, lead_id=lead_id, triggered_by=SYSTEM)


def sold(m: Market, result: Any) -> list[str]:
    return sorted(m.name_of(a.provider_id) for a in result.assignments)


def test_postal_codes_select_candidates_case_and_space_insensitively(pool: Pool) -> None:
    m = market(pool, [("Gold", 5, 100)])
    m.add_provider("london", balance_cents=10_000, levels=[1], postal_codes=["sw1a 1aa", "EC1A1BB"])
    m.add_provider("everywhere", balance_cents=10_000, levels=[1])
    m.add_provider("paris", balance_cents=10_000, levels=[1], postal_codes=["75001"])

    result = distribute(m, m.lead(postal_code=" SW1A 1AA"))

    assert sold(m, result) == ["everywhere", "london"]
    assert result.skipped == ()  # a subscription that does not match is no candidate at all


def test_attribute_filters_match_and_unevaluable_rules_skip_with_eligibility_error(
    pool: Pool,
) -> None:
    m = market(pool, [("Gold", 5, 100)])
    m.add_provider(
        "big-moves",
        balance_cents=10_000,
        levels=[1],
        filters=[{"field": "rooms", "op": "gte", "value": 3}],
    )
    m.add_provider(
        "small-moves",
        balance_cents=10_000,
        levels=[1],
        filters=[{"field": "rooms", "op": "lte", "value": 2}],
    )
    m.add_provider(
        "typed",
        balance_cents=10_000,
        levels=[1],
        filters=[{"field": "kind", "op": "in", "value": ["home", "office"]}],
    )

    numeric = distribute(m, m.lead(attributes={"rooms": 4, "kind": "home"}))
    textual = distribute(m, m.lead(attributes={"rooms": "four", "kind": "office"}))
    missing = distribute(m, m.lead(attributes={}))

    assert sold(m, numeric) == ["big-moves", "typed"]
    assert sold(m, textual) == ["typed"]
    assert sorted((m.name_of(s.provider_id), s.reason) for s in textual.skipped) == [
        ("big-moves", SkipReason.ELIGIBILITY_ERROR),
        ("small-moves", SkipReason.ELIGIBILITY_ERROR),
    ]
    assert missing.status is RunStatus.NO_ELIGIBLE
    assert missing.skipped == ()


def test_daily_cap_skips_with_cap_reached_and_the_next_candidate_sells(pool: Pool) -> None:
    m = market(pool, [("Gold", 1, 100)])
    m.add_provider("capped", balance_cents=10_000, levels=[1], daily_cap=1)
    m.add_provider("open", balance_cents=10_000, levels=[1])

    results = [distribute(m, m.lead()) for _ in range(4)]

    names = [m.name_of(r.assignments[0].provider_id) for r in results]
    assert names.count("capped") == 1
    assert names.count("open") == 3
    reasons = [(m.name_of(s.provider_id), s.reason) for r in results for s in r.skipped]
    assert ("capped", SkipReason.CAP_REACHED) in reasons
    assert {reason for _, reason in reasons} == {SkipReason.CAP_REACHED}


def test_monthly_cap_counts_the_whole_month(pool: Pool) -> None:
    m = market(pool, [("Gold", 1, 100)])
    m.add_provider("capped", balance_cents=10_000, levels=[1], monthly_cap=2)

    results = [distribute(m, m.lead()) for _ in range(3)]

    assert [r.status for r in results] == [
        RunStatus.SUCCESS,
        RunStatus.SUCCESS,
        RunStatus.NO_ELIGIBLE,
    ]
    assert results[2].skipped[0].reason is SkipReason.CAP_REACHED


def test_a_run_stores_at_most_100_skips_and_counts_the_rest(pool: Pool) -> None:
    m = market(pool, [("Gold", 1, 100)])
    with pool.connection() as conn:
        # 130 subscriptions whose filter cannot be evaluated against the lead (set-based setup).
        conn.execute(
            """
            WITH p AS (
                INSERT INTO providers (name, email) SELECT 'p' || g, 'p' || g || '@example.com'
                FROM generate_series(1, 130) g RETURNING id
            )
            INSERT INTO subscriptions (provider_id, competition_level_id, filters)
            SELECT id, %s, '[{"field": "rooms", "op": "gte", "value": 1}]' FROM p
            """,
            (m.level(1).id,),
        )

    result = distribute(m, m.lead(attributes={"rooms": "many"}))

    assert result.skipped_total == 130
    run = queries.one(
        pool, "SELECT jsonb_array_length(skipped) AS stored, skipped_total FROM distribution_runs"
    )
    assert run == {"stored": 100, "skipped_total": 130}
    audits = queries.one(
        pool, "SELECT count(*) AS n FROM audit_log WHERE action = 'distribution.skipped_provider'"
    )
    assert audits["n"] == 100


def test_a_failed_attempt_rolls_back_then_records_the_failed_run_and_attempt(pool: Pool) -> None:
    m = market(pool)
    for i in range(3):
        m.add_provider(f"p{i}", balance_cents=100_000, levels=[1, 2, 3])
    lead_id = m.lead()
    with pool.connection() as conn:
        conn.execute(
            """
            CREATE FUNCTION fail_assignment() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'injected failure'; END $$;
            CREATE TRIGGER fail_assignment BEFORE INSERT ON lead_assignments
            FOR EACH ROW EXECUTE FUNCTION fail_assignment();
            """
        )
    balances = queries.rows(pool, "SELECT id, balance_cents FROM providers ORDER BY id")

    with pytest.raises(psycopg.errors.RaiseException):
        distribute(m, lead_id)

    assert queries.rows(pool, "SELECT id, balance_cents FROM providers ORDER BY id") == balances
    assert queries.rows(pool, "SELECT * FROM lead_assignments") == []
    assert queries.mails(pool, "SELECT * FROM email_outbox WHERE template = 'lead_assigned'") == []
    assert queries.pointer(pool, m.niche.id) == 1
    run = queries.one(pool, "SELECT status, error, assignments_created FROM distribution_runs")
    assert run["status"] == "failed"
    assert "injected failure" in run["error"]
    lead = queries.lead(pool, lead_id)
    assert (lead["status"], lead["distribution_attempts"]) == ("approved", 1)
    actions = [
        r["action"]
        for r in queries.rows(pool, "SELECT action FROM audit_log WHERE entity_type = 'lead'")
    ]
    assert actions == ["distribution.failed"]

    with pool.connection() as conn:
        conn.execute("DROP TRIGGER fail_assignment ON lead_assignments")
    retried = distribute(m, lead_id)

    assert retried.status is RunStatus.PARTIAL
    assert retried.start_level_order_position == 1  # the failed attempt did not advance the pointer
    assert queries.lead(pool, lead_id)["distribution_attempts"] == 2
