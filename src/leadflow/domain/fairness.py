"""How fairly a level's sales were shared (SPEC §13 "Fairness"): each subscription's sales
against its fair share, the largest deviation, the spread and Jain's index.

A fair share is the level's sales split in proportion to the subscriptions' weights (SPEC §12;
1 each by default, so the split is equal).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Share(Generic[K]):
    key: K
    sales: int
    weight: float
    fair_share: float
    deviation: float  # sales - fair_share


@dataclass(frozen=True, slots=True)
class Fairness(Generic[K]):
    shares: list[Share[K]]
    sales: int
    max_deviation: float  # the largest |deviation|
    spread: float  # the largest deviation minus the smallest (max - min sales when equal weights)
    jain_index: float | None  # in [1/n, 1], 1 = perfectly fair; None without subscriptions


def jain_index(values: list[float]) -> float | None:
    """Jain's fairness index (Σx)² / (n·Σx²): 1 when all are equal (all zero included), 1/n
    when one has everything; None for no value."""
    if not values:
        return None
    square_sum = sum(v * v for v in values)
    if square_sum == 0:
        return 1.0
    index = sum(values) ** 2 / (len(values) * square_sum)
    # Rounding must not push it past its bounds.
    return min(1.0, max(1.0 / len(values), index))


def fairness(counts: Mapping[K, int], weights: Mapping[K, float] | None = None) -> Fairness[K]:
    """The shares of ``counts`` (sales per subscription, in the order given) against fair
    shares in proportion to ``weights`` (default: 1 each). Jain's index is taken over sales per
    unit of weight, so a subscription weighing twice as much should sell twice as much."""
    weight = {k: float((weights or {}).get(k, 1.0)) for k in counts}
    if any(w <= 0 for w in weight.values()):
        raise ValueError("weights must be positive")
    sales = sum(counts.values())
    total_weight = sum(weight.values())
    shares = [
        Share(
            key=k,
            sales=n,
            weight=weight[k],
            fair_share=sales * weight[k] / total_weight,
            deviation=n - sales * weight[k] / total_weight,
        )
        for k, n in counts.items()
    ]
    deviations = [s.deviation for s in shares]
    return Fairness(
        shares=shares,
        sales=sales,
        max_deviation=max((abs(d) for d in deviations), default=0.0),
        spread=(max(deviations) - min(deviations)) if deviations else 0.0,
        jain_index=jain_index([s.sales / s.weight for s in shares]),
    )
