"""The engine on PostgreSQL makes exactly the decisions of the pure core, lead after lead.

Hypothesis builds a marketplace (levels, providers with tight balances, subscriptions with
postal codes, filters and caps) in the database and, with the same ids, in the in-memory
simulation of ``tests/support/simulation.py``; then every lead is distributed by both and the
start level, the sales (in order) and the skips (in order, with reasons) must be identical.
Low-balance pauses are mirrored in the simulation the way SPEC §8 defines them.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg_pool import ConnectionPool

from leadflow.db.connection import Connection
from leadflow.domain.model import Actor, DistributionMode
from leadflow.domain.rotation import Level
from leadflow.services.distribution import distribute_lead
from tests.support import queries, simulation
from tests.support.factory import market

Pool = ConnectionPool[Connection]

FILTERS: list[list[dict[str, Any]]] = [
    [],
    [{"field": "rooms", "op": "gte", "value": 3}],
    [{"field": "kind", "op": "eq", "value": "home"}],
    [
        {"field": "rooms", "op": "between", "value": [2, 4]},
        {"field": "kind", "op": "in", "value": ["home", "office"]},
    ],
]
subscription = st.fixed_dictionaries(
    {
        # Weighted towards rules that match, so levels have competing candidates.
        "postal_codes": st.sampled_from([(), (), (), ("A1",), ("A1", "B2")]),
        "filters": st.sampled_from([0, 0, 0, 1, 2, 3]),
        "daily_cap": st.sampled_from([None, None, 1, 2]),
    }
)
lead = st.fixed_dictionaries(
    {
        "postal_code": st.sampled_from(["A1", "B2", "C3"]),
        "attributes": st.fixed_dictionaries(
            {},
            optional={
                "rooms": st.sampled_from([1, 3, 5, "many"]),
                "kind": st.sampled_from(["home", "office", 7]),
            },
        ),
    }
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    levels=st.lists(
        st.tuples(st.integers(1, 3), st.integers(0, 3000), st.booleans()), min_size=1, max_size=3
    ),
    mode=st.sampled_from(list(DistributionMode)),
    providers=st.lists(
        st.tuples(
            st.integers(0, 8000),
            st.dictionaries(st.integers(1, 3), subscription, min_size=1, max_size=3),
        ),
        min_size=3,
        max_size=7,
    ),
    leads=st.lists(lead, min_size=1, max_size=8),
)
def test_engine_decides_exactly_like_the_pure_core(
    pool: Pool,
    levels: list[tuple[int, int, bool]],
    mode: DistributionMode,
    providers: list[tuple[int, dict[int, dict[str, Any]]]],
    leads: list[dict[str, Any]],
) -> None:
    m = market(
        pool,
        [(f"L{i}", max_r, price) for i, (max_r, price, _) in enumerate(levels, start=1)],
        mode=mode,
        inactive=[i for i, (_, _, active) in enumerate(levels, start=1) if not active],
    )
    sim = simulation.Marketplace(mode=mode)
    for lv in m.levels:
        sim.levels[lv.id] = Level(
            lv.id,
            lv.name,
            lv.order_position,
            lv.max_recipients,
            lv.price_per_lead_cents,
            lv.is_active,
        )
    for k, (balance, subscriptions) in enumerate(providers):
        wanted = {
            position: rules for position, rules in subscriptions.items() if position <= len(levels)
        }
        provider_id = m.add_provider(f"p{k}", balance_cents=balance)
        sim.balances[provider_id] = balance
        for position, rules in sorted(wanted.items()):
            m.add_provider(
                f"p{k}",
                balance_cents=0,
                levels=[position],
                postal_codes=rules["postal_codes"],
                filters=FILTERS[rules["filters"]],
                daily_cap=rules["daily_cap"],
            )
            level = m.level(position)
            sim.subscriptions.append(
                simulation.Subscription(
                    id=m.subscriptions[(f"p{k}", position)],
                    provider_id=provider_id,
                    level_id=level.id,
                    postal_codes=rules["postal_codes"],
                    filters=FILTERS[rules["filters"]],
                    cap=rules["daily_cap"],
                    # A subscription starts paused when the balance does not cover the price.
                    active=balance >= level.price_per_lead_cents,
                )
            )

    for n, spec in enumerate(leads, start=1):
        expected = sim.distribute(
            simulation.Lead(postal_code=spec["postal_code"], attributes=spec["attributes"])
        )
        _mirror_low_balance_pauses(sim, expected.plan.balance_provider_ids)
        result = distribute_lead(pool, lead_id=m.lead(**spec), triggered_by=Actor.system())

        where = f"lead {n}"
        start = expected.rotation.start.order_position if expected.rotation.start else None
        assert result.start_level_order_position == start, where
        assert [
            (a.provider_id, a.subscription_id, a.competition_level_id, a.price_charged_cents)
            for a in result.assignments
        ] == [
            (s.candidate.provider_id, s.candidate.subscription_id, s.level.id, s.price_cents)
            for s in expected.plan.sales
        ], where
        assert [
            (s.provider_id, s.subscription_id, s.level_id, s.reason) for s in result.skipped
        ] == [
            (s.provider_id, s.subscription_id, s.level_id, s.reason) for s in expected.plan.skips
        ], where
        assert result.status is expected.status, where
    for provider_id, balance in sim.balances.items():
        assert queries.balance(pool, provider_id) == balance


def _mirror_low_balance_pauses(sim: simulation.Marketplace, provider_ids: frozenset[Any]) -> None:
    """SPEC §8: after a run, active subscriptions of every provider it charged or skipped for
    insufficient balance are paused where the balance no longer covers the level's price."""
    for sub in sim.subscriptions:
        affordable = sim.balances[sub.provider_id] >= sim.levels[sub.level_id].price_cents
        if sub.active and sub.provider_id in provider_ids and not affordable:
            sub.active = False
