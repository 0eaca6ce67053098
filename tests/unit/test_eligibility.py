"""Eligibility rules (SPEC §2 subscription, §8 "Filters"): postal codes, attribute filters, caps."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.domain.eligibility import (
    MAX_FILTERS,
    MAX_IN_VALUES,
    Eligibility,
    FilterRule,
    cap_reached,
    evaluate_rule,
    evaluate_stored,
    evaluate_subscription,
    json_equal,
    normalize_postal_code,
    parse_filters,
)
from leadflow.domain.errors import InvalidInput

MATCH, NO_MATCH, ERROR = Eligibility.MATCH, Eligibility.NO_MATCH, Eligibility.ERROR


def rule(op: str, value: Any, field: str = "x") -> FilterRule:
    (parsed,) = parse_filters([{"field": field, "op": op, "value": value}])
    return parsed


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=8,
)


# --- parse_filters: well-formed rules -------------------------------------------------------


def test_empty_list_is_no_rules() -> None:
    assert parse_filters([]) == ()


@pytest.mark.parametrize(
    "raw",
    [
        {"field": "size", "op": "eq", "value": "large"},
        {"field": "size", "op": "eq", "value": None},
        {"field": "size", "op": "eq", "value": {"a": [1, 2]}},
        {"field": "size", "op": "in", "value": ["a", 1, True, None]},
        {"field": "rooms", "op": "gte", "value": 2},
        {"field": "rooms", "op": "lte", "value": 2.5},
        {"field": "rooms", "op": "between", "value": [1, 3]},
        {"field": "rooms", "op": "between", "value": [2, 2]},
        {"field": "rooms", "op": "between", "value": [-1.5, 0]},
    ],
)
def test_well_formed_rule_round_trips(raw: dict[str, Any]) -> None:
    (parsed,) = parse_filters([raw])
    assert parsed.as_json() == raw


def test_rules_keep_their_order() -> None:
    raw = [
        {"field": "a", "op": "eq", "value": 1},
        {"field": "b", "op": "gte", "value": 2},
    ]
    assert [r.as_json() for r in parse_filters(raw)] == raw


def test_max_filters_is_accepted() -> None:
    raw = [{"field": f"f{i}", "op": "eq", "value": i} for i in range(MAX_FILTERS)]
    assert len(parse_filters(raw)) == MAX_FILTERS


def test_max_in_values_is_accepted() -> None:
    assert len(rule("in", list(range(MAX_IN_VALUES))).value) == MAX_IN_VALUES


# --- parse_filters: malformed rules are refused ---------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        None,
        {"field": "x", "op": "eq", "value": 1},
        "[]",
        ({"field": "x", "op": "eq", "value": 1},),
    ],
)
def test_non_list_is_refused(raw: object) -> None:
    with pytest.raises(InvalidInput):
        parse_filters(raw)


@pytest.mark.parametrize(
    "bad",
    [
        # not an object / missing or extra keys
        "x == 1",
        ["x", "eq", 1],
        None,
        {"field": "x", "op": "eq"},
        {"field": "x", "value": 1},
        {"op": "eq", "value": 1},
        {"field": "x", "op": "eq", "value": 1, "extra": True},
        # field
        {"field": "", "op": "eq", "value": 1},
        {"field": "   ", "op": "eq", "value": 1},
        {"field": 3, "op": "eq", "value": 1},
        {"field": None, "op": "eq", "value": 1},
        # op
        {"field": "x", "op": "ne", "value": 1},
        {"field": "x", "op": "EQ", "value": 1},
        {"field": "x", "op": "gt", "value": 1},
        {"field": "x", "op": None, "value": 1},
        # in
        {"field": "x", "op": "in", "value": []},
        {"field": "x", "op": "in", "value": "abc"},
        {"field": "x", "op": "in", "value": 1},
        {"field": "x", "op": "in", "value": {"a": 1}},
        {"field": "x", "op": "in", "value": list(range(MAX_IN_VALUES + 1))},
        # gte / lte
        {"field": "x", "op": "gte", "value": "5"},
        {"field": "x", "op": "gte", "value": True},
        {"field": "x", "op": "lte", "value": None},
        {"field": "x", "op": "lte", "value": [1]},
        # between
        {"field": "x", "op": "between", "value": [1]},
        {"field": "x", "op": "between", "value": [1, 2, 3]},
        {"field": "x", "op": "between", "value": [1, "2"]},
        {"field": "x", "op": "between", "value": [False, 2]},
        {"field": "x", "op": "between", "value": 5},
        {"field": "x", "op": "between", "value": {"low": 1, "high": 2}},
        {"field": "x", "op": "between", "value": [3, 2]},
        # not JSON numbers: PostgreSQL's jsonb cannot store them, so they must be refused here
        {"field": "x", "op": "gte", "value": math.nan},
        {"field": "x", "op": "lte", "value": math.inf},
        {"field": "x", "op": "between", "value": [-math.inf, 3]},
        {"field": "x", "op": "eq", "value": math.nan},
        {"field": "x", "op": "in", "value": [1, math.inf]},
    ],
)
def test_malformed_rule_is_refused(bad: object) -> None:
    with pytest.raises(InvalidInput):
        parse_filters([bad])


def test_error_names_the_bad_rule() -> None:
    good = {"field": "a", "op": "eq", "value": 1}
    with pytest.raises(InvalidInput, match=r"filters\[1\]"):
        parse_filters([good, {"field": "a", "op": "between", "value": [5, 1]}])


def test_too_many_filters_is_refused() -> None:
    raw = [{"field": f"f{i}", "op": "eq", "value": i} for i in range(MAX_FILTERS + 1)]
    with pytest.raises(InvalidInput):
        parse_filters(raw)


rule_parts = st.one_of(json_values, st.sampled_from(["eq", "in", "gte", "lte", "between", "x"]))


@settings(max_examples=150)
@given(
    raw=st.dictionaries(
        st.sampled_from(["field", "op", "value", "other"]), rule_parts, min_size=2, max_size=4
    )
    | st.fixed_dictionaries(
        {
            "field": st.text(max_size=3),
            "op": st.sampled_from(["eq", "in", "gte", "lte", "between", "ne"]),
            "value": json_values,
        }
    )
)
def test_any_rule_is_accepted_as_is_or_refused_with_invalid_input(raw: dict[str, Any]) -> None:
    try:
        (parsed,) = parse_filters([raw])
    except InvalidInput:
        return
    assert parsed.as_json() == raw
    # What is accepted can be evaluated against any lead without raising.
    for actual in (None, True, 1, 2.5, "s", [1], {"a": 1}):
        assert evaluate_rule(parsed, {parsed.field: actual}) in set(Eligibility)


# --- json_equal -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (1, 1.0),
        (0, -0.0),
        ("a", "a"),
        (None, None),
        (True, True),
        ([1, "a"], [1.0, "a"]),
        ({"a": 1, "b": [None]}, {"b": [None], "a": 1.0}),
    ],
)
def test_json_equal_values(left: object, right: object) -> None:
    assert json_equal(left, right)
    assert json_equal(right, left)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (True, 1),
        (False, 0),
        ("1", 1),
        ("true", True),
        (None, 0),
        (None, ""),
        (None, False),
        ([], {}),
        ([1], 1),
        ([1, 2], [2, 1]),
        ([1], [1, 1]),
        ({"a": 1}, {"a": 1, "b": 2}),
        ({"a": True}, {"a": 1}),
        ([True], [1]),
        (2**53 + 1, float(2**53)),
    ],
)
def test_json_unequal_values(left: object, right: object) -> None:
    assert not json_equal(left, right)
    assert not json_equal(right, left)


@settings(max_examples=150)
@given(left=json_values, right=json_values)
def test_json_equal_agrees_with_a_json_round_trip(left: object, right: object) -> None:
    """Equal JSON values survive serialization equal; ``True``/``1`` never collapse."""
    assert json_equal(left, left)
    assert json_equal(left, json.loads(json.dumps(left)))
    assert json_equal(left, right) == json_equal(right, left)
    if json_equal(left, right):
        # Same JSON kinds all the way down: serialising both with bools and numbers tagged agrees.
        assert _tagged(left) == _tagged(right)


def _tagged(value: object) -> object:
    if isinstance(value, bool) or value is None:
        return ("literal", value)
    if isinstance(value, int | float):
        return ("number", float(value))
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, list):
        return ("array", [_tagged(v) for v in value])
    assert isinstance(value, dict)
    return ("object", [(k, _tagged(value[k])) for k in sorted(value)])


# --- evaluate_rule --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "actual", "expected"),
    [
        ("eq", "large", "large", MATCH),
        ("eq", "large", "small", NO_MATCH),
        ("eq", "large", "Large", NO_MATCH),
        ("eq", 1, 1.0, MATCH),
        ("eq", 1.0, 1, MATCH),
        ("eq", 1, True, NO_MATCH),
        ("eq", True, 1, NO_MATCH),
        ("eq", 1, "1", NO_MATCH),
        ("eq", "1", 1, NO_MATCH),
        ("eq", None, None, MATCH),
        ("eq", None, 0, NO_MATCH),
        ("eq", False, False, MATCH),
        ("eq", [1, 2], [1, 2], MATCH),
        ("eq", {"a": 1}, {"a": 1.0}, MATCH),
        # eq/in never error, whatever the lead holds
        ("eq", 5, {"nested": 5}, NO_MATCH),
        ("in", ["a", "b"], "b", MATCH),
        ("in", ["a", "b"], "c", NO_MATCH),
        ("in", [1, 2], 2.0, MATCH),
        ("in", [1, 2], True, NO_MATCH),
        ("in", [True], 1, NO_MATCH),
        ("in", ["1"], 1, NO_MATCH),
        ("in", [None, "x"], None, MATCH),
        ("in", [[1, 2]], [1, 2], MATCH),
        ("in", [1, 2], [1, 2], NO_MATCH),
        # numeric ranges: bounds are inclusive
        ("gte", 3, 3, MATCH),
        ("gte", 3, 3.5, MATCH),
        ("gte", 3, 2.999, NO_MATCH),
        ("gte", 3.5, 4, MATCH),
        ("lte", 3, 3, MATCH),
        ("lte", 3, 3.0001, NO_MATCH),
        ("lte", 3, -10, MATCH),
        ("between", [1, 3], 1, MATCH),
        ("between", [1, 3], 3, MATCH),
        ("between", [1, 3], 2.5, MATCH),
        ("between", [1, 3], 0.99, NO_MATCH),
        ("between", [1, 3], 4, NO_MATCH),
        ("between", [2, 2], 2.0, MATCH),
        # numeric ranges need a JSON number on the lead: anything else cannot be evaluated
        ("gte", 3, "5", ERROR),
        ("gte", 3, True, ERROR),
        ("gte", 0, False, ERROR),
        ("lte", 3, None, ERROR),
        ("lte", 3, [1], ERROR),
        ("between", [1, 3], "2", ERROR),
        ("between", [1, 3], {"v": 2}, ERROR),
        ("between", [0, 1], True, ERROR),
    ],
)
def test_evaluate_rule(op: str, value: Any, actual: Any, expected: Eligibility) -> None:
    assert evaluate_rule(rule(op, value), {"x": actual}) is expected


@pytest.mark.parametrize(
    "raw_rule",
    [
        {"field": "x", "op": "eq", "value": None},
        {"field": "x", "op": "in", "value": [None]},
        {"field": "x", "op": "gte", "value": 0},
        {"field": "x", "op": "between", "value": [0, 1]},
    ],
)
def test_missing_attribute_is_no_match_even_for_null_or_numeric_rules(
    raw_rule: dict[str, Any],
) -> None:
    (parsed,) = parse_filters([raw_rule])
    assert evaluate_rule(parsed, {}) is NO_MATCH
    assert evaluate_rule(parsed, {"y": 0}) is NO_MATCH


def test_present_null_attribute_is_not_missing() -> None:
    assert evaluate_rule(rule("eq", None), {"x": None}) is MATCH
    assert evaluate_rule(rule("gte", 0), {"x": None}) is ERROR


numbers = st.integers(-1000, 1000) | st.floats(-1e6, 1e6, allow_nan=False)
non_numbers = st.text(max_size=4) | st.booleans() | st.none() | st.lists(st.integers(), max_size=2)


@settings(max_examples=150)
@given(bound=numbers, other=numbers, actual=numbers)
def test_numeric_rules_follow_arithmetic(bound: float, other: float, actual: float) -> None:
    low, high = sorted((bound, other))
    attrs = {"x": actual}
    assert (evaluate_rule(rule("gte", bound), attrs) is MATCH) == (actual >= bound)
    assert (evaluate_rule(rule("lte", bound), attrs) is MATCH) == (actual <= bound)
    assert (evaluate_rule(rule("between", [low, high]), attrs) is MATCH) == (low <= actual <= high)
    for op, value in (("gte", bound), ("lte", bound), ("between", [low, high])):
        assert evaluate_rule(rule(op, value), attrs) is not ERROR


@settings(max_examples=100)
@given(bound=numbers, actual=non_numbers)
def test_numeric_rules_error_on_non_numbers(bound: float, actual: object) -> None:
    attrs = {"x": actual}
    assert evaluate_rule(rule("gte", bound), attrs) is ERROR
    assert evaluate_rule(rule("lte", bound), attrs) is ERROR
    assert evaluate_rule(rule("between", [bound, bound + 1]), attrs) is ERROR


@settings(max_examples=100)
@given(value=json_values, actual=json_values)
def test_eq_and_in_never_error(value: object, actual: object) -> None:
    attrs = {"x": actual}
    eq = evaluate_rule(rule("eq", value), attrs)
    assert eq is (MATCH if json_equal(actual, value) else NO_MATCH)
    assert evaluate_rule(rule("in", [value]), attrs) is eq


@settings(max_examples=100)
@given(number=st.integers(-(10**6), 10**6))
def test_bool_and_string_never_equal_a_number(number: int) -> None:
    assert evaluate_rule(rule("eq", number), {"x": str(number)}) is NO_MATCH
    assert evaluate_rule(rule("eq", number), {"x": float(number)}) is MATCH
    assert evaluate_rule(rule("in", [number]), {"x": number == 1}) is NO_MATCH


# --- postal codes and whole subscriptions ----------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("10001", "10001"), (" sw1a 1aa", "SW1A1AA"), ("SW1A\t1AA\n", "SW1A1AA"), ("", "")],
)
def test_normalize_postal_code(raw: str, normal: str) -> None:
    assert normalize_postal_code(raw) == normal


def test_empty_postal_codes_mean_everywhere() -> None:
    assert evaluate_subscription([], [], "99999", {}) is MATCH


def test_postal_codes_compare_normalized() -> None:
    assert evaluate_subscription(["sw1a 1aa", "10001"], [], "SW1A1AA", {}) is MATCH
    assert evaluate_subscription(["SW1A1AA"], [], " sw1a 1aa ", {}) is MATCH
    assert evaluate_subscription(["10001", "10002"], [], "10003", {}) is NO_MATCH


def test_all_filters_must_match() -> None:
    filters = parse_filters(
        [
            {"field": "size", "op": "in", "value": ["m", "l"]},
            {"field": "rooms", "op": "gte", "value": 2},
        ]
    )
    assert evaluate_subscription([], filters, "1", {"size": "l", "rooms": 3}) is MATCH
    assert evaluate_subscription([], filters, "1", {"size": "s", "rooms": 3}) is NO_MATCH
    assert evaluate_subscription([], filters, "1", {"size": "l", "rooms": 1}) is NO_MATCH
    assert evaluate_subscription([], filters, "1", {"size": "l"}) is NO_MATCH


def test_error_when_nothing_fails_to_match() -> None:
    filters = parse_filters(
        [
            {"field": "size", "op": "eq", "value": "l"},
            {"field": "rooms", "op": "gte", "value": 2},
        ]
    )
    assert evaluate_subscription([], filters, "1", {"size": "l", "rooms": "many"}) is ERROR


def test_non_match_wins_over_error() -> None:
    filters = parse_filters(
        [
            {"field": "rooms", "op": "gte", "value": 2},
            {"field": "size", "op": "eq", "value": "l"},
        ]
    )
    # Not a candidate at all: the size rule rejects it, whatever the rooms rule could say.
    assert evaluate_subscription([], filters, "1", {"size": "s", "rooms": "many"}) is NO_MATCH


def test_postal_mismatch_wins_over_error() -> None:
    filters = parse_filters([{"field": "rooms", "op": "gte", "value": 2}])
    assert evaluate_subscription(["10001"], filters, "20002", {"rooms": "many"}) is NO_MATCH
    assert evaluate_subscription(["10001"], filters, "10001", {"rooms": "many"}) is ERROR


def test_evaluate_stored_parses_filters() -> None:
    raw = [{"field": "rooms", "op": "between", "value": [1, 3]}]
    assert evaluate_stored([], raw, "1", {"rooms": 2}) is MATCH
    assert evaluate_stored([], raw, "1", {"rooms": 5}) is NO_MATCH
    assert evaluate_stored([], raw, "1", {"rooms": "2"}) is ERROR
    assert evaluate_stored(["1"], raw, "2", {"rooms": 2}) is NO_MATCH


@pytest.mark.parametrize(
    "raw", [None, {"field": "a"}, [{"field": "a", "op": "like", "value": "x"}], "garbage"]
)
def test_unreadable_stored_filters_are_an_error(raw: object) -> None:
    # Fail-safe: never sold on rules nobody can read.
    assert evaluate_stored([], raw, "1", {"a": "x"}) is ERROR


# --- caps -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("daily_count", "daily_cap", "monthly_count", "monthly_cap", "reached"),
    [
        (0, None, 0, None, False),
        (1000, None, 1000, None, False),
        (2, 3, 2, None, False),
        (3, 3, 3, None, True),
        (4, 3, 4, None, True),
        (0, 0, 0, None, True),
        (1, None, 9, 10, False),
        (1, None, 10, 10, True),
        (1, 5, 10, 10, True),
        (5, 5, 6, 10, True),
        (4, 5, 9, 10, False),
    ],
)
def test_cap_reached(
    daily_count: int,
    daily_cap: int | None,
    monthly_count: int,
    monthly_cap: int | None,
    reached: bool,
) -> None:
    assert cap_reached(daily_count, daily_cap, monthly_count, monthly_cap) is reached
