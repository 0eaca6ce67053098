"""The seed plan's Phase 15 scenarios at the service level, on a real PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from leadflow.db.connection import Connection
from leadflow.domain.errors import LeadNotApproved, NotFound
from leadflow.domain.model import Actor, RunStatus, SkipReason
from leadflow.services import billing
from leadflow.services.distribution import distribute_lead, preview_distribution
from tests.support import queries
from tests.support.factory import ADMIN, Market, market
from tests.support.work import committed

SYSTEM = Actor.system()
Pool = ConnectionPool[Connection]


def distribute(m: Market, lead_id: Any) -> Any:
    return distribute_lead(m.pool, lead_id=lead_id, triggered_by=SYSTEM)


def sold_names(m: Market, result: Any) -> list[str]:
    return [m.name_of(a.provider_id) for a in result.assignments]


def test_sale_charges_balance_writes_ledger_assignment_mail_and_audit(pool: Pool) -> None:
    m = market(pool, [("Gold", 1, 4900)])
    provider = m.add_provider("acme", balance_cents=10_000, levels=[1])
    lead_id = m.lead()

    result = distribute(m, lead_id)

    assert result.status is RunStatus.SUCCESS
    assert [a.price_charged_cents for a in result.assignments] == [4900]
    assert queries.balance(pool, provider) == 10_000 - 4900
    charge = queries.one(pool, "SELECT * FROM ledger_entries WHERE kind = 'lead_charge'")
    assert charge["amount_cents"] == -4900
    assert charge["balance_after_cents"] == 5100
    assert charge["assignment_id"] == result.assignments[0].assignment_id
    assignment = queries.one(pool, "SELECT * FROM lead_assignments")
    assert (
        assignment["lead_id"],
        assignment["provider_id"],
        assignment["price_charged_cents"],
    ) == (
        lead_id,
        provider,
        4900,
    )
    lead = queries.lead(pool, lead_id)
    assert lead["status"] == "distributed"
    assert lead["distributed_at"] is not None
    assert lead["distribution_attempts"] == 1
    [mail] = queries.mails(pool, "SELECT * FROM email_outbox WHERE template = 'lead_assigned'")
    assert mail["subject"] == f"New Lead Assigned - {m.niche.name}"
    assert mail["to_address"] == "acme@example.com"
    assert "acme" in mail["body_text"]
    assert "Gold" in mail["body_text"]
    assert "$49.00" in mail["body_text"]
    actions = [
        r["action"]
        for r in queries.rows(pool, "SELECT action FROM audit_log WHERE entity_type = 'lead'")
    ]
    assert sorted(actions) == [
        "assignment.created",
        "distribution.completed",
        "distribution.started",
    ]
    sub = queries.one(pool, "SELECT lru_order, last_received_at FROM subscriptions")
    assert sub["lru_order"] == 1
    assert sub["last_received_at"] is not None


def test_three_levels_each_sell_up_to_max_recipients(pool: Pool) -> None:
    m = market(pool)  # Gold 1 @ 49, Silver 3 @ 25, Bronze 5 @ 10
    for i in range(4):
        m.add_provider(f"g{i}", balance_cents=100_000, levels=[1])
    for i in range(5):
        m.add_provider(f"s{i}", balance_cents=100_000, levels=[2])
    for i in range(7):
        m.add_provider(f"b{i}", balance_cents=100_000, levels=[3])

    result = distribute(m, m.lead())

    by_level: dict[Any, int] = {}
    for a in result.assignments:
        by_level[a.competition_level_id] = by_level.get(a.competition_level_id, 0) + 1
    assert by_level == {m.level(1).id: 1, m.level(2).id: 3, m.level(3).id: 5}
    assert result.status is RunStatus.SUCCESS
    assert result.traversal_order == (m.level(1).id, m.level(2).id, m.level(3).id)
    revenue = queries.one(
        pool, "SELECT -sum(amount_cents) AS r FROM ledger_entries WHERE kind = 'lead_charge'"
    )
    assert revenue["r"] == 4900 + 3 * 2500 + 5 * 1000


def test_start_level_rotates_and_wraps_around(pool: Pool) -> None:
    m = market(pool)
    m.add_provider("everyone", balance_cents=1_000_000, levels=[1, 2, 3])

    starts = [distribute(m, m.lead()).start_level_order_position for _ in range(7)]

    assert starts == [1, 2, 3, 1, 2, 3, 1]
    assert queries.pointer(pool, m.niche.id) == 2


def test_traversal_is_circular_from_the_start_level(pool: Pool) -> None:
    m = market(pool)
    m.add_provider("everyone", balance_cents=1_000_000, levels=[1, 2, 3])
    distribute(m, m.lead())

    second = distribute(m, m.lead())

    assert second.traversal_order == (m.level(2).id, m.level(3).id, m.level(1).id)


def test_inactive_levels_never_start_and_are_never_visited(pool: Pool) -> None:
    m = market(pool, inactive=[2])
    m.add_provider("everyone", balance_cents=1_000_000, levels=[1, 2, 3])

    results = [distribute(m, m.lead()) for _ in range(4)]

    assert [r.start_level_order_position for r in results] == [1, 3, 1, 3]
    assert all(m.level(2).id not in r.traversal_order for r in results)
    assert all(a.competition_level_id != m.level(2).id for r in results for a in r.assignments)


def set_price(pool: Pool, level_id: Any, price_cents: int) -> None:
    """An admin's price change; it does not re-evaluate subscriptions by itself (SPEC §8)."""
    with pool.connection() as conn:
        conn.execute(
            "UPDATE competition_levels SET price_per_lead_cents = %s WHERE id = %s",
            (price_cents, level_id),
        )


def test_insufficient_balance_is_skipped_and_the_next_candidate_fills_the_slot(pool: Pool) -> None:
    m = market(pool, [("Gold", 3, 1000)])
    for name in ("second", "third", "fourth"):
        m.add_provider(name, balance_cents=20_000, levels=[1])
    distribute(m, m.lead())  # all three served once: each has an order key now
    # Never served, so first in LRU order; then the price rises beyond its balance.
    first = m.add_provider("first", balance_cents=2000, levels=[1])
    set_price(pool, m.level(1).id, 4900)

    result = distribute(m, m.lead())

    assert sorted(sold_names(m, result)) == ["fourth", "second", "third"]
    assert [(m.name_of(s.provider_id), s.reason) for s in result.skipped] == [
        ("first", SkipReason.INSUFFICIENT_BALANCE)
    ]
    assert result.status is RunStatus.SUCCESS
    assert queries.balance(pool, first) == 2000
    paused = queries.one(pool, "SELECT status FROM subscriptions WHERE provider_id = %s", first)
    assert paused["status"] == "paused_low_balance"
    [mail] = queries.mails(pool, "SELECT * FROM email_outbox WHERE template = 'low_balance'")
    assert "Low balance" in mail["subject"]
    assert mail["provider_id"] == first


def test_skipped_provider_keeps_its_lru_place_and_is_next_once_funded(pool: Pool) -> None:
    m = market(pool, [("Gold", 1, 1000)])
    broke = m.add_provider("broke", balance_cents=2500, levels=[1])
    m.add_provider("rich", balance_cents=100_000, levels=[1])
    assert sorted(
        sold_names(m, distribute(m, m.lead())) + sold_names(m, distribute(m, m.lead()))
    ) == ["broke", "rich"]
    set_price(pool, m.level(1).id, 2000)
    key_before = queries.one(
        pool, "SELECT lru_order FROM subscriptions WHERE provider_id = %s", broke
    )

    later = [distribute(m, m.lead()) for _ in range(2)]

    assert [sold_names(m, r) for r in later] == [["rich"], ["rich"]]
    assert any(
        s.provider_id == broke and s.reason is SkipReason.INSUFFICIENT_BALANCE
        for r in later
        for s in r.skipped
    )
    assert (
        queries.one(pool, "SELECT lru_order FROM subscriptions WHERE provider_id = %s", broke)
        == key_before
    )
    committed(pool, billing.deposit, actor=ADMIN, provider_id=broke, amount_cents=5000)
    assert (
        queries.one(pool, "SELECT status FROM subscriptions WHERE provider_id = %s", broke)[
            "status"
        ]
        == "active"
    )

    assert sold_names(m, distribute(m, m.lead())) == ["broke"]


def test_a_provider_in_several_levels_is_sold_once_and_skipped_as_duplicate(pool: Pool) -> None:
    m = market(pool)
    m.add_provider("everywhere", balance_cents=1_000_000, levels=[1, 2, 3])
    m.add_provider("silver-only", balance_cents=1_000_000, levels=[2])

    result = distribute(m, m.lead())

    assert sorted(sold_names(m, result)) == ["everywhere", "silver-only"]
    duplicates = [(m.name_of(s.provider_id), s.level_id) for s in result.skipped]
    assert duplicates == [("everywhere", m.level(2).id), ("everywhere", m.level(3).id)]
    assert all(s.reason is SkipReason.DUPLICATE for s in result.skipped)
    assert result.status is RunStatus.PARTIAL


def test_zero_eligible_is_a_valid_outcome_and_the_lead_can_be_distributed_later(pool: Pool) -> None:
    m = market(pool)
    m.add_provider("elsewhere", balance_cents=100_000, levels=[1], postal_codes=["90210"])
    lead_id = m.lead(postal_code="10001")

    result = distribute(m, lead_id)

    assert result.status is RunStatus.NO_ELIGIBLE
    assert result.assignments == ()
    lead = queries.lead(pool, lead_id)
    assert (lead["status"], lead["distribution_attempts"]) == ("approved", 1)
    assert queries.pointer(pool, m.niche.id) == 2  # a committed no_eligible run advances it
    run = queries.one(pool, "SELECT status, assignments_created FROM distribution_runs")
    assert run == {"status": "no_eligible", "assignments_created": 0}

    m.add_provider("local", balance_cents=100_000, levels=[2], postal_codes=["10001"])
    again = distribute(m, lead_id)

    assert again.status is RunStatus.PARTIAL
    assert sold_names(m, again) == ["local"]
    assert queries.lead(pool, lead_id)["distribution_attempts"] == 2


def test_all_providers_short_of_money_means_no_sale(pool: Pool) -> None:
    m = market(pool, [("Gold", 2, 1000)])
    for name in ("a", "b"):
        m.add_provider(name, balance_cents=4000, levels=[1])
    set_price(pool, m.level(1).id, 4900)
    lead_id = m.lead()

    result = distribute(m, lead_id)

    assert result.status is RunStatus.NO_ELIGIBLE
    assert [s.reason for s in result.skipped] == [SkipReason.INSUFFICIENT_BALANCE] * 2
    assert queries.rows(pool, "SELECT * FROM lead_assignments") == []
    assert {
        r["balance_cents"] for r in queries.rows(pool, "SELECT balance_cents FROM providers")
    } == {4000}
    assert queries.lead(pool, lead_id)["status"] == "approved"


def test_distributing_the_same_lead_twice_changes_nothing_the_second_time(pool: Pool) -> None:
    m = market(pool)
    for i in range(3):
        m.add_provider(f"p{i}", balance_cents=100_000, levels=[1, 2, 3])
    lead_id = m.lead()
    first = distribute(m, lead_id)
    before = queries.state(pool)

    second = distribute(m, lead_id)

    assert second.already_distributed
    assert second.run_id == first.run_id
    assert sorted(a.assignment_id for a in second.assignments) == sorted(
        a.assignment_id for a in first.assignments
    )
    assert queries.state(pool) == before


def test_preview_matches_the_distribution_and_writes_nothing(pool: Pool) -> None:
    m = market(pool)
    for i in range(4):
        m.add_provider(f"p{i}", balance_cents=6000, levels=[1, 2, 3])
    lead_id = m.lead()
    before = queries.state(pool)

    preview = committed(pool, preview_distribution, lead_id=lead_id)

    assert queries.state(pool) == before
    result = distribute(m, lead_id)
    assert [
        (s.provider_id, s.subscription_id, s.competition_level_id, s.price_cents)
        for s in preview.selections
    ] == [
        (a.provider_id, a.subscription_id, a.competition_level_id, a.price_charged_cents)
        for a in result.assignments
    ]
    assert preview.skipped == result.skipped
    assert preview.traversal_order == result.traversal_order
    assert preview.start_level_order_position == result.start_level_order_position


@pytest.mark.parametrize("status", ["pending_confirmation", "pending_approval", "rejected"])
def test_a_lead_that_is_not_approved_is_refused_and_nothing_is_written(
    pool: Pool, status: str
) -> None:
    m = market(pool)
    m.add_provider("p", balance_cents=100_000, levels=[1])
    lead_id = m.lead(status=status)
    before = queries.state(pool)

    with pytest.raises(LeadNotApproved):
        distribute(m, lead_id)

    assert queries.state(pool) == before


def test_an_unknown_lead_is_not_found_and_nothing_is_written(pool: Pool) -> None:
    import uuid

    m = market(pool)
    before = queries.state(pool)

    with pytest.raises(NotFound):
        distribute(m, uuid.uuid4())

    assert queries.state(pool) == before


def test_first_level_mode_stops_after_the_first_level_that_sold(pool: Pool) -> None:
    m = market(pool, mode="first_level")
    for i in range(2):
        m.add_provider(f"g{i}", balance_cents=100_000, levels=[1])
    for i in range(4):
        m.add_provider(f"s{i}", balance_cents=100_000, levels=[2])

    first = distribute(m, m.lead())  # starts at Gold: one sale, stops
    second = distribute(m, m.lead())  # starts at Silver: three sales, stops
    third = distribute(m, m.lead())  # starts at Bronze (nobody), goes on to Gold

    assert [a.competition_level_id for a in first.assignments] == [m.level(1).id]
    assert [a.competition_level_id for a in second.assignments] == [m.level(2).id] * 3
    assert [a.competition_level_id for a in third.assignments] == [m.level(1).id]
    assert [r.status for r in (first, second, third)] == [RunStatus.SUCCESS] * 3
