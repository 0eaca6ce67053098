"""Within-level fairness and the per-level fill (SPEC §3 steps 4-5, §8 "LRU order")."""

from __future__ import annotations

from uuid import UUID

import pytest

from leadflow.domain.eligibility import Eligibility
from leadflow.domain.model import DistributionMode, SkipReason
from leadflow.domain.rotation import Level
from leadflow.domain.selection import Candidate, LevelFill, Plan, lru_order, plan_distribution

FIRST = DistributionMode.FIRST_LEVEL
ALL = DistributionMode.ALL_LEVELS


def pid(n: int) -> UUID:
    return UUID(int=n)


def make_level(n: int, *, max_recipients: int = 1, price: int = 100) -> Level:
    return Level(
        id=UUID(int=10_000 + n),
        name=f"L{n}",
        order_position=n,
        max_recipients=max_recipients,
        price_cents=price,
    )


def cand(
    provider: int,
    level: Level,
    lru: int | None = None,
    *,
    eligibility: Eligibility = Eligibility.MATCH,
    capped: bool = False,
) -> Candidate:
    return Candidate(
        subscription_id=UUID(int=100_000 + level.order_position * 1000 + provider),
        provider_id=pid(provider),
        level_id=level.id,
        lru_order=lru,
        eligibility=eligibility,
        cap_reached=capped,
    )


def sold(plan: Plan, level: Level | None = None) -> list[int]:
    return [
        s.candidate.provider_id.int for s in plan.sales if level is None or s.level.id == level.id
    ]


def skipped(plan: Plan) -> list[tuple[int, SkipReason]]:
    return [(s.provider_id.int, s.reason) for s in plan.skips]


RICH = 10**9


def rich(*providers: int) -> dict[UUID, int]:
    return {pid(p): RICH for p in providers}


# --- lru_order ------------------------------------------------------------------------------


def test_never_served_come_first_then_least_recently_served() -> None:
    lv = make_level(1)
    ordered = lru_order([cand(1, lv, 7), cand(2, lv, None), cand(3, lv, 3), cand(4, lv, 12)])
    assert [c.provider_id.int for c in ordered] == [2, 3, 1, 4]


def test_provider_id_breaks_ties_between_never_served() -> None:
    lv = make_level(1)
    ordered = lru_order([cand(9, lv), cand(4, lv), cand(6, lv), cand(1, lv, 1)])
    assert [c.provider_id.int for c in ordered] == [4, 6, 9, 1]


def test_order_key_beats_provider_id() -> None:
    lv = make_level(1)
    ordered = lru_order([cand(1, lv, 2), cand(2, lv, 1)])
    assert [c.provider_id.int for c in ordered] == [2, 1]


# --- plan_distribution: one level -----------------------------------------------------------


def test_fills_max_recipients_from_the_front() -> None:
    lv = make_level(1, max_recipients=2)
    cands = [cand(1, lv), cand(2, lv), cand(3, lv)]
    plan = plan_distribution([lv], {lv.id: cands}, rich(1, 2, 3))
    assert sold(plan) == [1, 2]
    assert plan.skips == ()
    assert plan.fills == (LevelFill(level=lv, sold=2),)
    assert plan.fills[0].filled


def test_fewer_candidates_than_seats() -> None:
    lv = make_level(1, max_recipients=5)
    plan = plan_distribution([lv], {lv.id: [cand(1, lv), cand(2, lv)]}, rich(1, 2))
    assert sold(plan) == [1, 2]
    assert plan.fills[0].sold == 2 and not plan.fills[0].filled


def test_level_without_candidates() -> None:
    lv = make_level(1)
    plan = plan_distribution([lv], {}, {})
    assert plan.sales == () and plan.fills == (LevelFill(level=lv, sold=0),)


def test_insufficient_balance_is_skipped_and_the_next_candidate_fills_the_seat() -> None:
    lv = make_level(1, max_recipients=2, price=500)
    cands = [cand(1, lv), cand(2, lv), cand(3, lv), cand(4, lv)]
    balances = {pid(1): 500, pid(2): 499, pid(3): 10_000, pid(4): 10_000}
    plan = plan_distribution([lv], {lv.id: cands}, balances)
    assert sold(plan) == [1, 3]
    assert skipped(plan) == [(2, SkipReason.INSUFFICIENT_BALANCE)]
    assert plan.fills[0].filled


def test_balance_exactly_the_price_is_enough() -> None:
    lv = make_level(1, price=4900)
    plan = plan_distribution([lv], {lv.id: [cand(1, lv)]}, {pid(1): 4900})
    assert sold(plan) == [1]


def test_unknown_balance_counts_as_zero() -> None:
    lv = make_level(1, price=1)
    plan = plan_distribution([lv], {lv.id: [cand(1, lv)]}, {})
    assert skipped(plan) == [(1, SkipReason.INSUFFICIENT_BALANCE)]


def test_free_level_sells_even_with_no_balance() -> None:
    lv = make_level(1, max_recipients=2, price=0)
    plan = plan_distribution([lv], {lv.id: [cand(1, lv), cand(2, lv)]}, {pid(1): 0})
    assert sold(plan) == [1, 2]


def test_non_matching_candidates_are_not_skips() -> None:
    lv = make_level(1)
    cands = [cand(1, lv, eligibility=Eligibility.NO_MATCH), cand(2, lv)]
    plan = plan_distribution([lv], {lv.id: cands}, rich(1, 2))
    assert sold(plan) == [2]
    assert plan.skips == ()


def test_eligibility_error_and_cap_are_skips() -> None:
    lv = make_level(1)
    cands = [
        cand(1, lv, eligibility=Eligibility.ERROR),
        cand(2, lv, capped=True),
        cand(3, lv),
    ]
    plan = plan_distribution([lv], {lv.id: cands}, rich(1, 2, 3))
    assert sold(plan) == [3]
    assert skipped(plan) == [
        (1, SkipReason.ELIGIBILITY_ERROR),
        (2, SkipReason.CAP_REACHED),
    ]


def test_candidates_after_the_level_filled_are_neither_sold_nor_skipped() -> None:
    lv = make_level(1)
    cands = [cand(1, lv), cand(2, lv, capped=True), cand(3, lv)]
    plan = plan_distribution([lv], {lv.id: cands}, {pid(1): RICH, pid(3): 0})
    assert sold(plan) == [1]
    assert plan.skips == ()


def test_skip_records_name_subscription_and_level() -> None:
    lv = make_level(3)
    c = cand(1, lv, capped=True)
    (skip,) = plan_distribution([lv], {lv.id: [c]}, rich(1)).skips
    assert (skip.provider_id, skip.subscription_id, skip.level_id) == (
        c.provider_id,
        c.subscription_id,
        lv.id,
    )


# --- plan_distribution: several levels ------------------------------------------------------


def test_levels_sell_in_traversal_order_each_up_to_its_max() -> None:
    gold, silver = make_level(1, max_recipients=1, price=4900), make_level(2, max_recipients=3)
    cands = {
        gold.id: [cand(1, gold), cand(2, gold)],
        silver.id: [cand(3, silver), cand(4, silver), cand(5, silver), cand(6, silver)],
    }
    plan = plan_distribution([silver, gold], cands, rich(1, 2, 3, 4, 5, 6))
    assert sold(plan) == [3, 4, 5, 1]
    assert [s.price_cents for s in plan.sales] == [100, 100, 100, 4900]
    assert [f.level for f in plan.fills] == [silver, gold]


def test_provider_sold_at_an_earlier_level_is_a_duplicate_later() -> None:
    a, b = make_level(1, max_recipients=1), make_level(2, max_recipients=2)
    cands = {a.id: [cand(1, a)], b.id: [cand(1, b), cand(2, b), cand(3, b)]}
    plan = plan_distribution([a, b], cands, rich(1, 2, 3))
    assert sold(plan, a) == [1]
    assert sold(plan, b) == [2, 3]
    assert skipped(plan) == [(1, SkipReason.DUPLICATE)]


def test_duplicate_wins_over_the_balance_the_first_sale_used_up() -> None:
    a, b = make_level(1, price=100), make_level(2, price=100)
    cands = {a.id: [cand(1, a)], b.id: [cand(1, b)]}
    plan = plan_distribution([a, b], cands, {pid(1): 150})
    assert sold(plan) == [1]
    assert skipped(plan) == [(1, SkipReason.DUPLICATE)]


def test_provider_not_sold_at_an_earlier_level_is_no_duplicate() -> None:
    a, b = make_level(1, price=1000), make_level(2, price=10)
    cands = {a.id: [cand(1, a)], b.id: [cand(1, b)]}
    plan = plan_distribution([a, b], cands, {pid(1): 50})
    assert sold(plan, b) == [1]
    assert skipped(plan) == [(1, SkipReason.INSUFFICIENT_BALANCE)]


def test_first_level_mode_stops_after_the_first_level_that_sold() -> None:
    a, b, c = make_level(1), make_level(2), make_level(3)
    cands = {a.id: [cand(1, a, capped=True)], b.id: [cand(2, b)], c.id: [cand(3, c)]}
    plan = plan_distribution([a, b, c], cands, rich(1, 2, 3), mode=FIRST)
    assert sold(plan) == [2]
    assert [f.level for f in plan.fills] == [a, b]
    assert skipped(plan) == [(1, SkipReason.CAP_REACHED)]


def test_first_level_mode_with_no_sale_visits_every_level() -> None:
    a, b = make_level(1), make_level(2)
    plan = plan_distribution([a, b], {a.id: [cand(1, a)]}, {}, mode=FIRST)
    assert plan.sales == ()
    assert [f.level for f in plan.fills] == [a, b]


def test_all_levels_mode_visits_every_level() -> None:
    a, b = make_level(1), make_level(2)
    cands = {a.id: [cand(1, a)], b.id: [cand(2, b)]}
    plan = plan_distribution([a, b], cands, rich(1, 2), mode=ALL)
    assert sold(plan) == [1, 2]


# --- truncated candidate lists --------------------------------------------------------------


def test_truncated_level_short_of_sales_needs_more() -> None:
    a, b = make_level(1, max_recipients=2), make_level(2, max_recipients=1)
    cands = {a.id: [cand(1, a), cand(2, a)], b.id: [cand(3, b)]}
    plan = plan_distribution(
        [a, b], cands, {pid(1): RICH, pid(2): 0, pid(3): 0}, truncated=frozenset({a.id, b.id})
    )
    assert plan.needs_more == frozenset({a.id, b.id})


def test_truncated_level_that_filled_needs_nothing() -> None:
    a = make_level(1, max_recipients=1)
    plan = plan_distribution([a], {a.id: [cand(1, a)]}, rich(1), truncated=frozenset({a.id}))
    assert plan.needs_more == frozenset()


def test_complete_level_short_of_sales_needs_nothing() -> None:
    a = make_level(1, max_recipients=3)
    plan = plan_distribution([a], {a.id: [cand(1, a)]}, rich(1))
    assert plan.needs_more == frozenset()


# --- derived views --------------------------------------------------------------------------


def test_balance_provider_ids_are_the_sold_and_the_underfunded() -> None:
    lv = make_level(1, max_recipients=3)
    cands = [
        cand(1, lv),
        cand(2, lv, capped=True),
        cand(3, lv),
        cand(4, lv, eligibility=Eligibility.ERROR),
        cand(5, lv),
    ]
    plan = plan_distribution([lv], {lv.id: cands}, {pid(1): RICH, pid(3): 0, pid(5): RICH})
    assert plan.sold_provider_ids == {pid(1), pid(5)}
    assert plan.balance_provider_ids == {pid(1), pid(3), pid(5)}


@pytest.mark.parametrize(
    ("max_recipients", "count", "filled"),
    [(1, 0, False), (1, 1, True), (3, 2, False), (3, 3, True)],
)
def test_level_fill_filled(max_recipients: int, count: int, filled: bool) -> None:
    assert LevelFill(make_level(1, max_recipients=max_recipients), count).filled is filled


def test_plan_does_not_change_the_balances_it_is_given() -> None:
    lv = make_level(1)
    balances = {pid(1): 500}
    plan_distribution([lv], {lv.id: [cand(1, lv)]}, balances)
    assert balances == {pid(1): 500}


def test_a_resale_never_sells_to_a_provider_that_bought_the_lead() -> None:
    """SPEC §9: the one more distribution skips earlier buyers as duplicates, keeps their place
    and fills its seats from the next candidates."""
    level = make_level(1, max_recipients=2)
    candidates = {level.id: [cand(1, level), cand(2, level, 5), cand(3, level, 9)]}
    plan = plan_distribution(
        [level], candidates, {pid(n): 1000 for n in (1, 2, 3)}, bought=frozenset({pid(1)})
    )
    assert [s.candidate.provider_id for s in plan.sales] == [pid(2), pid(3)]
    assert [(s.provider_id, s.reason) for s in plan.skips] == [(pid(1), SkipReason.DUPLICATE)]
    assert pid(1) not in plan.balance_provider_ids
