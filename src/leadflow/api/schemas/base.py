"""API schemas (Pydantic), separate from tables and domain records: shared types and bases.

Every string is at most 1,000 characters and free of NUL; integers are bounded so that no
value can overflow a column; unknown fields are refused.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
)

from leadflow.domain.money import MAX_DEPOSIT_CENTS

MAX_TEXT = 1000
MAX_INT = 1_000_000_000


def clean_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode") from exc
    return value


def check_json_strings(value: Any) -> Any:
    """Every string inside a JSON value obeys the ``Text`` rules; numbers are finite."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite (no NaN or Infinity)")
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise ValueError(f"strings must be at most {MAX_TEXT} characters")
        clean_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_json_strings(key)
            check_json_strings(item)
    elif isinstance(value, list):
        for item in value:
            check_json_strings(item)
    return value


Text = Annotated[str, StringConstraints(max_length=MAX_TEXT), AfterValidator(clean_text)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(clean_text)]
Email = Annotated[str, StringConstraints(min_length=3, max_length=254), AfterValidator(clean_text)]
Password = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_TEXT), AfterValidator(clean_text)
]
Count = Annotated[StrictInt, Field(ge=1, le=MAX_INT)]
Cents = Annotated[StrictInt, Field(ge=0, le=MAX_DEPOSIT_CENTS)]
JsonObject = Annotated[dict[str, Any], AfterValidator(check_json_strings)]
JsonList = Annotated[list[Any], AfterValidator(check_json_strings)]

T = TypeVar("T")


class Body(BaseModel):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PageOut(Out, Generic[T]):
    page: int
    limit: int
    total: int
    items: list[T]


class Problem(BaseModel):
    """``application/problem+json`` (RFC 9457)."""

    type: str
    title: str
    status: int
    detail: str
