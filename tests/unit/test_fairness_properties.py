"""Fairness, rotation, dedupe, fill and money properties of the domain core (SPEC §3, §7, §8).

Leads run through ``tests.support.simulation.Marketplace``, which chains the pure core the way
the engine does (rotation -> LRU candidates -> plan -> charge, order keys, pointer).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadflow.domain.eligibility import Eligibility
from leadflow.domain.model import DistributionMode, RunStatus, SkipReason
from leadflow.domain.rotation import Level
from leadflow.domain.selection import Candidate
from tests.support.simulation import Lead, Marketplace, Round

MODES = st.sampled_from([DistributionMode.ALL_LEVELS, DistributionMode.FIRST_LEVEL])
PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
FUNDED = 10**12

LEAD = Lead(postal_code="10001", attributes={"rooms": "three", "size": "l"})
# Rules that keep a subscription from being an equally eligible, funded candidate for LEAD.
NOT_MATCHING = [
    {"postal_codes": ("99999",)},
    {"filters": [{"field": "size", "op": "eq", "value": "s"}]},
    {"filters": [{"field": "garden", "op": "eq", "value": True}]},
]
ERRORING = {"filters": [{"field": "rooms", "op": "gte", "value": 2}]}
# Rules LEAD satisfies.
MATCHING = [
    {},
    {"postal_codes": (" 10001 ", "20002")},
    {"filters": [{"field": "size", "op": "in", "value": ["m", "l"]}]},
    {"filters": [{"field": "rooms", "op": "eq", "value": "three"}]},
]


def circular_successor(active: list[int], position: int) -> int:
    later = [p for p in active if p > position]
    return min(later) if later else min(active)


def first_at_or_after(active: list[int], pointer: int) -> int:
    later = [p for p in active if p >= pointer]
    return min(later) if later else min(active)


# --- spread <= 1 at every prefix ------------------------------------------------------------


@dataclass
class LevelSetup:
    max_recipients: int
    price: int
    fair: list[int]  # indexes into MATCHING, one per equally eligible funded provider
    broke: int
    capped: int
    not_matching: int
    erroring: int


level_setups = st.builds(
    LevelSetup,
    max_recipients=st.integers(1, 4),
    price=st.integers(1, 5000),
    fair=st.lists(st.integers(0, len(MATCHING) - 1), min_size=1, max_size=6),
    broke=st.integers(0, 2),
    capped=st.integers(0, 1),
    not_matching=st.integers(0, 2),
    erroring=st.integers(0, 1),
)


@PROPERTY_SETTINGS
@given(
    mode=MODES,
    setups=st.lists(level_setups, min_size=1, max_size=4),
    pointer=st.integers(-1, 6),
    leads=st.integers(1, 25),
    data=st.data(),
)
def test_counts_differ_by_at_most_one_at_every_prefix(
    mode: DistributionMode,
    setups: list[LevelSetup],
    pointer: int,
    leads: int,
    data: st.DataObject,
) -> None:
    market = Marketplace(mode=mode, pointer=pointer)
    fair: dict[UUID, list[UUID]] = {}
    others: set[UUID] = set()
    for position, setup in enumerate(setups, start=1):
        lv = market.add_level(
            position, max_recipients=setup.max_recipients, price_cents=setup.price
        )
        fair[lv.id] = []
        for rules in setup.fair:
            provider = market.add_provider(FUNDED)
            market.subscribe(provider, lv, **MATCHING[rules])
            fair[lv.id].append(provider)
        noise: list[tuple[int, dict[str, Any]]] = [
            *[(0, {}) for _ in range(setup.broke)],
            *[(FUNDED, {"cap": 0}) for _ in range(setup.capped)],
            *[
                (FUNDED, data.draw(st.sampled_from(NOT_MATCHING)))
                for _ in range(setup.not_matching)
            ],
            *[(FUNDED, ERRORING) for _ in range(setup.erroring)],
        ]
        for balance, rules in noise:
            provider = market.add_provider(balance)
            market.subscribe(provider, lv, **rules)
            others.add(provider)
    levels = list(market.levels.values())
    leads_per_level: Counter[UUID] = Counter()
    for _ in range(leads):
        outcome = market.distribute(LEAD)
        assert not {s.candidate.provider_id for s in outcome.plan.sales} & others
        start = outcome.rotation.start
        assert start is not None
        # Every level has a funded provider: in first_level the start level is the one that sells.
        selling = levels if mode is DistributionMode.ALL_LEVELS else [start]
        for lv in levels:
            count = sum(1 for s in outcome.plan.sales if s.level.id == lv.id)
            expected = min(lv.max_recipients, len(fair[lv.id])) if lv in selling else 0
            assert count == expected
            leads_per_level[lv.id] += count > 0
        for lv in levels:
            counts = market.sales_per_provider(lv)
            spread = [counts[p] for p in fair[lv.id]]
            assert max(spread) - min(spread) <= 1, (lv.name, spread)
        if mode is DistributionMode.FIRST_LEVEL:
            # Exclusive tiers: the rotation shares the leads out between the levels.
            per_level = [leads_per_level[lv.id] for lv in levels]
            assert max(per_level) - min(per_level) <= 1
        must_fill = selling
        filled = all(len(fair[lv.id]) >= lv.max_recipients for lv in must_fill)
        assert outcome.status is (RunStatus.SUCCESS if filled else RunStatus.PARTIAL)


def test_skipped_provider_keeps_its_place_and_the_next_candidate_fills() -> None:
    market = Marketplace()
    lv = market.add_level(1, max_recipients=1, price_cents=500)
    a, b, c = market.add_provider(100), market.add_provider(FUNDED), market.add_provider(FUNDED)
    for provider in (a, b, c):
        market.subscribe(provider, lv)
    first = market.distribute()
    assert [s.candidate.provider_id for s in first.plan.sales] == [b]
    assert [(s.provider_id, s.reason) for s in first.plan.skips] == [
        (a, SkipReason.INSUFFICIENT_BALANCE)
    ]
    market.balances[a] += 400
    # ``a`` was skipped, not served: it is still ahead of ``c`` and of ``b``, who was served.
    second = market.distribute()
    assert [s.candidate.provider_id for s in second.plan.sales] == [a]
    third = market.distribute()
    assert [s.candidate.provider_id for s in third.plan.sales] == [c]
    fourth = market.distribute()
    assert [s.candidate.provider_id for s in fourth.plan.sales] == [b]


# --- exact rotation, with levels switched on and off between leads ---------------------------


@PROPERTY_SETTINGS
@given(
    mode=MODES,
    initial=st.dictionaries(st.integers(1, 10), st.booleans(), min_size=1, max_size=6),
    pointer=st.integers(-1, 12),
    steps=st.lists(st.none() | st.integers(0, 9), min_size=1, max_size=30),
)
def test_start_level_cycles_exactly_through_the_active_levels(
    mode: DistributionMode,
    initial: dict[int, bool],
    pointer: int,
    steps: list[int | None],
) -> None:
    """``None`` distributes a lead; an integer toggles that level (modulo the level count)."""
    market = Marketplace(mode=mode, pointer=pointer)
    levels = [
        market.add_level(position, is_active=active, max_recipients=1)
        for position, active in initial.items()
    ]
    for lv in levels:
        market.subscribe(market.add_provider(FUNDED), lv)
    previous_start: int | None = None
    activated_since = False
    for step in steps:
        if step is not None:
            lv = levels[step % len(levels)]
            now_active = not market.levels[lv.id].is_active
            market.set_active(lv, now_active)
            activated_since |= now_active
            continue
        active = sorted(lv.order_position for lv in market.levels.values() if lv.is_active)
        pointer_before = market.pointer
        outcome = market.distribute(LEAD)
        if not active:
            assert outcome.rotation.traversal == () and outcome.plan.sales == ()
            assert outcome.status is RunStatus.NO_ELIGIBLE
            assert market.pointer == pointer_before
            continue
        start = first_at_or_after(active, pointer_before)
        traversal = [lv.order_position for lv in outcome.rotation.traversal]
        assert traversal[0] == start
        assert sorted(traversal) == active
        assert market.pointer == circular_successor(active, start)
        if previous_start is not None and not activated_since:
            # With levels only ever switched off, each lead starts on the next active level.
            assert start == circular_successor(active, previous_start)
        # Inactive levels never sell.
        assert {s.level.order_position for s in outcome.plan.sales} <= set(active)
        if mode is DistributionMode.FIRST_LEVEL:
            assert [s.level.order_position for s in outcome.plan.sales] == [start]
        else:
            assert sorted(s.level.order_position for s in outcome.plan.sales) == active
        previous_start = start
        activated_since = False


# --- a random marketplace: dedupe, fill, LRU places, money, outcome -------------------------

POSTAL_CODES = [(), ("10001",), ("20002",), ("10001", "20002")]
FILTERS: list[list[dict[str, Any]]] = [
    [],
    [{"field": "rooms", "op": "gte", "value": 2}],
    [{"field": "rooms", "op": "between", "value": [1, 2]}],
    [{"field": "size", "op": "in", "value": ["m", "l"]}],
    [{"field": "size", "op": "eq", "value": "l"}, {"field": "rooms", "op": "lte", "value": 3}],
]
leads = st.builds(
    Lead,
    postal_code=st.sampled_from(["10001", "20002"]),
    attributes=st.fixed_dictionaries(
        {"rooms": st.sampled_from([1, 2, 3.0, 5, "three", None, True])},
        optional={"size": st.sampled_from(["s", "l"])},
    ),
)
subscription_rules = st.fixed_dictionaries(
    {
        "postal_codes": st.sampled_from(POSTAL_CODES),
        "filters": st.sampled_from(FILTERS),
        "cap": st.sampled_from([None, None, 0, 1, 3]),
    }
)


@st.composite
def marketplaces(draw: st.DrawFn) -> Marketplace:
    market = Marketplace(mode=draw(MODES), pointer=draw(st.integers(-1, 9)))
    positions = draw(st.lists(st.integers(1, 8), min_size=1, max_size=4, unique=True))
    levels = [
        market.add_level(
            position,
            max_recipients=draw(st.integers(1, 3)),
            price_cents=draw(st.sampled_from([0, 50, 100, 250])),
            is_active=draw(st.booleans() | st.just(True)),
        )
        for position in positions
    ]
    for _ in range(draw(st.integers(1, 7))):
        provider = market.add_provider(draw(st.sampled_from([0, 50, 100, 200, 450, 1000, FUNDED])))
        for lv in levels:
            if draw(st.booleans()):
                market.subscribe(provider, lv, **draw(subscription_rules))
    return market


def lru_sort_key(candidate: Candidate) -> tuple[bool, int, UUID]:
    """SPEC §3: last served ASC NULLS FIRST, provider id ASC."""
    return (candidate.lru_order is not None, candidate.lru_order or 0, candidate.provider_id)


def check_round(market: Marketplace, outcome: Round) -> None:
    plan, mode = outcome.plan, market.mode
    traversal = list(outcome.rotation.traversal)
    sold_in_order = [s.candidate.provider_id for s in plan.sales]
    # Every run advances the pointer, no_eligible included (SPEC §8 "Rotation").
    active = sorted(lv.order_position for lv in market.levels.values() if lv.is_active)
    if active:
        start = first_at_or_after(active, outcome.pointer_before)
        assert [lv.order_position for lv in traversal][:1] == [start]
        assert market.pointer == circular_successor(active, start)
    else:
        assert traversal == [] and market.pointer == outcome.pointer_before
    # No provider twice per lead.
    assert len(sold_in_order) == len(set(sold_in_order))

    # Levels visited: every level in all_levels; up to the first that sold in first_level.
    visited = [fill.level for fill in plan.fills]
    if mode is DistributionMode.ALL_LEVELS or not plan.sales:
        assert visited == traversal
    else:
        assert visited == traversal[: len(visited)]
        assert all(fill.sold == 0 for fill in plan.fills[:-1]) and plan.fills[-1].sold > 0
    assert [s.level.id for s in plan.sales] == sorted(
        (s.level.id for s in plan.sales), key=[lv.id for lv in visited].index
    )

    sold_before: set[UUID] = set()
    for fill in plan.fills:
        level = fill.level
        candidates = list(outcome.candidates.get(level.id, ()))
        assert candidates == sorted(candidates, key=lru_sort_key)
        sales = [s.candidate for s in plan.sales if s.level.id == level.id]
        skips = {s.subscription_id: s.reason for s in plan.skips if s.level_id == level.id}
        assert fill.sold == len(sales) <= level.max_recipients
        # The walk covers the list up to the last seat filled, or all of it when short.
        walked = candidates[: candidates.index(sales[-1]) + 1] if fill.filled else candidates
        assert set(skips) <= {c.subscription_id for c in walked}
        for candidate in walked:
            provider = candidate.provider_id
            balance = outcome.balances_before.get(provider, 0)
            if candidate.eligibility is Eligibility.NO_MATCH:
                assert candidate not in sales and candidate.subscription_id not in skips
            elif candidate in sales:
                assert candidate.eligibility is Eligibility.MATCH
                assert provider not in sold_before and not candidate.cap_reached
                assert balance >= level.price_cents
            else:
                reason = skips[candidate.subscription_id]
                if candidate.eligibility is Eligibility.ERROR:
                    assert reason is SkipReason.ELIGIBILITY_ERROR
                elif provider in sold_before:
                    assert reason is SkipReason.DUPLICATE
                elif candidate.cap_reached:
                    assert reason is SkipReason.CAP_REACHED
                else:
                    assert reason is SkipReason.INSUFFICIENT_BALANCE
                    assert balance < level.price_cents
            if candidate in sales:
                sold_before.add(provider)

    # Outcome per SPEC §3 step 7.
    must_fill = (
        plan.fills if mode is DistributionMode.ALL_LEVELS else [f for f in plan.fills if f.sold > 0]
    )
    if not plan.sales:
        assert outcome.status is RunStatus.NO_ELIGIBLE
    elif all(f.sold == f.level.max_recipients for f in must_fill):
        assert outcome.status is RunStatus.SUCCESS
    else:
        assert outcome.status is RunStatus.PARTIAL

    # Sold subscriptions move to the back in sale order; everyone else keeps their place.
    before = [k for k in outcome.lru_before.values() if k is not None]
    keys = list(outcome.order_keys)
    assert keys == sorted(set(keys)) and all(k > max(before, default=0) for k in keys)
    by_sub = {sub.id: sub for sub in market.subscriptions}
    sold_subs = [s.candidate.subscription_id for s in plan.sales]
    assert [by_sub[sid].lru_order for sid in sold_subs] == keys
    for sid, key in outcome.lru_before.items():
        if sid not in sold_subs:
            assert by_sub[sid].lru_order == key

    # Money: each sale charged its level's price, once.
    for provider, balance in outcome.balances_before.items():
        paid = sum(s.price_cents for s in plan.sales if s.candidate.provider_id == provider)
        assert market.balances[provider] == balance - paid >= 0


@PROPERTY_SETTINGS
@given(market=marketplaces(), steps=st.lists(st.tuples(leads, st.integers(0, 300)), max_size=12))
def test_random_marketplace_keeps_every_distribution_rule(
    market: Marketplace, steps: list[tuple[Lead, int]]
) -> None:
    """Each step is a lead, then a deposit for one provider (chosen by the amount)."""
    opening = dict(market.balances)
    providers = sorted(market.balances)
    deposits: Counter[UUID] = Counter()
    for lead, amount in steps:
        outcome = market.distribute(lead)
        check_round(market, outcome)
        lucky = providers[amount % len(providers)]
        market.balances[lucky] += amount
        deposits[lucky] += amount
    all_sales = [s for r in market.rounds for s in r.plan.sales]
    assert market.charged == sum(s.price_cents for s in all_sales)
    for provider in providers:
        spent = sum(s.price_cents for s in all_sales if s.candidate.provider_id == provider)
        assert market.balances[provider] == opening[provider] + deposits[provider] - spent >= 0
    keys = [sub.lru_order for sub in market.subscriptions if sub.lru_order is not None]
    assert len(keys) == len(set(keys))


@PROPERTY_SETTINGS
@given(
    mode=MODES,
    levels=st.integers(2, 4),
    providers=st.integers(1, 5),
    max_recipients=st.integers(1, 4),
    leads_count=st.integers(1, 10),
)
def test_provider_in_every_level_is_sold_once_per_lead(
    mode: DistributionMode, levels: int, providers: int, max_recipients: int, leads_count: int
) -> None:
    market = Marketplace(mode=mode)
    all_levels = [
        market.add_level(n, max_recipients=max_recipients, price_cents=10 * n)
        for n in range(1, levels + 1)
    ]
    everyone = [market.add_provider(FUNDED) for _ in range(providers)]
    for provider in everyone:
        for lv in all_levels:
            market.subscribe(provider, lv)
    for _ in range(leads_count):
        outcome = market.distribute(LEAD)
        sold = [s.candidate.provider_id for s in outcome.plan.sales]
        assert len(sold) == len(set(sold))
        if mode is DistributionMode.ALL_LEVELS:
            # Everyone buys once; the levels fill in traversal order until nobody is left.
            assert len(sold) == min(providers, levels * max_recipients)
            duplicates = [s for s in outcome.plan.skips if s.reason is SkipReason.DUPLICATE]
            assert {s.provider_id for s in duplicates} <= set(sold)
            assert all(s.reason is SkipReason.DUPLICATE for s in outcome.plan.skips)
        else:
            assert len(sold) == min(providers, max_recipients)
            assert outcome.plan.skips == ()


def test_first_level_mode_moves_on_when_the_start_level_cannot_sell() -> None:
    market = Marketplace(mode=DistributionMode.FIRST_LEVEL)
    gold = market.add_level(1, max_recipients=1, price_cents=4900)
    silver = market.add_level(2, max_recipients=2, price_cents=2500)
    bronze = market.add_level(3, max_recipients=1, price_cents=1000)
    poor = market.add_provider(3000)
    market.subscribe(poor, gold)
    s1, s2 = market.add_provider(FUNDED), market.add_provider(FUNDED)
    market.subscribe(s1, silver)
    market.subscribe(s2, silver)
    market.subscribe(market.add_provider(FUNDED), bronze)
    outcome = market.distribute(LEAD)
    # Gold starts but its only provider cannot pay: silver, next in traversal, takes the lead.
    assert [f.level for f in outcome.plan.fills] == [gold, silver]
    assert {s.candidate.provider_id for s in outcome.plan.sales} == {s1, s2}
    assert outcome.status is RunStatus.SUCCESS
    assert market.balances[poor] == 3000
    # The next lead starts on silver, whatever happened to gold.
    assert market.pointer == silver.order_position


def _level_positions(levels: list[Level]) -> list[int]:
    return [lv.order_position for lv in levels]


def test_seed_three_levels_all_levels_scenario() -> None:
    """Gold max 1 at $49, Silver max 3 at $25, Bronze max 5 at $10, as in the demo."""
    market = Marketplace()
    gold = market.add_level(1, max_recipients=1, price_cents=4900)
    silver = market.add_level(2, max_recipients=3, price_cents=2500)
    bronze = market.add_level(3, max_recipients=5, price_cents=1000)
    for lv, count in ((gold, 2), (silver, 4), (bronze, 5)):
        for _ in range(count):
            market.subscribe(market.add_provider(10_000), lv)
    outcome = market.distribute(LEAD)
    assert _level_positions([f.level for f in outcome.plan.fills]) == [1, 2, 3]
    assert [f.sold for f in outcome.plan.fills] == [1, 3, 5]
    assert market.charged == 4900 + 3 * 2500 + 5 * 1000
    assert outcome.status is RunStatus.SUCCESS
    second = market.distribute(LEAD)
    assert _level_positions(list(second.rotation.traversal)) == [2, 3, 1]
    third = market.distribute(LEAD)
    assert _level_positions(list(third.rotation.traversal)) == [3, 1, 2]
    fourth = market.distribute(LEAD)
    assert _level_positions(list(fourth.rotation.traversal)) == [1, 2, 3]
