"""The fairness figures of a level (SPEC §13): fair shares, deviation, spread, Jain's index."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow.domain.fairness import fairness, jain_index

counts_st = st.dictionaries(st.integers(0, 50), st.integers(0, 10_000), min_size=1, max_size=30)


@given(counts_st)
def test_jain_index_lies_between_one_over_n_and_one(counts: dict[int, int]) -> None:
    result = fairness(counts)
    assert result.jain_index is not None
    assert 1 / len(counts) - 1e-12 <= result.jain_index <= 1.0


@given(st.integers(1, 40), st.integers(0, 10_000))
def test_equal_counts_are_perfectly_fair(n: int, each: int) -> None:
    result = fairness({i: each for i in range(n)})
    assert result.jain_index == 1.0
    assert result.max_deviation == pytest.approx(0, abs=1e-9)
    assert result.spread == pytest.approx(0, abs=1e-9)
    assert all(s.fair_share == pytest.approx(each) for s in result.shares)


@given(st.integers(2, 40), st.integers(1, 10_000))
def test_one_with_everything_is_the_least_fair(n: int, total: int) -> None:
    result = fairness({i: (total if i == 0 else 0) for i in range(n)})
    assert result.jain_index == pytest.approx(1 / n)
    assert result.spread == pytest.approx(total)
    assert result.max_deviation == pytest.approx(total - total / n)


@given(counts_st)
def test_fair_shares_add_up_to_the_sales_and_deviations_to_zero(counts: dict[int, int]) -> None:
    result = fairness(counts)
    assert result.sales == sum(counts.values())
    assert sum(s.fair_share for s in result.shares) == pytest.approx(result.sales)
    assert sum(s.deviation for s in result.shares) == pytest.approx(0, abs=1e-6)
    assert [s.key for s in result.shares] == list(counts)
    assert result.spread == pytest.approx(max(counts.values()) - min(counts.values()))


@given(counts_st, st.integers(1, 1000))
def test_the_index_does_not_depend_on_scale(counts: dict[int, int], factor: int) -> None:
    one, scaled = fairness(counts), fairness({k: n * factor for k, n in counts.items()})
    assert one.jain_index == pytest.approx(scaled.jain_index)


@given(st.lists(st.tuples(st.integers(1, 5), st.integers(0, 500)), min_size=1, max_size=20))
def test_sales_in_proportion_to_weights_are_perfectly_fair(pairs: list[tuple[int, int]]) -> None:
    weights = {i: float(w) for i, (w, _) in enumerate(pairs)}
    per_weight = pairs[0][1]
    counts = {i: w * per_weight for i, (w, _) in enumerate(pairs)}
    result = fairness(counts, weights)
    assert result.jain_index == pytest.approx(1.0)
    for share in result.shares:
        assert share.fair_share == pytest.approx(share.weight * per_weight)
        assert share.deviation == pytest.approx(0, abs=1e-6)


def test_examples() -> None:
    result = fairness({"a": 3, "b": 1})
    assert [(s.fair_share, s.deviation) for s in result.shares] == [(2.0, 1.0), (2.0, -1.0)]
    assert result.jain_index == pytest.approx(16 / 20)
    assert result.spread == 2.0 and result.max_deviation == 1.0
    weighted = fairness({"a": 3, "b": 1}, {"a": 3.0, "b": 1.0})
    assert [s.fair_share for s in weighted.shares] == [3.0, 1.0]
    assert jain_index([]) is None
    assert jain_index([0.0, 0.0]) == 1.0
    empty = fairness({})
    assert empty.jain_index is None and empty.sales == 0 and empty.spread == 0.0
    with pytest.raises(ValueError):
        fairness({"a": 1}, {"a": 0.0})
