"""Unsold leads (SPEC §11): wake-ups, resale batches and expiry, on PostgreSQL with the real
job queue (the jobs are run by calling the engine as the worker's task does)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from leadflow import metrics
from leadflow.db.connection import Connection, transaction
from leadflow.domain.errors import LeadNotApproved
from leadflow.domain.model import Actor, ActorRole, RunTrigger
from leadflow.services import (
    billing,
    catalog,
    catalog_admin,
    distribution,
    jobs,
    leads,
    returns,
    unsold,
)
from tests.integration.jobs import factories
from tests.integration.jobs.factories import ADMIN
from tests.support import queries
from tests.support.work import committed

Pool = ConnectionPool[Connection]


def waiting_leads(pool: Pool, niche_id: UUID, n: int) -> list[UUID]:
    """``n`` approved leads of the niche, oldest first, each after a run that sold nothing."""
    lead_ids = []
    for _ in range(n):
        lead_id = factories.lead(pool, niche_id, status="approved")
        result = distribution.distribute_lead(pool, lead_id=lead_id, triggered_by=ADMIN)
        assert result.status == "no_eligible"
        lead_ids.append(lead_id)
    return lead_ids


def unfunded_market(pool: Pool) -> factories.Market:
    """One level, one provider without money: its subscription waits ``paused_low_balance``."""
    return factories.market(pool, providers=1, price_cents=1000, balance_cents=0)


def resale_jobs(pool: Pool) -> list[dict[str, Any]]:
    return queries.rows(
        pool,
        "SELECT id, status, args FROM procrastinate_jobs WHERE args->>'trigger' = 'resale' "
        "ORDER BY id",
    )


def run_queued(pool: Pool) -> list[str]:
    """Run every queued resale job as the worker's task would, in queue order; their outcomes."""
    outcomes = []
    for job in resale_jobs(pool):
        if job["status"] != "todo":
            continue
        result = distribution.distribute_lead(
            pool,
            lead_id=UUID(job["args"]["lead_id"]),
            triggered_by=Actor.system(),
            job_id=job["id"],
            trigger=RunTrigger(job["args"]["trigger"]),
        )
        with transaction(pool) as conn:
            conn.execute(
                "UPDATE procrastinate_jobs SET status = 'succeeded' WHERE id = %s", (job["id"],)
            )
        outcomes.append(str(result.status))
    return outcomes


def resell(pool: Pool, **kwargs: Any) -> int:
    kwargs.setdefault("min_interval", 0)
    kwargs.setdefault("grace", 0)
    return unsold.resell_due(pool, **kwargs)


def wakeups(pool: Pool) -> list[dict[str, Any]]:
    return queries.rows(pool, "SELECT niche_id, reason FROM unsold_wakeups")


def runs(pool: Pool, lead_id: UUID) -> list[tuple[str, str]]:
    return [
        (r["trigger"], r["status"])
        for r in queries.rows(
            pool,
            "SELECT trigger, status FROM distribution_runs WHERE lead_id = %s ORDER BY started_at",
            lead_id,
        )
    ]


def test_a_run_that_sells_nothing_leaves_the_lead_waiting(pool: Pool) -> None:
    market = unfunded_market(pool)
    [lead_id] = waiting_leads(pool, market.niche_id, 1)
    lead = queries.lead(pool, lead_id)
    assert lead["status"] == "approved" and lead["unsold_at"] is not None


def test_a_deposit_that_resumes_a_subscription_sells_the_waiting_leads_oldest_first(
    pool: Pool,
) -> None:
    market = unfunded_market(pool)
    lead_ids = waiting_leads(pool, market.niche_id, 3)
    assert wakeups(pool) == []

    committed(
        pool,
        billing.deposit,
        actor=ADMIN,
        provider_id=market.provider_ids[0],
        amount_cents=2000,
    )
    assert wakeups(pool) == [{"niche_id": market.niche_id, "reason": "deposit"}]
    before = metrics.leads_resale_queued_total._value.get()

    assert resell(pool) == 3
    assert metrics.leads_resale_queued_total._value.get() == before + 3
    assert [UUID(j["args"]["lead_id"]) for j in resale_jobs(pool)] == lead_ids
    assert {j["args"]["actor_role"] for j in resale_jobs(pool)} == {"system"}
    # The batch is in flight: nothing more is queued until its last job has run.
    assert resell(pool) == 0

    # 2,000 cents buy two leads; the third waits, and the pause it caused wakes nothing.
    assert run_queued(pool) == ["success", "success", "no_eligible"]
    assert [runs(pool, lead_id) for lead_id in lead_ids] == [
        [("distribution", "no_eligible"), ("resale", "success")],
        [("distribution", "no_eligible"), ("resale", "success")],
        [("distribution", "no_eligible"), ("resale", "no_eligible")],
    ]
    audited = queries.rows(
        pool,
        "SELECT entity_id, metadata FROM audit_log WHERE action = 'distribution.requested'",
    )
    assert sorted((a["entity_id"], a["metadata"]["reason"]) for a in audited) == sorted(
        (str(lead_id), "deposit") for lead_id in lead_ids
    )
    assert {a["metadata"]["trigger"] for a in audited} == {"resale"}

    # Every lead had its one offer of this change: the pass ends.
    assert resell(pool) == 0
    assert wakeups(pool) == []


def test_each_change_offers_a_waiting_lead_once(pool: Pool) -> None:
    market = unfunded_market(pool)
    [lead_id] = waiting_leads(pool, market.niche_id, 1)
    for change in range(2):
        committed(
            pool,
            unsold.capacity_may_have_returned,
            reason="test",
            niche_ids=[market.niche_id],
        )
        assert resell(pool) == 1
        assert run_queued(pool) == ["no_eligible"]
        assert resell(pool) == 0
        assert wakeups(pool) == []
        assert len(runs(pool, lead_id)) == 2 + change


def test_changes_while_a_pass_runs_are_served_by_one_more_pass(pool: Pool) -> None:
    market = unfunded_market(pool)
    lead_ids = waiting_leads(pool, market.niche_id, 2)
    for _ in range(3):
        committed(
            pool, unsold.capacity_may_have_returned, reason="test", niche_ids=[market.niche_id]
        )
    assert resell(pool) == 2
    for _ in range(3):
        committed(
            pool, unsold.capacity_may_have_returned, reason="test", niche_ids=[market.niche_id]
        )
    assert run_queued(pool) == ["no_eligible", "no_eligible"]
    # The three later changes came after the pass began: one more pass, one more offer each.
    assert resell(pool) == 2
    assert run_queued(pool) == ["no_eligible", "no_eligible"]
    assert resell(pool) == 0
    assert [len(runs(pool, lead_id)) for lead_id in lead_ids] == [3, 3]


def test_batches_are_bounded_and_the_next_waits_for_the_last_job_of_the_one_before(
    pool: Pool,
) -> None:
    market = unfunded_market(pool)
    lead_ids = waiting_leads(pool, market.niche_id, 7)
    committed(pool, unsold.capacity_may_have_returned, reason="test", niche_ids=[market.niche_id])
    queued: list[UUID] = []
    for expected in (3, 3, 1):
        assert resell(pool, batch=3) == expected
        assert resell(pool, batch=3) == 0
        batch = [UUID(j["args"]["lead_id"]) for j in resale_jobs(pool) if j["status"] == "todo"]
        queued += batch
        run_queued(pool)
    assert queued == lead_ids
    assert resell(pool, batch=3) == 0
    assert wakeups(pool) == []


def test_a_lead_is_not_offered_again_within_the_minimum_interval(pool: Pool) -> None:
    market = unfunded_market(pool)
    [lead_id] = waiting_leads(pool, market.niche_id, 1)
    committed(pool, unsold.capacity_may_have_returned, reason="test", niche_ids=[market.niche_id])
    assert resell(pool, min_interval=3600) == 0
    # Not dropped: the request waits for the interval to pass.
    assert len(wakeups(pool)) == 1
    with transaction(pool) as conn:
        conn.execute(
            "UPDATE leads SET unsold_at = unsold_at - interval '2 hours' WHERE id = %s",
            (lead_id,),
        )
    assert resell(pool, min_interval=3600) == 1


def test_a_lead_already_queued_by_an_operator_gets_no_second_job(pool: Pool) -> None:
    market = unfunded_market(pool)
    first, second = waiting_leads(pool, market.niche_id, 2)
    manual = committed(pool, jobs.request_distribution, actor=ADMIN, lead_id=first)
    committed(pool, unsold.capacity_may_have_returned, reason="test", niche_ids=[market.niche_id])
    assert resell(pool) == 1
    assert [UUID(j["args"]["lead_id"]) for j in resale_jobs(pool)] == [second]
    assert manual.created


def test_what_may_return_capacity_wakes_the_niche(pool: Pool) -> None:
    market = unfunded_market(pool)
    other = unfunded_market(pool)
    waiting_leads(pool, market.niche_id, 1)
    [level_id] = market.level_ids

    def woken() -> list[str]:
        reasons = [w["reason"] for w in wakeups(pool) if w["niche_id"] == market.niche_id]
        with transaction(pool) as conn:
            conn.execute("DELETE FROM unsold_wakeups")
        return reasons

    # A deposit that resumes nothing, and changes elsewhere, wake nothing here.
    committed(
        pool, billing.deposit, actor=ADMIN, provider_id=market.provider_ids[0], amount_cents=1
    )
    committed(
        pool, billing.deposit, actor=ADMIN, provider_id=other.provider_ids[0], amount_cents=5000
    )
    assert woken() == []

    provider = committed(
        pool, catalog.create_provider, actor=ADMIN, name="Newcomer", email="new@example.com"
    )
    committed(pool, billing.deposit, actor=ADMIN, provider_id=provider.id, amount_cents=5000)
    subscription = committed(
        pool,
        catalog.create_subscription,
        actor=ADMIN,
        provider_id=provider.id,
        competition_level_id=level_id,
    )
    assert woken() == ["subscription_created"]

    committed(
        pool,
        catalog_admin.update_subscription,
        actor=ADMIN,
        subscription_id=subscription.id,
        changes={"status": "paused"},
    )
    assert woken() == []
    committed(
        pool,
        catalog_admin.update_subscription,
        actor=ADMIN,
        subscription_id=subscription.id,
        changes={"status": "active"},
    )
    assert woken() == ["subscription_updated"]
    committed(
        pool,
        catalog_admin.update_subscription,
        actor=ADMIN,
        subscription_id=subscription.id,
        changes={"daily_cap": 5},
    )
    assert woken() == ["subscription_updated"]

    committed(
        pool,
        catalog_admin.update_provider,
        actor=ADMIN,
        provider_id=provider.id,
        changes={"status": "suspended"},
    )
    assert woken() == []
    committed(
        pool,
        catalog_admin.update_provider,
        actor=ADMIN,
        provider_id=provider.id,
        changes={"status": "active"},
    )
    assert woken() == ["provider_reactivated"]

    for active in (False, True):
        committed(
            pool,
            catalog_admin.update_level,
            actor=ADMIN,
            level_id=level_id,
            changes={"is_active": active},
        )
    assert woken() == ["level_updated"]


def test_the_clock_wakes_niches_whose_schedules_open_or_cap_windows_roll_over(
    pool: Pool,
) -> None:
    scheduled, capped, plain = (factories.market(pool, providers=1) for _ in range(3))
    for market in (scheduled, capped, plain):
        # The funded provider's subscription cannot take the lead: a postal code it lacks.
        with transaction(pool) as conn:
            conn.execute(
                "UPDATE subscriptions SET postal_codes = '{99999}' WHERE provider_id = %s",
                (market.provider_ids[0],),
            )
        waiting_leads(pool, market.niche_id, 1)
    hours = {"timezone": "America/New_York", "hours": {"fri": [["09:00", "17:00"]]}}
    with transaction(pool) as conn:
        conn.execute(
            "UPDATE subscriptions SET schedule = %s WHERE provider_id = %s",
            (Jsonb(hours), scheduled.provider_ids[0]),
        )
        conn.execute(
            "UPDATE subscriptions SET daily_cap = 1 WHERE provider_id = %s",
            (capped.provider_ids[0],),
        )
        conn.execute("DELETE FROM unsold_wakeups")

    def woken(until: datetime) -> list[UUID]:
        unsold.wake_on_the_clock(pool, until=until)
        with transaction(pool) as conn:
            rows = conn.execute("DELETE FROM unsold_wakeups RETURNING niche_id").fetchall()
        return sorted(row["niche_id"] for row in rows)

    utc_midnight = datetime(2026, 12, 4, tzinfo=UTC)  # a Friday
    assert woken(utc_midnight + timedelta(minutes=5)) == []
    assert woken(utc_midnight) == [capped.niche_id]
    opening = datetime(2026, 12, 4, 9, tzinfo=ZoneInfo("America/New_York"))
    assert woken(opening) == [scheduled.niche_id]
    assert woken(opening + timedelta(minutes=5)) == []


def test_leads_past_their_niche_ttl_expire_and_are_never_sold(pool: Pool) -> None:
    market = unfunded_market(pool)
    old, fresh = waiting_leads(pool, market.niche_id, 2)
    pending = factories.lead(pool, market.niche_id)
    with transaction(pool) as conn:
        conn.execute(
            "UPDATE leads SET created_at = now() - interval '73 hours' WHERE id = ANY(%s)",
            ([old, pending],),
        )
    before = metrics.leads_expired_total._value.get()

    assert unsold.expire_due(pool) == 1
    assert metrics.leads_expired_total._value.get() == before + 1
    assert queries.lead(pool, old)["status"] == "expired"
    assert queries.lead(pool, old)["expired_at"] is not None
    assert queries.lead(pool, fresh)["status"] == "approved"
    # Not waiting after a run: a lead still awaiting approval does not expire.
    assert queries.lead(pool, pending)["status"] == "pending_approval"
    [audit] = queries.rows(
        pool,
        "SELECT metadata FROM audit_log WHERE action = 'lead.expired' AND entity_id = %s",
        str(old),
    )
    assert audit["metadata"]["lead_ttl_hours"] == 72
    assert unsold.expire_due(pool) == 0

    # Capacity comes back: the expired lead is not offered, its job would find it not approved.
    committed(
        pool, billing.deposit, actor=ADMIN, provider_id=market.provider_ids[0], amount_cents=5000
    )
    assert resell(pool) == 1
    assert [UUID(j["args"]["lead_id"]) for j in resale_jobs(pool)] == [fresh]
    with pytest.raises(LeadNotApproved):
        distribution.distribute_lead(pool, lead_id=old, triggered_by=ADMIN)
    assert queries.rows(pool, "SELECT 1 FROM lead_assignments WHERE lead_id = %s", old) == []


def test_expiry_is_bounded_per_transaction(pool: Pool) -> None:
    market = unfunded_market(pool)
    lead_ids = waiting_leads(pool, market.niche_id, 5)
    with transaction(pool) as conn:
        conn.execute(
            "UPDATE leads SET created_at = now() - interval '100 hours' WHERE id = ANY(%s)",
            (lead_ids,),
        )
    assert unsold.expire_due(pool, batch=2, batches=2) == 4
    assert unsold.expire_due(pool, batch=2, batches=2) == 1
    assert {queries.lead(pool, lead_id)["status"] for lead_id in lead_ids} == {"expired"}


def test_a_lead_sold_by_its_resale_can_still_be_returned_and_sold_once_more(pool: Pool) -> None:
    market = factories.market(pool, providers=2, balance_cents=0)
    committed(
        pool,
        catalog_admin.update_niche,
        actor=ADMIN,
        niche_id=market.niche_id,
        changes={"resell_returned": True},
    )
    [lead_id] = waiting_leads(pool, market.niche_id, 1)
    for provider_id in market.provider_ids:
        committed(pool, billing.deposit, actor=ADMIN, provider_id=provider_id, amount_cents=5000)
    assert resell(pool) == 1
    assert run_queued(pool) == ["success"]
    [sale] = queries.rows(
        pool, "SELECT id, provider_id FROM lead_assignments WHERE lead_id = %s", lead_id
    )
    buyer = Actor(ActorRole.PROVIDER, str(sale["provider_id"]))
    request = committed(
        pool,
        returns.request_return,
        actor=buyer,
        provider_id=sale["provider_id"],
        assignment_id=sale["id"],
        reason="bad_contact",
    )
    decision = committed(pool, returns.approve_return, actor=ADMIN, return_id=request.id)
    assert decision.resale_job_id is not None

    result = distribution.distribute_lead(pool, lead_id=lead_id, triggered_by=ADMIN)
    assert result.status == "success"
    assert [
        (r["trigger"], r["sale_round"], r["assignments_created"])
        for r in queries.rows(
            pool,
            "SELECT trigger, sale_round, assignments_created FROM distribution_runs"
            " WHERE lead_id = %s ORDER BY started_at",
            lead_id,
        )
    ] == [("distribution", 1, 0), ("resale", 1, 1), ("resale", 2, 1)]
    assert queries.lead(pool, lead_id)["status"] == "distributed"


def test_a_rejected_lead_stops_waiting(pool: Pool) -> None:
    market = unfunded_market(pool)
    [lead_id] = waiting_leads(pool, market.niche_id, 1)
    committed(pool, leads.reject_lead, actor=ADMIN, lead_id=lead_id, reason="spam")
    assert queries.lead(pool, lead_id)["unsold_at"] is None
    committed(pool, unsold.capacity_may_have_returned, reason="test", niche_ids=[market.niche_id])
    assert resell(pool) == 0
    with transaction(pool) as conn:
        conn.execute(
            "UPDATE leads SET created_at = now() - interval '100 hours' WHERE id = %s", (lead_id,)
        )
    assert unsold.expire_due(pool) == 0
