"""Within-level fairness and the per-level fill: who a lead is sold to, and who is skipped why.

Pure: the engine hands in a snapshot (levels in traversal order, each level's candidates in
LRU order, the balances it believes) and gets back a ``Plan``. The engine re-plans with the
balances it finds after locking the providers, so the plan it executes is exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from uuid import UUID

from leadflow.domain.eligibility import Eligibility
from leadflow.domain.model import DistributionMode, SkipReason
from leadflow.domain.money import affords
from leadflow.domain.rotation import Level


@dataclass(frozen=True, slots=True)
class Candidate:
    """An active subscription of an active provider in a level, as read for one lead."""

    subscription_id: UUID
    provider_id: UUID
    level_id: UUID
    lru_order: int | None
    eligibility: Eligibility = Eligibility.MATCH
    cap_reached: bool = False


def lru_key(candidate: Candidate) -> tuple[int, UUID]:
    """Least recently served first; never served (NULL) before all; provider id breaks ties.

    Order keys are strictly increasing per sale, so the provider id only ever separates
    providers that were never served.
    """
    return (candidate.lru_order or 0, candidate.provider_id)


def lru_order(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Candidates sorted the way a level walks them."""
    return sorted(candidates, key=lru_key)


@dataclass(frozen=True, slots=True)
class Sale:
    level: Level
    candidate: Candidate

    @property
    def price_cents(self) -> int:
        return self.level.price_cents


@dataclass(frozen=True, slots=True)
class Skip:
    provider_id: UUID
    subscription_id: UUID
    level_id: UUID
    reason: SkipReason


@dataclass(frozen=True, slots=True)
class LevelFill:
    level: Level
    sold: int

    @property
    def filled(self) -> bool:
        return self.sold >= self.level.max_recipients


@dataclass(frozen=True, slots=True)
class Plan:
    """The outcome of walking the traversal: sales in the order made, skips, fills per level."""

    sales: tuple[Sale, ...]
    skips: tuple[Skip, ...]
    fills: tuple[LevelFill, ...]
    # Levels whose candidate list was cut short while they were still short of sales:
    # the engine must read more candidates for them and plan again.
    needs_more: frozenset[UUID] = field(default_factory=frozenset)

    @property
    def sold_provider_ids(self) -> frozenset[UUID]:
        return frozenset(sale.candidate.provider_id for sale in self.sales)

    @property
    def balance_provider_ids(self) -> frozenset[UUID]:
        """Providers whose balance decided something: sold, or skipped for insufficient balance."""
        skipped = {s.provider_id for s in self.skips if s.reason is SkipReason.INSUFFICIENT_BALANCE}
        return self.sold_provider_ids | skipped


def plan_distribution(
    traversal: Sequence[Level],
    candidates: Mapping[UUID, Sequence[Candidate]],
    balances: Mapping[UUID, int],
    *,
    mode: DistributionMode = DistributionMode.ALL_LEVELS,
    truncated: frozenset[UUID] = frozenset(),
    bought: frozenset[UUID] = frozenset(),
    consumer_buyers: frozenset[UUID] = frozenset(),
) -> Plan:
    """Walk each level's candidates (already in LRU order) until it has ``max_recipients`` sales.

    Subscriptions whose rules do not match are not candidates. A candidate that matches but
    is not sold is skipped with a reason and keeps its place: ``eligibility_error``,
    ``duplicate`` (sold this lead at an earlier level), ``duplicate_consumer``, ``cap_reached``, or
    ``insufficient_balance`` (the level goes on to the next candidate). In ``first_level``
    mode the traversal stops after the first level that sold. ``bought``: providers that
    bought the lead before (a resale): never sold it again, skipped as ``duplicate``.
    ``consumer_buyers``: providers that bought the lead's consumer (another lead with the same
    phone or e-mail, any niche) within their ``dedupe_days``: skipped as ``duplicate_consumer``.
    """
    remaining = dict(balances)
    sold_to: set[UUID] = set(bought)
    sales: list[Sale] = []
    skips: list[Skip] = []
    fills: list[LevelFill] = []
    needs_more: set[UUID] = set()
    for level in traversal:
        sold = 0
        for candidate in candidates.get(level.id, ()):
            if sold >= level.max_recipients:
                break
            if candidate.eligibility is Eligibility.NO_MATCH:
                continue
            reason = _skip_reason(candidate, level, sold_to, consumer_buyers, remaining)
            if reason is not None:
                skips.append(
                    Skip(candidate.provider_id, candidate.subscription_id, level.id, reason)
                )
                continue
            remaining[candidate.provider_id] = (
                remaining.get(candidate.provider_id, 0) - level.price_cents
            )
            sold_to.add(candidate.provider_id)
            sales.append(Sale(level=level, candidate=candidate))
            sold += 1
        if sold < level.max_recipients and level.id in truncated:
            needs_more.add(level.id)
        fills.append(LevelFill(level=level, sold=sold))
        if mode is DistributionMode.FIRST_LEVEL and sold > 0:
            break
    return Plan(tuple(sales), tuple(skips), tuple(fills), frozenset(needs_more))


def _skip_reason(
    candidate: Candidate,
    level: Level,
    sold_to: set[UUID],
    consumer_buyers: frozenset[UUID],
    balances: Mapping[UUID, int],
) -> SkipReason | None:
    if candidate.eligibility is Eligibility.ERROR:
        return SkipReason.ELIGIBILITY_ERROR
    if candidate.provider_id in sold_to:
        return SkipReason.DUPLICATE
    if candidate.provider_id in consumer_buyers:
        return SkipReason.DUPLICATE_CONSUMER
    if candidate.cap_reached:
        return SkipReason.CAP_REACHED
    if not affords(balances.get(candidate.provider_id, 0), level.price_cents):
        return SkipReason.INSUFFICIENT_BALANCE
    return None
