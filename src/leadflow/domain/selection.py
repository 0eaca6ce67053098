"""Within-level fairness and the per-level fill: who a lead is sold to, and who is skipped why.

Pure: the engine hands in a snapshot (levels in traversal order, each level's candidates in
LRU order, the balances it believes) and gets back a ``Plan``. The engine re-plans with the
balances it finds after locking the providers, so the plan it executes is exact.

A level whose active weights are equal walks its candidates in LRU order (Part I). One whose
weights differ is served by smooth weighted round-robin (SPEC §12, nginx's rule): for each
pick, every remaining candidate that can be sold the lead gains its weight, the one with the
highest credit (ties: LRU order) is sold and loses the sum of the weights gained. Candidates
that cannot be sold gain nothing, so none comes back with a burst of catch-up leads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from uuid import UUID

from leadflow.domain.eligibility import Eligibility
from leadflow.domain.errors import InvalidInput
from leadflow.domain.model import DistributionMode, SkipReason
from leadflow.domain.money import affords
from leadflow.domain.rotation import Level

MIN_WEIGHT = 1
MAX_WEIGHT = 100
DEFAULT_WEIGHT = 1


def check_weight(value: object) -> int:
    """A subscription's weight as submitted: an integer 1..100."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not (MIN_WEIGHT <= value <= MAX_WEIGHT)
    ):
        raise InvalidInput(f"weight must be an integer {MIN_WEIGHT}..{MAX_WEIGHT}")
    return value


@dataclass(frozen=True, slots=True)
class Candidate:
    """An active subscription of an active provider in a level, as read for one lead."""

    subscription_id: UUID
    provider_id: UUID
    level_id: UUID
    lru_order: int | None
    eligibility: Eligibility = Eligibility.MATCH
    cap_reached: bool = False
    # SPEC §12: outside its schedule now; this lead's price would pass a budget.
    outside_schedule: bool = False
    budget_reached: bool = False
    weight: int = 1
    credit: int = 0  # its weighted round-robin credit (0 in a level that just became weighted)
    timezone: str = "UTC"  # whose calendar its caps and budgets count in


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
class Credit:
    """A subscription's weighted round-robin credit after the plan, in its level's epoch."""

    subscription_id: UUID
    credit: int
    epoch: int


@dataclass(frozen=True, slots=True)
class Plan:
    """The outcome of walking the traversal: sales in the order made, skips, fills per level."""

    sales: tuple[Sale, ...]
    skips: tuple[Skip, ...]
    fills: tuple[LevelFill, ...]
    # Levels whose candidate list was cut short while they were still short of sales:
    # the engine must read more candidates for them and plan again.
    needs_more: frozenset[UUID] = field(default_factory=frozenset)
    # The credits the weighted levels' picks changed (written with the sale).
    credits: tuple[Credit, ...] = ()

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
    credits: list[Credit] = []
    for level in traversal:
        if level.weighted:
            sold = _fill_weighted(
                level,
                candidates.get(level.id, ()),
                sold_to,
                consumer_buyers,
                remaining,
                sales,
                skips,
                credits,
            )
            fills.append(LevelFill(level=level, sold=sold))
            if mode is DistributionMode.FIRST_LEVEL and sold > 0:
                break
            continue
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
    return Plan(tuple(sales), tuple(skips), tuple(fills), frozenset(needs_more), tuple(credits))


def _fill_weighted(
    level: Level,
    level_candidates: Sequence[Candidate],
    sold_to: set[UUID],
    consumer_buyers: frozenset[UUID],
    balances: dict[UUID, int],
    sales: list[Sale],
    skips: list[Skip],
    credits: list[Credit],
) -> int:
    """Fill a weighted level by smooth weighted round-robin over the candidates that can be
    sold the lead (the others are skipped with their reason and gain nothing)."""
    sellable: list[Candidate] = []
    for candidate in level_candidates:
        if candidate.eligibility is Eligibility.NO_MATCH:
            continue
        reason = _skip_reason(candidate, level, sold_to, consumer_buyers, balances)
        if reason is not None:
            skips.append(Skip(candidate.provider_id, candidate.subscription_id, level.id, reason))
            continue
        sellable.append(candidate)
    credit = {c.subscription_id: c.credit for c in sellable}
    gained = [c.subscription_id for c in sellable]
    sold = 0
    while sold < level.max_recipients and sellable:
        total = 0
        for candidate in sellable:
            credit[candidate.subscription_id] += candidate.weight
            total += candidate.weight
        # ``max`` keeps the first of equal credits, and ``sellable`` is in LRU order.
        best = max(sellable, key=lambda c: credit[c.subscription_id])
        credit[best.subscription_id] -= total
        sellable.remove(best)
        balances[best.provider_id] = balances.get(best.provider_id, 0) - level.price_cents
        sold_to.add(best.provider_id)
        sales.append(Sale(level=level, candidate=best))
        sold += 1
    credits.extend(Credit(sid, credit[sid], level.credit_epoch) for sid in gained if sold)
    return sold


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
    if candidate.outside_schedule:
        return SkipReason.OUTSIDE_SCHEDULE
    if candidate.cap_reached:
        return SkipReason.CAP_REACHED
    if candidate.budget_reached:
        return SkipReason.BUDGET_REACHED
    if not affords(balances.get(candidate.provider_id, 0), level.price_cents):
        return SkipReason.INSUFFICIENT_BALANCE
    return None
