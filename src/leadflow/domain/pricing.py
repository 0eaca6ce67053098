"""Prices by geography (SPEC §12): a level's ``price_overrides`` by postal-code prefix.

``[{"postal_prefix": "100", "price_cents": 5900}, ...]``: the longest prefix of the lead's
normalized postal code that is listed sets the price; none listed, the level's own price.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from leadflow.domain.eligibility import normalize_postal_code
from leadflow.domain.errors import InvalidInput

MAX_OVERRIDES = 1000
MAX_PREFIX_LENGTH = 16
MAX_PRICE_CENTS = 100_000_000


@dataclass(frozen=True, slots=True)
class PriceOverride:
    postal_prefix: str
    price_cents: int

    def as_json(self) -> dict[str, Any]:
        return {"postal_prefix": self.postal_prefix, "price_cents": self.price_cents}


def parse_overrides(raw: object) -> tuple[PriceOverride, ...]:
    """Validate stored or submitted overrides: prefixes normalized like postal codes, each
    listed once, prices 0..``MAX_PRICE_CENTS``; ``InvalidInput`` names the first bad entry."""
    if not isinstance(raw, list):
        raise InvalidInput("price_overrides must be a list")
    if len(raw) > MAX_OVERRIDES:
        raise InvalidInput(f"at most {MAX_OVERRIDES} price_overrides")
    seen: set[str] = set()
    found = []
    for index, entry in enumerate(raw):
        where = f"price_overrides[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"postal_prefix", "price_cents"}:
            raise InvalidInput(f"{where} must be an object with 'postal_prefix' and 'price_cents'")
        prefix, price = entry["postal_prefix"], entry["price_cents"]
        if not isinstance(prefix, str):
            raise InvalidInput(f"{where}.postal_prefix must be a string")
        prefix = normalize_postal_code(prefix)
        if not prefix or len(prefix) > MAX_PREFIX_LENGTH or not prefix.replace("-", "").isalnum():
            raise InvalidInput(
                f"{where}.postal_prefix must be 1..{MAX_PREFIX_LENGTH} letters, digits or dashes"
            )
        if (
            isinstance(price, bool)
            or not isinstance(price, int)
            or not (0 <= price <= MAX_PRICE_CENTS)
        ):
            raise InvalidInput(f"{where}.price_cents must be an integer 0..{MAX_PRICE_CENTS}")
        if prefix in seen:
            raise InvalidInput(f"{where}: postal_prefix {prefix!r} is listed twice")
        seen.add(prefix)
        found.append(PriceOverride(prefix, price))
    return tuple(found)


def price_for(base_cents: int, overrides: Sequence[PriceOverride], postal_code: str) -> int:
    """The price of a lead with ``postal_code`` at a level: its longest matching prefix's, or
    ``base_cents``."""
    code = normalize_postal_code(postal_code)
    best: PriceOverride | None = None
    for override in overrides:
        if code.startswith(override.postal_prefix) and (
            best is None or len(override.postal_prefix) > len(best.postal_prefix)
        ):
            best = override
    return base_cents if best is None else best.price_cents
