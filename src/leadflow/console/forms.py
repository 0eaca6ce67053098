"""Form handling shared by the pages: run a use case in a savepoint, parse typed fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from leadflow.db.connection import Connection
from leadflow.domain.errors import DomainError, InvalidInput

T = TypeVar("T")


def attempt(tx: Connection, use_case: Callable[[], T]) -> tuple[T | None, str | None]:
    """Run ``use_case`` in a savepoint of the request's transaction: a refused change is rolled
    back whole (the page then shows why) and the transaction stays usable."""
    try:
        with tx.transaction():
            return use_case(), None
    except DomainError as exc:
        return None, exc.detail


def integer(value: str, name: str, *, required: bool = True) -> int | None:
    value = value.strip()
    if not value:
        if required:
            raise InvalidInput(f"{name} is required")
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number") from None


def dollars_to_cents(value: str, name: str) -> int:
    """``12.50`` or ``12`` (dollars) as cents."""
    text = value.strip().replace(",", "").lstrip("$")
    whole, _, frac = text.partition(".")
    if not whole.isdigit() or (frac and (not frac.isdigit() or len(frac) > 2)):
        raise InvalidInput(f"{name} must be an amount in dollars, like 49 or 49.50")
    return int(whole) * 100 + int((frac or "0").ljust(2, "0"))


def optional_uuid(value: str | None) -> UUID | None:
    if not value:
        return None
    try:
        return UUID(value)
    except ValueError:
        raise InvalidInput("not a valid id") from None


def codes(value: str) -> list[str]:
    """Postal codes typed with commas, spaces or new lines between them."""
    return [c for c in value.replace(",", " ").split() if c]
