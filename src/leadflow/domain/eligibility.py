"""Eligibility rules of a subscription: postal codes and attribute filters (caps: ``limits``).

A filter is ``{"field": name, "op": "eq"|"in"|"gte"|"lte"|"between", "value": ...}``; all of a
subscription's filters must match. A lead without the attribute does not match. ``eq``/``in``
compare JSON values (a type mismatch is a non-match); ``gte``/``lte``/``between`` need a JSON
number on the lead, and anything else there cannot be evaluated (``ERROR``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from leadflow.domain import limits
from leadflow.domain.errors import InvalidInput

OPERATORS = ("eq", "in", "gte", "lte", "between")
MAX_FILTERS = 50
MAX_IN_VALUES = 1000


class Eligibility(Enum):
    MATCH = "match"
    NO_MATCH = "no_match"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class FilterRule:
    field: str
    op: str
    value: Any

    def as_json(self) -> dict[str, Any]:
        return {"field": self.field, "op": self.op, "value": self.value}


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _finite(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if _is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def json_equal(left: object, right: object) -> bool:
    """Equality of JSON values: ``1 == 1.0``, but ``true != 1`` and ``"1" != 1``."""
    if _json_kind(left) != _json_kind(right):
        return False
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(
            json_equal(a, b) for a, b in zip(left, right, strict=True)
        )
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    return left == right


def parse_filters(raw: object) -> tuple[FilterRule, ...]:
    """Validate stored or submitted filters; raise ``InvalidInput`` naming the first bad rule."""
    if not isinstance(raw, list):
        raise InvalidInput("filters must be a list of rules")
    if len(raw) > MAX_FILTERS:
        raise InvalidInput(f"at most {MAX_FILTERS} filters")
    return tuple(_parse_rule(index, rule) for index, rule in enumerate(raw))


def _parse_rule(index: int, rule: object) -> FilterRule:
    where = f"filters[{index}]"
    if not isinstance(rule, dict) or set(rule) != {"field", "op", "value"}:
        raise InvalidInput(f"{where} must be an object with exactly 'field', 'op' and 'value'")
    field, op, value = rule["field"], rule["op"], rule["value"]
    if not isinstance(field, str) or not field.strip():
        raise InvalidInput(f"{where}.field must be a non-empty string")
    if op not in OPERATORS:
        raise InvalidInput(f"{where}.op must be one of {', '.join(OPERATORS)}")
    if not _finite(value):
        # NaN and infinities are not JSON: jsonb refuses them, and they match nothing anyway.
        raise InvalidInput(f"{where}.value must not hold NaN or infinity")
    if op == "in":
        if not isinstance(value, list) or not value or len(value) > MAX_IN_VALUES:
            raise InvalidInput(f"{where}.value must be a non-empty list (at most {MAX_IN_VALUES})")
    elif op in ("gte", "lte"):
        if not _is_number(value):
            raise InvalidInput(f"{where}.value must be a number")
    elif op == "between":
        if not (isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value)):
            raise InvalidInput(f"{where}.value must be [low, high] numbers")
        if value[0] > value[1]:
            raise InvalidInput(f"{where}.value must have low <= high")
    return FilterRule(field=field, op=op, value=value)


def evaluate_rule(rule: FilterRule, attributes: Mapping[str, Any]) -> Eligibility:
    """One rule against a lead's attributes."""
    if rule.field not in attributes:
        return Eligibility.NO_MATCH
    actual = attributes[rule.field]
    if rule.op == "eq":
        return Eligibility.MATCH if json_equal(actual, rule.value) else Eligibility.NO_MATCH
    if rule.op == "in":
        matched = any(json_equal(actual, option) for option in rule.value)
        return Eligibility.MATCH if matched else Eligibility.NO_MATCH
    if not _is_number(actual):
        return Eligibility.ERROR
    if rule.op == "gte":
        ok = actual >= rule.value
    elif rule.op == "lte":
        ok = actual <= rule.value
    else:
        ok = rule.value[0] <= actual <= rule.value[1]
    return Eligibility.MATCH if ok else Eligibility.NO_MATCH


def normalize_postal_code(code: str) -> str:
    """Postal codes compare case- and space-insensitively: ' sw1a 1aa' -> 'SW1A1AA'."""
    return "".join(code.split()).upper()


def evaluate_subscription(
    postal_codes: Sequence[str],
    filters: Iterable[FilterRule],
    postal_code: str,
    attributes: Mapping[str, Any],
) -> Eligibility:
    """Whether a subscription's rules accept a lead. An empty postal code list means everywhere.

    A non-match of any rule wins over an error in another: the subscription is simply not a
    candidate. Otherwise an error makes it ``ERROR`` (fail-safe: never sold).
    """
    if postal_codes and normalize_postal_code(postal_code) not in {
        normalize_postal_code(c) for c in postal_codes
    }:
        return Eligibility.NO_MATCH
    verdicts = [evaluate_rule(rule, attributes) for rule in filters]
    if Eligibility.NO_MATCH in verdicts:
        return Eligibility.NO_MATCH
    if Eligibility.ERROR in verdicts:
        return Eligibility.ERROR
    return Eligibility.MATCH


def evaluate_stored(
    postal_codes: Sequence[str],
    raw_filters: object,
    postal_code: str,
    attributes: Mapping[str, Any],
) -> Eligibility:
    """Like ``evaluate_subscription`` for filters as stored; unreadable filters are an ``ERROR``."""
    try:
        filters = parse_filters(raw_filters)
    except InvalidInput:
        return Eligibility.ERROR
    return evaluate_subscription(postal_codes, filters, postal_code, attributes)


def cap_reached(
    daily_count: int, daily_cap: int | None, monthly_count: int, monthly_cap: int | None
) -> bool:
    """True when the subscription already has its day's or month's assignments (the cap rule of
    ``limits``, for counts at hand; the engine checks every cap and budget with
    ``limits.limit_reached``)."""
    return limits.over_cap(daily_count, daily_cap) or limits.over_cap(monthly_count, monthly_cap)
