"""The planner's ``duplicate_consumer`` skips (SPEC §11): providers that bought the lead's
consumer are never sold it, and the plan is otherwise the plan without them."""

from __future__ import annotations

from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadflow.domain.eligibility import Eligibility
from leadflow.domain.model import DistributionMode, SkipReason
from leadflow.domain.rotation import Level
from leadflow.domain.selection import Candidate, Plan, lru_order, plan_distribution

PROVIDERS = 6
EARLIER = {SkipReason.ELIGIBILITY_ERROR, SkipReason.DUPLICATE}


def level(n: int, max_recipients: int = 1, price: int = 100) -> Level:
    return Level(UUID(int=10_000 + n), f"L{n}", n, max_recipients, price)


def candidate(provider: int, lv: Level, lru: int | None, **kw: object) -> Candidate:
    return Candidate(
        subscription_id=UUID(int=100_000 + lv.order_position * 1000 + provider),
        provider_id=UUID(int=provider),
        level_id=lv.id,
        lru_order=lru,
        **kw,  # type: ignore[arg-type]
    )


@st.composite
def markets(
    draw: st.DrawFn,
) -> tuple[list[Level], dict[UUID, list[Candidate]], dict[UUID, int], frozenset[UUID]]:
    levels = [
        level(n, draw(st.integers(1, 3)), draw(st.integers(1, 300)))
        for n in range(1, draw(st.integers(1, 3)) + 1)
    ]
    candidates: dict[UUID, list[Candidate]] = {}
    for lv in levels:
        providers = draw(st.lists(st.integers(1, PROVIDERS), unique=True, max_size=PROVIDERS))
        candidates[lv.id] = lru_order(
            candidate(
                p,
                lv,
                draw(st.one_of(st.none(), st.integers(1, 50))),
                eligibility=draw(st.sampled_from(list(Eligibility))),
                cap_reached=draw(st.booleans()),
            )
            for p in providers
        )
    balances = {UUID(int=p): draw(st.integers(0, 600)) for p in range(1, PROVIDERS + 1)}
    bought = frozenset(UUID(int=p) for p in draw(st.sets(st.integers(1, PROVIDERS), max_size=2)))
    return levels, candidates, balances, bought


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    market=markets(),
    excluded=st.sets(st.integers(1, PROVIDERS)),
    mode=st.sampled_from(list(DistributionMode)),
    truncate=st.booleans(),
)
def test_excluded_providers_are_skipped_and_the_rest_of_the_plan_is_unchanged(
    market: tuple[list[Level], dict[UUID, list[Candidate]], dict[UUID, int], frozenset[UUID]],
    excluded: set[int],
    mode: DistributionMode,
    truncate: bool,
) -> None:
    levels, candidates, balances, bought = market
    out = frozenset(UUID(int=p) for p in excluded)
    truncated = frozenset(lv.id for lv in levels) if truncate else frozenset()

    def plan(cands: dict[UUID, list[Candidate]], consumer: frozenset[UUID]) -> Plan:
        return plan_distribution(
            levels,
            cands,
            balances,
            mode=mode,
            truncated=truncated,
            bought=bought,
            consumer_buyers=consumer,
        )

    with_skips = plan(candidates, out)
    without = plan(
        {lid: [c for c in cs if c.provider_id not in out] for lid, cs in candidates.items()},
        frozenset(),
    )
    # No sale to an excluded provider.
    assert not with_skips.sold_provider_ids & out
    # Everything else is the plan without those providers.
    assert with_skips.sales == without.sales
    assert with_skips.fills == without.fills
    assert with_skips.needs_more == without.needs_more
    assert [s for s in with_skips.skips if s.provider_id not in out] == list(without.skips)
    # The excluded providers' candidates walked are skips: ``duplicate_consumer`` unless an
    # earlier reason (eligibility error, or this very lead bought before) applies; never money.
    for skip in with_skips.skips:
        if skip.provider_id in out:
            assert skip.reason in EARLIER | {SkipReason.DUPLICATE_CONSUMER}
    assert not with_skips.balance_provider_ids & out
    # Without exclusions nothing is ever a duplicate_consumer skip.
    assert all(s.reason is not SkipReason.DUPLICATE_CONSUMER for s in without.skips)


def test_a_duplicate_consumer_skip_does_not_take_a_seat() -> None:
    lv = level(1, max_recipients=2)
    cands = {lv.id: [candidate(1, lv, None), candidate(2, lv, 1), candidate(3, lv, 2)]}
    rich = {UUID(int=p): 1000 for p in (1, 2, 3)}
    plan = plan_distribution([lv], cands, rich, consumer_buyers=frozenset({UUID(int=1)}))
    assert [s.candidate.provider_id.int for s in plan.sales] == [2, 3]
    assert [(s.provider_id.int, s.reason) for s in plan.skips] == [
        (1, SkipReason.DUPLICATE_CONSUMER)
    ]


def test_a_provider_who_bought_this_lead_is_a_duplicate_not_a_duplicate_consumer() -> None:
    lv = level(1)
    cands = {lv.id: [candidate(1, lv, None), candidate(2, lv, 1)]}
    one = frozenset({UUID(int=1)})
    plan = plan_distribution(
        [lv], cands, {UUID(int=1): 500, UUID(int=2): 500}, bought=one, consumer_buyers=one
    )
    assert [(s.provider_id.int, s.reason) for s in plan.skips] == [(1, SkipReason.DUPLICATE)]
    assert [s.candidate.provider_id.int for s in plan.sales] == [2]


def test_a_poor_duplicate_consumer_is_skipped_for_the_consumer_not_its_balance() -> None:
    lv = level(1)
    cands = {lv.id: [candidate(1, lv, None)]}
    plan = plan_distribution([lv], cands, {}, consumer_buyers=frozenset({UUID(int=1)}))
    assert [s.reason for s in plan.skips] == [SkipReason.DUPLICATE_CONSUMER]
    assert plan.balance_provider_ids == frozenset()
