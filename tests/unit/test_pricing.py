"""Prices by geography (SPEC §12): the longest matching prefix sets the price."""

from __future__ import annotations

from typing import Any

import pytest

from leadflow.domain.errors import InvalidInput
from leadflow.domain.pricing import parse_overrides, price_for


def test_the_longest_matching_prefix_wins_and_no_match_keeps_the_level_price() -> None:
    overrides = parse_overrides(
        [
            {"postal_prefix": "1", "price_cents": 1000},
            {"postal_prefix": "100", "price_cents": 3000},
            {"postal_prefix": "10", "price_cents": 2000},
            {"postal_prefix": "sw1a", "price_cents": 9000},
        ]
    )
    assert price_for(500, overrides, "10001") == 3000
    assert price_for(500, overrides, "10901") == 2000
    assert price_for(500, overrides, "19000") == 1000
    assert price_for(500, overrides, "90210") == 500
    assert price_for(500, overrides, " sw1a 1aa") == 9000
    assert price_for(500, (), "10001") == 500


@pytest.mark.parametrize(
    "raw",
    [
        "100",
        [{"postal_prefix": "100"}],
        [{"postal_prefix": "", "price_cents": 100}],
        [{"postal_prefix": "1$", "price_cents": 100}],
        [{"postal_prefix": "100", "price_cents": -1}],
        [{"postal_prefix": "100", "price_cents": True}],
        [{"postal_prefix": "100", "price_cents": 1.5}],
        [{"postal_prefix": "100", "price_cents": 1}, {"postal_prefix": " 100", "price_cents": 2}],
    ],
)
def test_bad_overrides_are_refused(raw: Any) -> None:
    with pytest.raises(InvalidInput):
        parse_overrides(raw)
