"""Pagination shared by every list: ``page`` >= 1, ``limit`` 1..200 (default 50); or by keyset,
from a ``Cursor`` (a row's ``created_at`` and ``id``, or a growing bigint such as a ledger's
``seq``), for lists read newest first."""

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


# A row's position in a list read by keyset: its ``created_at`` and ``id`` (a list ordered
# ``created_at DESC, id``), or one bigint that is unique and grows (a list ordered by it
# descending, such as a ledger's ``seq``).
K = TypeVar("K", tuple[datetime, UUID], int)
Stamped = tuple[datetime, UUID]


@dataclass(frozen=True, slots=True)
class Cursor(Generic[K]):
    """A place in a list read newest first: the page after it (older rows) or, ``newer``, the
    page before it. ``key`` is the position of the row it stands by. As text (``encode``) it
    travels in a link."""

    key: K
    newer: bool = False

    def encode(self) -> str:
        direction = "n" if self.newer else "o"
        if isinstance(self.key, int):
            return f"{direction}{self.key}"
        at, ident = self.key
        return f"{direction}{at.isoformat()}_{ident}"

    @classmethod
    def decode(cls, text: str) -> Cursor[Stamped]:
        """A cursor of a list ordered ``created_at DESC, id``."""
        try:
            direction, rest = text[0], text[1:]
            stamp, _, ident = rest.rpartition("_")
            at = datetime.fromisoformat(stamp)
            if direction not in "no" or at.tzinfo is None:
                raise ValueError(text)
            return Cursor((at, UUID(ident)), newer=direction == "n")
        except (ValueError, IndexError):
            raise InvalidInput("cursor: not a position in this list") from None

    @classmethod
    def decode_seq(cls, text: str) -> Cursor[int]:
        """A cursor of a list ordered by a bigint descending."""
        direction, rest = text[:1], text[1:]
        if direction not in ("n", "o") or not rest.isascii() or not rest.isdigit():
            raise InvalidInput("cursor: not a position in this list")
        return Cursor(int(rest), newer=direction == "n")


@dataclass(frozen=True, slots=True)
class KeysetPage(Generic[T, K]):
    """One page read from a cursor, with the cursors of the pages before and after it (None:
    there is none) and the count of every match."""

    items: list[T]
    total: int
    limit: int
    newer: Cursor[K] | None
    older: Cursor[K] | None


# Reads up to ``limit`` rows next to a position (None: from the newest), older rows or,
# ``newer``, newer ones, in the list's order either way.
KeysetRead = Callable[[K | None, bool, int], list[T]]


def keyset_page(
    cursor: Cursor[K] | None,
    limit: int,
    read: KeysetRead[K, T],
    *,
    key: Callable[[T], K],
    total: int,
) -> KeysetPage[T, K]:
    """The page next to ``cursor`` (or the first) of a list ordered newest first, with the
    cursors of the pages around it; ``key`` is a row's position."""
    PageRequest(limit=limit)  # the same bounds as every list
    newer = cursor is not None and cursor.newer
    rows = read(
        None if cursor is None else cursor.key,
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
        newer=Cursor(key(items[0]), newer=True) if more_newer else None,
        older=Cursor(key(items[-1])) if more_older else None,
    )
