"""A pure in-memory marketplace that runs the domain core the way the engine does.

``distribute(lead)`` = ``plan_rotation`` + each level's candidates in ``lru_order`` +
``plan_distribution``, then applies the plan: charges balances, gives every sale a strictly
increasing order key in sale order, and advances the rotation pointer. Each call returns a
``Round`` with everything a property test needs to check the outcome against SPEC §3.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID

from leadflow.domain.eligibility import cap_reached, evaluate_stored
from leadflow.domain.model import DistributionMode, RunStatus
from leadflow.domain.outcome import classify
from leadflow.domain.rotation import Level, Rotation, plan_rotation
from leadflow.domain.selection import Candidate, Plan, lru_order, plan_distribution

_ids = itertools.count(1)


def make_id() -> UUID:
    """Deterministic, increasing UUIDs so that provider-id tie-breaks are reproducible."""
    return UUID(int=next(_ids))


@dataclass(frozen=True)
class Lead:
    postal_code: str = "10001"
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Subscription:
    id: UUID
    provider_id: UUID
    level_id: UUID
    postal_codes: tuple[str, ...] = ()
    filters: list[dict[str, Any]] = field(default_factory=list)
    cap: int | None = None
    active: bool = True
    lru_order: int | None = None
    received: int = 0


@dataclass(frozen=True)
class Round:
    """One distributed lead: what the core decided and the state it was decided on."""

    lead: Lead
    pointer_before: int
    rotation: Rotation
    candidates: Mapping[UUID, Sequence[Candidate]]
    balances_before: Mapping[UUID, int]
    lru_before: Mapping[UUID, int | None]
    plan: Plan
    status: RunStatus
    order_keys: tuple[int, ...]


@dataclass
class Marketplace:
    """One niche: levels, subscriptions, provider balances, the pointer and the order counter."""

    levels: dict[UUID, Level] = field(default_factory=dict)
    subscriptions: list[Subscription] = field(default_factory=list)
    balances: dict[UUID, int] = field(default_factory=dict)
    pointer: int = 1
    mode: DistributionMode = DistributionMode.ALL_LEVELS
    counter: int = 0
    charged: int = 0
    rounds: list[Round] = field(default_factory=list)

    def add_level(
        self,
        order_position: int,
        *,
        max_recipients: int = 1,
        price_cents: int = 100,
        is_active: bool = True,
    ) -> Level:
        level = Level(
            id=make_id(),
            name=f"L{order_position}",
            order_position=order_position,
            max_recipients=max_recipients,
            price_cents=price_cents,
            is_active=is_active,
        )
        self.levels[level.id] = level
        return level

    def add_provider(self, balance_cents: int) -> UUID:
        provider_id = make_id()
        self.balances[provider_id] = balance_cents
        return provider_id

    def subscribe(self, provider_id: UUID, level: Level, **rules: Any) -> Subscription:
        subscription = Subscription(
            id=make_id(), provider_id=provider_id, level_id=level.id, **rules
        )
        self.subscriptions.append(subscription)
        return subscription

    def set_active(self, level: Level, is_active: bool) -> None:
        self.levels[level.id] = replace(self.levels[level.id], is_active=is_active)

    def candidates(self, lead: Lead, levels: Iterable[Level]) -> dict[UUID, list[Candidate]]:
        """Each level's active subscriptions as the engine reads them, in LRU order."""
        found: dict[UUID, list[Candidate]] = {}
        for level in levels:
            found[level.id] = lru_order(
                Candidate(
                    subscription_id=sub.id,
                    provider_id=sub.provider_id,
                    level_id=sub.level_id,
                    lru_order=sub.lru_order,
                    eligibility=evaluate_stored(
                        sub.postal_codes, sub.filters, lead.postal_code, lead.attributes
                    ),
                    cap_reached=cap_reached(sub.received, sub.cap, sub.received, None),
                )
                for sub in self.subscriptions
                if sub.level_id == level.id and sub.active
            )
        return found

    def distribute(self, lead: Lead | None = None) -> Round:
        lead = lead or Lead()
        pointer_before = self.pointer
        rotation = plan_rotation(self.levels.values(), self.pointer)
        candidates = self.candidates(lead, rotation.traversal)
        balances_before = dict(self.balances)
        lru_before = {sub.id: sub.lru_order for sub in self.subscriptions}
        plan = plan_distribution(rotation.traversal, candidates, balances_before, mode=self.mode)
        by_id = {sub.id: sub for sub in self.subscriptions}
        keys: list[int] = []
        for sale in plan.sales:
            provider_id = sale.candidate.provider_id
            if self.balances[provider_id] < sale.price_cents:
                raise AssertionError(f"sold to {provider_id} without the balance for it")
            self.balances[provider_id] -= sale.price_cents
            self.charged += sale.price_cents
            self.counter += 1
            keys.append(self.counter)
            subscription = by_id[sale.candidate.subscription_id]
            subscription.lru_order = self.counter
            subscription.received += 1
        self.pointer = rotation.next_pointer
        outcome = Round(
            lead=lead,
            pointer_before=pointer_before,
            rotation=rotation,
            candidates=candidates,
            balances_before=balances_before,
            lru_before=lru_before,
            plan=plan,
            status=classify(plan, self.mode),
            order_keys=tuple(keys),
        )
        self.rounds.append(outcome)
        return outcome

    def sales_per_provider(self, level: Level) -> Counter[UUID]:
        """How many leads each provider bought in ``level`` so far."""
        return Counter(
            sale.candidate.provider_id
            for past in self.rounds
            for sale in past.plan.sales
            if sale.level.id == level.id
        )
