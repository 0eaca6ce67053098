"""Run outcome (SPEC §3 step 7): success, partial or no_eligible in both distribution modes."""

from __future__ import annotations

from uuid import UUID

import pytest

from leadflow.domain.model import DistributionMode, RunStatus
from leadflow.domain.outcome import classify
from leadflow.domain.results import MAX_STORED_SKIPS, AssignmentDetail, DistributionResult
from leadflow.domain.rotation import Level
from leadflow.domain.selection import Candidate, Plan, plan_distribution

FIRST = DistributionMode.FIRST_LEVEL
ALL = DistributionMode.ALL_LEVELS
BOTH = [ALL, FIRST]


def make_level(n: int, max_recipients: int) -> Level:
    return Level(UUID(int=1000 + n), f"L{n}", n, max_recipients, 100)


def plan_for(mode: DistributionMode, *levels: tuple[int, int]) -> tuple[Plan, list[Level]]:
    """Levels given as (max_recipients, funded candidates), in traversal order."""
    traversal = [make_level(n, max_r) for n, (max_r, _) in enumerate(levels, start=1)]
    candidates = {
        lv.id: [
            Candidate(
                UUID(int=lv.order_position * 100 + i),
                UUID(int=lv.order_position * 100 + i),
                lv.id,
                None,
            )
            for i in range(count)
        ]
        for lv, (_, count) in zip(traversal, levels, strict=True)
    }
    balances = {c.provider_id: 10_000 for cs in candidates.values() for c in cs}
    return plan_distribution(traversal, candidates, balances, mode=mode), traversal


@pytest.mark.parametrize("mode", BOTH)
def test_no_sale_is_no_eligible(mode: DistributionMode) -> None:
    plan, _ = plan_for(mode, (1, 0), (3, 0))
    assert classify(plan, mode) is RunStatus.NO_ELIGIBLE


@pytest.mark.parametrize("mode", BOTH)
def test_no_active_level_is_no_eligible(mode: DistributionMode) -> None:
    assert classify(Plan(sales=(), skips=(), fills=()), mode) is RunStatus.NO_ELIGIBLE


@pytest.mark.parametrize("mode", BOTH)
def test_single_level_filled_is_success(mode: DistributionMode) -> None:
    plan, _ = plan_for(mode, (2, 5))
    assert classify(plan, mode) is RunStatus.SUCCESS


@pytest.mark.parametrize("mode", BOTH)
def test_single_level_short_is_partial(mode: DistributionMode) -> None:
    plan, _ = plan_for(mode, (3, 2))
    assert classify(plan, mode) is RunStatus.PARTIAL


def test_all_levels_every_level_filled_is_success() -> None:
    plan, _ = plan_for(ALL, (1, 1), (3, 4), (5, 5))
    assert classify(plan, ALL) is RunStatus.SUCCESS


def test_all_levels_one_level_short_is_partial() -> None:
    plan, _ = plan_for(ALL, (1, 1), (3, 2), (5, 9))
    assert classify(plan, ALL) is RunStatus.PARTIAL


def test_all_levels_a_level_without_candidates_is_partial() -> None:
    plan, _ = plan_for(ALL, (1, 1), (3, 0))
    assert classify(plan, ALL) is RunStatus.PARTIAL


def test_first_level_empty_levels_before_the_one_that_sold_do_not_count() -> None:
    plan, traversal = plan_for(FIRST, (1, 0), (2, 0), (2, 2), (4, 0))
    # The traversal stopped at the level that sold; the level after it was never asked.
    assert [f.level for f in plan.fills] == traversal[:3]
    assert classify(plan, FIRST) is RunStatus.SUCCESS


def test_first_level_the_level_that_sold_short_is_partial() -> None:
    plan, _ = plan_for(FIRST, (1, 0), (3, 1), (1, 5))
    assert classify(plan, FIRST) is RunStatus.PARTIAL


def test_same_plan_differs_between_modes() -> None:
    # Level 1 empty, level 2 filled: exclusive tiers are satisfied, all-levels is not.
    all_plan, _ = plan_for(ALL, (1, 0), (1, 1))
    first_plan, _ = plan_for(FIRST, (1, 0), (1, 1))
    assert classify(all_plan, ALL) is RunStatus.PARTIAL
    assert classify(first_plan, FIRST) is RunStatus.SUCCESS


def test_result_counts_its_assignments() -> None:
    detail = AssignmentDetail(UUID(int=1), UUID(int=2), UUID(int=3), UUID(int=4), 4900)
    result = DistributionResult(
        lead_id=UUID(int=9),
        run_id=UUID(int=10),
        status=RunStatus.PARTIAL,
        start_level_order_position=1,
        traversal_order=(UUID(int=4),),
        assignments=(detail, detail),
        skipped=(),
        skipped_total=0,
        duration_ms=3,
    )
    assert result.assignments_created == 2
    assert result.already_distributed is False


def test_a_run_stores_at_most_a_hundred_skips() -> None:
    assert MAX_STORED_SKIPS == 100
