"""Fairness and money properties of ``distribute_lead`` itself on PostgreSQL (hypothesis).

These cover whatever code production runs, including optimized SQL: generated niches and lead
sequences go through the real engine, and the properties are checked on what it stored.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg_pool import ConnectionPool

from leadflow.db.connection import Connection
from leadflow.domain.model import Actor
from leadflow.services.distribution import distribute_lead
from tests.support import queries
from tests.support.factory import market

Pool = ConnectionPool[Connection]
PG_EXAMPLES = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

level_specs = st.lists(
    st.tuples(
        st.integers(1, 3), st.integers(0, 2000), st.booleans()
    ),  # max_recipients, price, active
    min_size=1,
    max_size=3,
).filter(lambda levels: any(active for _, _, active in levels))


@PG_EXAMPLES
@given(
    levels=level_specs,
    providers_per_level=st.lists(st.integers(1, 5), min_size=3, max_size=3),
    mode=st.sampled_from(["all_levels", "first_level"]),
    lead_count=st.integers(1, 9),
)
def test_equally_eligible_funded_providers_are_served_evenly_and_the_start_cycles(
    pool: Pool,
    levels: list[tuple[int, int, bool]],
    providers_per_level: list[int],
    mode: str,
    lead_count: int,
) -> None:
    m = market(
        pool,
        [(f"L{i}", max_r, price) for i, (max_r, price, _) in enumerate(levels, start=1)],
        mode=mode,
        inactive=[i for i, (_, _, active) in enumerate(levels, start=1) if not active],
    )
    members: dict[int, list[Any]] = {}
    for position in range(1, len(levels) + 1):
        members[position] = [
            m.add_provider(f"l{position}p{k}", balance_cents=1_000_000, levels=[position])
            for k in range(providers_per_level[position - 1])
        ]
    active = [i for i, (_, _, a) in enumerate(levels, start=1) if a]
    served: dict[int, Counter[Any]] = {position: Counter() for position in members}

    for n in range(lead_count):
        result = distribute_lead(pool, lead_id=m.lead(), triggered_by=Actor.system())

        assert result.start_level_order_position == active[n % len(active)]
        sold = [a.provider_id for a in result.assignments]
        assert len(sold) == len(set(sold)), "a provider was sold the same lead twice"
        for position, level_members in members.items():
            level = m.level(position)
            here = [a.provider_id for a in result.assignments if a.competition_level_id == level.id]
            assert len(here) <= level.max_recipients
            if position not in active:
                assert here == []
            served[position].update(here)
            counts = [served[position][p] for p in level_members]
            assert max(counts) - min(counts) <= 1, (
                f"level {position} uneven after lead {n + 1}: {counts}"
            )


@PG_EXAMPLES
@given(
    balances=st.lists(st.integers(0, 6000), min_size=2, max_size=6),
    memberships=st.lists(st.sets(st.integers(1, 3), min_size=1), min_size=6, max_size=6),
    lead_count=st.integers(1, 8),
)
def test_money_never_goes_negative_and_every_sale_is_paid_exactly_once(
    pool: Pool, balances: list[int], memberships: list[set[int]], lead_count: int
) -> None:
    m = market(pool)  # Gold 1 @ 49, Silver 3 @ 25, Bronze 5 @ 10
    for k, balance in enumerate(balances):
        m.add_provider(f"p{k}", balance_cents=balance, levels=sorted(memberships[k]))
    prices = {lv.id: lv.price_per_lead_cents for lv in m.levels}

    for _ in range(lead_count):
        before = {pid: queries.balance(pool, pid) for pid in m.providers.values()}
        result = distribute_lead(pool, lead_id=m.lead(), triggered_by=Actor.system())
        after = {pid: queries.balance(pool, pid) for pid in m.providers.values()}

        for a in result.assignments:
            assert a.price_charged_cents == prices[a.competition_level_id]
            assert before[a.provider_id] >= a.price_charged_cents
        charged = Counter[Any]()
        for a in result.assignments:
            charged[a.provider_id] += a.price_charged_cents
        assert all(after[pid] == before[pid] - charged[pid] >= 0 for pid in before)
        assert len({a.provider_id for a in result.assignments}) == len(result.assignments)
