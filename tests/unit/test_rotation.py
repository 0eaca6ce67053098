"""Across-level rotation (SPEC §3 step 3, §8 "Rotation")."""

from __future__ import annotations

import itertools
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.domain.rotation import Level, plan_rotation


def level(position: int, *, active: bool = True) -> Level:
    return Level(
        id=UUID(int=position + 1000),
        name=f"L{position}",
        order_position=position,
        max_recipients=1,
        price_cents=100,
        is_active=active,
    )


def positions(levels: tuple[Level, ...]) -> list[int]:
    return [lv.order_position for lv in levels]


def test_spec_example_three_levels_pointer_two() -> None:
    rotation = plan_rotation([level(1), level(2), level(3)], 2)
    assert rotation.start is not None and rotation.start.order_position == 2
    assert positions(rotation.traversal) == [2, 3, 1]
    assert rotation.next_pointer == 3


def test_last_level_wraps_pointer_to_first() -> None:
    rotation = plan_rotation([level(1), level(2), level(3)], 3)
    assert positions(rotation.traversal) == [3, 1, 2]
    assert rotation.next_pointer == 1


def test_levels_are_ordered_by_position_not_input_order() -> None:
    rotation = plan_rotation([level(3), level(1), level(2)], 1)
    assert positions(rotation.traversal) == [1, 2, 3]
    assert rotation.next_pointer == 2


def test_pointer_in_a_gap_starts_at_the_next_higher_level() -> None:
    rotation = plan_rotation([level(10), level(20), level(30)], 15)
    assert positions(rotation.traversal) == [20, 30, 10]
    assert rotation.next_pointer == 30


def test_pointer_beyond_the_highest_level_wraps_to_the_lowest() -> None:
    rotation = plan_rotation([level(1), level(2), level(3)], 99)
    assert positions(rotation.traversal) == [1, 2, 3]
    assert rotation.next_pointer == 2


def test_pointer_below_the_lowest_level_starts_at_the_lowest() -> None:
    rotation = plan_rotation([level(5), level(7)], 0)
    assert positions(rotation.traversal) == [5, 7]
    assert rotation.next_pointer == 7


def test_inactive_level_under_the_pointer_is_skipped() -> None:
    rotation = plan_rotation([level(1), level(2, active=False), level(3)], 2)
    assert positions(rotation.traversal) == [3, 1]
    assert rotation.next_pointer == 1


def test_inactive_levels_are_never_visited() -> None:
    rotation = plan_rotation([level(1, active=False), level(2), level(3, active=False)], 1)
    assert positions(rotation.traversal) == [2]
    # One active level: it is the next start as well.
    assert rotation.next_pointer == 2


def test_next_pointer_skips_an_inactive_follower() -> None:
    rotation = plan_rotation([level(1), level(2, active=False), level(3)], 1)
    assert positions(rotation.traversal) == [1, 3]
    assert rotation.next_pointer == 3


def test_no_active_level_keeps_the_pointer() -> None:
    rotation = plan_rotation([level(1, active=False), level(2, active=False)], 2)
    assert rotation.start is None
    assert rotation.traversal == ()
    assert rotation.next_pointer == 2


def test_no_levels_at_all() -> None:
    rotation = plan_rotation([], 7)
    assert rotation.start is None and rotation.traversal == () and rotation.next_pointer == 7


def test_start_is_the_head_of_the_traversal() -> None:
    rotation = plan_rotation([level(1), level(4), level(9)], 4)
    assert rotation.start == rotation.traversal[0]


level_sets = st.dictionaries(
    keys=st.integers(min_value=1, max_value=12),
    values=st.booleans(),
    min_size=1,
    max_size=8,
)


def successor(active: list[int], position: int) -> int:
    """The first active position strictly after ``position``, circularly."""
    later = [p for p in active if p > position]
    return min(later) if later else min(active)


def first_at_or_after(active: list[int], pointer: int) -> int:
    """SPEC §3: the first active level whose order_position >= the pointer, wrapping to the lowest."""
    later = [p for p in active if p >= pointer]
    return min(later) if later else min(active)


@settings(max_examples=200)
@given(levels=level_sets, pointer=st.integers(min_value=-3, max_value=15))
def test_traversal_is_every_active_level_once_circularly(
    levels: dict[int, bool], pointer: int
) -> None:
    rotation = plan_rotation([level(p, active=a) for p, a in levels.items()], pointer)
    active = sorted(p for p, a in levels.items() if a)
    if not active:
        assert rotation.traversal == () and rotation.next_pointer == pointer
        return
    start = first_at_or_after(active, pointer)
    got = positions(rotation.traversal)
    assert sorted(got) == active
    assert got[0] == start
    # Circular: each level is followed by the next active one.
    assert all(successor(active, a) == b for a, b in itertools.pairwise(got))
    assert rotation.next_pointer == successor(active, start)


@settings(max_examples=100)
@given(levels=level_sets, pointer=st.integers(min_value=-3, max_value=15), rounds=st.integers(1, 4))
def test_start_level_cycles_exactly_through_the_active_levels(
    levels: dict[int, bool], pointer: int, rounds: int
) -> None:
    all_levels = [level(p, active=a) for p, a in levels.items()]
    active = sorted(p for p, a in levels.items() if a)
    starts: list[int] = []
    for _ in range(rounds * max(len(active), 1)):
        rotation = plan_rotation(all_levels, pointer)
        if rotation.start is not None:
            starts.append(rotation.start.order_position)
        pointer = rotation.next_pointer
    if not active:
        assert starts == []
        return
    # Every window of len(active) consecutive leads starts once on every active level ...
    for i in range(len(starts) - len(active) + 1):
        assert sorted(starts[i : i + len(active)]) == active
    # ... in ascending order, wrapping around.
    assert all(successor(active, a) == b for a, b in itertools.pairwise(starts))
