"""Invariant 7 (SPEC §14) as a property: random mixes of new and repeated consumers in two
niches, sold, left unsold or expired, through the real API and engine. No ``duplicate`` or
``expired`` lead is ever assigned, and no provider buys the same consumer twice within its
``dedupe_days``, in any niche."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadflow.domain.model import Actor
from leadflow.services import unsold
from leadflow.services.distribution import distribute_lead
from tests.e2e.api.conftest import Marketplace

CONSUMERS = [(f"c{i}@example.com", f"+1 212 555 01{i:02d}") for i in range(4)]
# Covered by every subscription; a lead elsewhere finds no buyer and waits (then may expire).
COVERED, UNCOVERED = "10001", "99999"

SOLD_TWICE = """
    SELECT a.provider_id, count(*) FROM lead_assignments a
    JOIN leads l ON l.id = a.lead_id
    JOIN providers p ON p.id = a.provider_id
    WHERE a.status = 'active' AND a.assigned_at > now() - make_interval(days => p.dedupe_days)
    GROUP BY a.provider_id, COALESCE(l.phone_e164, l.email_normalized) HAVING count(*) > 1
"""
SOLD_HELD_BACK = """
    SELECT l.id FROM leads l JOIN lead_assignments a ON a.lead_id = l.id
    WHERE l.status IN ('duplicate', 'expired')
"""

steps = st.lists(
    st.tuples(
        st.sampled_from(["movers", "cleaners"]),
        st.integers(0, len(CONSUMERS) - 1),
        st.sampled_from(["sell", "leave", "unsold", "expire"]),
    ),
    min_size=1,
    max_size=8,
)


@pytest.mark.parametrize("auto_distribute", [False])
def test_held_back_leads_are_never_sold_and_no_consumer_twice_to_a_provider(
    market: Marketplace, pool: Any, db_url: str
) -> None:
    levels = [
        market.niche(slug, levels=[("Gold", 2, 100)], duplicate_window_days=30)["levels"][0]["id"]
        for slug in ("movers", "cleaners")
    ]
    for name, subscribed in (("Both", levels), ("Movers", levels[:1]), ("Cleaners", levels[1:])):
        market.provider(
            name,
            balance_cents=10_000_000,
            levels=subscribed,
            dedupe_days=30,
            postal_codes=[COVERED],
        )

    @settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(steps)
    def run(plan: list[tuple[str, int, str]]) -> None:
        # Each example starts from a clean slate: what earlier ones stored is out of every window.
        with psycopg.connect(db_url) as conn:
            conn.execute("UPDATE leads SET created_at = created_at - interval '31 days'")
            conn.execute(
                "UPDATE lead_assignments SET assigned_at = assigned_at - interval '31 days'"
            )
        unsold.expire_due(pool)  # and what of them waited unsold has expired
        for niche, consumer, action in plan:
            email, phone = CONSUMERS[consumer]
            postal = UNCOVERED if action in ("unsold", "expire") else COVERED
            lead = market.lead(niche, email=email, phone=phone, postal_code=postal)
            if lead["status"] == "duplicate" or action == "leave":
                continue
            market.post(f"/admin/leads/{lead['id']}/approve", {}, expect=200)
            result = distribute_lead(pool, lead_id=UUID(lead["id"]), triggered_by=Actor.system())
            if action in ("unsold", "expire"):
                assert str(result.status) == "no_eligible"
            if action == "expire":
                _backdate(db_url, lead["id"], hours=73)
                assert unsold.expire_due(pool) == 1
        with psycopg.connect(db_url) as conn:
            assert conn.execute(SOLD_HELD_BACK).fetchall() == []
            assert conn.execute(SOLD_TWICE).fetchall() == []

    run()
    # The property was exercised: leads of each kind were stored.
    with psycopg.connect(db_url) as conn:
        kinds = {row[0] for row in conn.execute("SELECT DISTINCT status FROM leads")}
    assert {"duplicate", "expired", "distributed"} <= kinds


def _backdate(db_url: str, lead_id: str, *, hours: int) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "UPDATE leads SET created_at = created_at - make_interval(hours => %s) WHERE id = %s",
            (hours, lead_id),
        )
