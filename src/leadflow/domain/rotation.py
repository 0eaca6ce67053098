"""Across-level rotation: which level starts a lead's traversal, and where the pointer goes next."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True, slots=True)
class Level:
    """A competition level as the engine sees it."""

    id: UUID
    name: str
    order_position: int
    max_recipients: int
    price_cents: int  # for the lead at hand: its price override, if one matches (SPEC §12)
    is_active: bool = True
    # SPEC §12: served by smooth weighted round-robin (its active weights differ), whether that
    # changed since its last run, and the credit epoch its credits belong to.
    weighted: bool = False
    switched: bool = False
    credit_epoch: int = 0


@dataclass(frozen=True, slots=True)
class Rotation:
    """The start level, the circular traversal from it, and the advanced pointer."""

    start: Level | None
    traversal: tuple[Level, ...]
    next_pointer: int


def plan_rotation(levels: Iterable[Level], pointer: int) -> Rotation:
    """Start at the first active level at or after ``pointer`` (wrapping), traverse circularly.

    The pointer then names the next active level after the start, so consecutive leads start
    on consecutive active levels. Inactive levels never start and are never visited. With no
    active level the pointer stays where it is.
    """
    active = sorted(
        (level for level in levels if level.is_active), key=lambda lv: lv.order_position
    )
    if not active:
        return Rotation(start=None, traversal=(), next_pointer=pointer)
    start_index = next((i for i, lv in enumerate(active) if lv.order_position >= pointer), 0)
    traversal = tuple(active[start_index:] + active[:start_index])
    following = active[(start_index + 1) % len(active)]
    return Rotation(
        start=active[start_index], traversal=traversal, next_pointer=following.order_position
    )
