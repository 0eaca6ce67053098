"""Pagination shared by every list: ``page`` >= 1, ``limit`` 1..200 (default 50)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from leadflow.domain.errors import InvalidInput

T = TypeVar("T")
MAX_LIMIT = 200
DEFAULT_LIMIT = 50


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int = 1
    limit: int = DEFAULT_LIMIT

    def __post_init__(self) -> None:
        if self.page < 1:
            raise InvalidInput("page must be at least 1")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be 1..{MAX_LIMIT}")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    page: int
    limit: int
    total: int
    items: list[T]

    @classmethod
    def of(cls, request: PageRequest, total: int, items: list[T]) -> Page[T]:
        """The page ``request`` asked for: ``items`` of ``total``."""
        return cls(page=request.page, limit=request.limit, total=total, items=items)
