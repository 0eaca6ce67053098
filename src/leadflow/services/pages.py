"""Pagination shared by every list: ``page`` >= 1, ``limit`` 1..200 (default 50); or by keyset,
from a ``Cursor`` (a row's ``created_at`` and ``id``), for lists read newest first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar
from uuid import UUID

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


@dataclass(frozen=True, slots=True)
class Cursor:
    """A place in a list ordered ``created_at DESC, id``: the page after it (older rows) or,
    ``newer``, the page before it. As text (``encode``) it travels in a link."""

    created_at: datetime
    id: UUID
    newer: bool = False

    def encode(self) -> str:
        return f"{'n' if self.newer else 'o'}{self.created_at.isoformat()}_{self.id}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            direction, rest = text[0], text[1:]
            stamp, _, ident = rest.rpartition("_")
            at = datetime.fromisoformat(stamp)
            if direction not in "no" or at.tzinfo is None:
                raise ValueError(text)
            return cls(created_at=at, id=UUID(ident), newer=direction == "n")
        except (ValueError, IndexError):
            raise InvalidInput("cursor: not a position in this list") from None


@dataclass(frozen=True, slots=True)
class KeysetPage(Generic[T]):
    """One page read from a cursor, with the cursors of the pages before and after it (None:
    there is none) and the count of every match."""

    items: list[T]
    total: int
    limit: int
    newer: Cursor | None
    older: Cursor | None


# Reads up to ``limit`` rows next to a position (``at``, ``after_id``; None: from the newest),
# older rows or, ``newer``, newer ones, in the list's order either way.
KeysetRead = Callable[[datetime | None, UUID | None, bool, int], list[T]]


def keyset_page(
    cursor: Cursor | None,
    limit: int,
    read: KeysetRead[T],
    *,
    key: Callable[[T], tuple[datetime, UUID]],
    total: int,
) -> KeysetPage[T]:
    """The page next to ``cursor`` (or the first) of a list ordered newest first, with the
    cursors of the pages around it; ``key`` is a row's position."""
    PageRequest(limit=limit)  # the same bounds as every list
    newer = cursor is not None and cursor.newer
    rows = read(
        None if cursor is None else cursor.created_at,
        None if cursor is None else cursor.id,
        newer,
        limit + 1,  # one more tells whether there is a page beyond
    )
    beyond = len(rows) > limit
    if newer:
        items = rows[-limit:] if beyond else rows
        more_newer, more_older = beyond, bool(items)
    else:
        items = rows[:limit]
        more_newer, more_older = cursor is not None and bool(items), beyond
    return KeysetPage(
        items=items,
        total=total,
        limit=limit,
        newer=Cursor(*key(items[0]), newer=True) if more_newer else None,
        older=Cursor(*key(items[-1])) if more_older else None,
    )
