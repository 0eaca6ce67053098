"""Delivery rules on PostgreSQL (SPEC §12): schedules across DST, caps and budgets at the edges
of their windows, prices by geography, and how a level's order is explained in the trace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg_pool import ConnectionPool

from leadflow import metrics
from leadflow.db.connection import Connection
from leadflow.domain.model import Actor, RunStatus, SkipReason
from leadflow.services import catalog_admin, runs
from leadflow.services.distribution import distribute_lead, preview_distribution
from tests.support import queries
from tests.support.factory import ADMIN, Market, market
from tests.support.work import committed

SYSTEM = Actor.system()
Pool = ConnectionPool[Connection]
NY = "America/New_York"
ALL_DAY = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def distribute(m: Market, now: datetime, **lead: Any) -> Any:
    return distribute_lead(m.pool, lead_id=m.lead(**lead), triggered_by=SYSTEM, now=now)


def sold(m: Market, result: Any) -> list[str]:
    return sorted(m.name_of(a.provider_id) for a in result.assignments)


def skips(m: Market, result: Any) -> list[tuple[str, SkipReason]]:
    return sorted((m.name_of(s.provider_id), s.reason) for s in result.skipped)


def local(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_the_hour_skipped_in_spring_is_decided_as_the_zone_says(pool: Pool) -> None:
    m = market(pool, [("Gold", 3, 100)])
    m.add_provider(
        "skipped-hour",
        balance_cents=10_000,
        levels=[1],
        schedule={"timezone": NY, "hours": {"sun": [["02:00", "03:00"]]}},
    )
    m.add_provider(
        "after-jump",
        balance_cents=10_000,
        levels=[1],
        schedule={"timezone": NY, "hours": {"sun": [["03:00", "04:00"]]}},
    )
    m.add_provider("always", balance_cents=10_000, levels=[1])

    # 2026-03-08: "02:30" does not exist in New York; read as EST it is 07:30 UTC = 03:30 EDT.
    result = distribute(m, datetime(2026, 3, 8, 7, 30, tzinfo=UTC))

    assert sold(m, result) == ["after-jump", "always"]
    assert skips(m, result) == [("skipped-hour", SkipReason.OUTSIDE_SCHEDULE)]


def test_both_instants_of_the_repeated_autumn_hour_are_in_a_schedule_of_that_hour(
    pool: Pool,
) -> None:
    m = market(pool, [("Gold", 1, 100)])
    m.add_provider(
        "night",
        balance_cents=10_000,
        levels=[1],
        schedule={"timezone": NY, "hours": {"sun": [["01:00", "02:00"]]}},
    )

    first = distribute(m, datetime(2026, 11, 1, 5, 30, tzinfo=UTC))  # 01:30 EDT
    second = distribute(m, datetime(2026, 11, 1, 6, 30, tzinfo=UTC))  # 01:30 EST
    after = distribute(m, datetime(2026, 11, 1, 7, 0, tzinfo=UTC))  # 02:00 EST

    assert sold(m, first) == sold(m, second) == ["night"]
    assert after.status is RunStatus.NO_ELIGIBLE
    assert skips(m, after) == [("night", SkipReason.OUTSIDE_SCHEDULE)]


def test_daily_cap_and_budget_count_in_the_local_day(pool: Pool) -> None:
    m = market(pool, [("Gold", 2, 100)])
    zone = {"timezone": NY, "hours": ALL_DAY}
    m.add_provider("capped", balance_cents=10_000, levels=[1], schedule=zone, daily_cap=1)
    m.add_provider(
        "budget", balance_cents=10_000, levels=[1], schedule=zone, daily_budget_cents=150
    )
    evening = local("2026-12-07T23:59:59-05:00")

    first = distribute(m, evening - timedelta(minutes=5))
    last_second = distribute(m, evening)
    midnight = distribute(m, local("2026-12-08T00:00:00-05:00"))

    assert sold(m, first) == ["budget", "capped"]
    assert sold(m, last_second) == []
    assert skips(m, last_second) == [
        ("budget", SkipReason.BUDGET_REACHED),
        ("capped", SkipReason.CAP_REACHED),
    ]
    assert sold(m, midnight) == ["budget", "capped"]


def test_without_a_schedule_caps_count_in_utc_windows(pool: Pool) -> None:
    m = market(pool, [("Gold", 1, 100)])
    m.add_provider("hourly", balance_cents=10_000, levels=[1], hourly_cap=1, monthly_cap=3)

    results = [
        distribute(m, local(t))
        for t in (
            "2026-12-31T22:59:59+00:00",
            "2026-12-31T23:00:00+00:00",
            "2026-12-31T23:59:59+00:00",  # the same hour: hourly cap
            "2027-01-01T00:00:00+00:00",  # a new hour and a new month
            "2027-01-01T00:00:01+00:00",
        )
    ]

    assert [len(r.assignments) for r in results] == [1, 1, 0, 1, 0]
    assert skips(m, results[2]) == [("hourly", SkipReason.CAP_REACHED)]
    stored = queries.rows(
        pool,
        "SELECT assigned_at FROM lead_assignments WHERE subscription_id = %s ORDER BY 1",
        m.subscriptions[("hourly", 1)],
    )
    assert stored[-1]["assigned_at"] == local("2027-01-01T00:00:00+00:00")


def test_weekly_cap_restarts_on_monday_in_the_subscriptions_zone(pool: Pool) -> None:
    m = market(pool, [("Gold", 1, 100)])
    m.add_provider(
        "weekly",
        balance_cents=10_000,
        levels=[1],
        weekly_cap=2,
        schedule={"timezone": NY, "hours": ALL_DAY},
    )

    counts = [
        len(distribute(m, local(t)).assignments)
        for t in (
            "2026-12-01T09:00:00-05:00",  # Tuesday
            "2026-12-04T09:00:00-05:00",
            "2026-12-06T23:59:59-05:00",  # Sunday, last second of the week: capped
            "2026-12-07T00:00:00-05:00",  # Monday: a new week
        )
    ]

    assert counts == [1, 1, 0, 1]


def test_a_price_override_sets_the_charged_price_and_affordability(pool: Pool) -> None:
    m = market(pool, [("Gold", 2, 100)])
    committed(
        pool,
        catalog_admin.update_level,
        actor=ADMIN,
        level_id=m.level(1).id,
        changes={
            "price_overrides": [
                {"postal_prefix": "1", "price_cents": 150},
                {"postal_prefix": "100", "price_cents": 300},
            ]
        },
    )
    rich = m.add_provider("rich", balance_cents=10_000, levels=[1])
    m.add_provider("poor", balance_cents=200, levels=[1])

    manhattan = distribute(m, datetime.now(UTC), postal_code="10001")
    elsewhere = distribute(m, datetime.now(UTC), postal_code="90210")

    assert [(m.name_of(a.provider_id), a.price_charged_cents) for a in manhattan.assignments] == [
        ("rich", 300)
    ]
    assert skips(m, manhattan) == [("poor", SkipReason.INSUFFICIENT_BALANCE)]
    assert {a.price_charged_cents for a in elsewhere.assignments} == {100}
    assert queries.balance(pool, rich) == 10_000 - 300 - 100
    stored = queries.one(
        pool,
        "SELECT price_charged_cents FROM lead_assignments WHERE lead_id = %s",
        manhattan.lead_id,
    )
    assert stored["price_charged_cents"] == 300
    trace = committed(pool, runs.get_run, run_id=manhattan.run_id)
    assert [(e.outcome, e.price_cents) for e in trace.levels[0].entries] == [
        ("sold", 300),
        ("insufficient_balance", None),
    ]


def test_the_preview_reports_every_new_skip_reason(pool: Pool) -> None:
    m = market(pool, [("Gold", 3, 100)])
    m.add_provider(
        "closed",
        balance_cents=10_000,
        levels=[1],
        schedule={"timezone": "UTC", "hours": {"sat": [["09:00", "10:00"]]}},
    )
    m.add_provider("capped", balance_cents=10_000, levels=[1], hourly_cap=1)
    m.add_provider("budget", balance_cents=10_000, levels=[1], monthly_budget_cents=100)
    now = local("2026-12-07T12:30:00+00:00")  # a Monday
    distribute(m, now - timedelta(minutes=1))  # capped and budget sell their hour/month

    lead_id = m.lead()
    preview = committed(pool, preview_distribution, lead_id=lead_id, now=now)

    assert preview.selections == ()
    assert sorted((m.name_of(s.provider_id), s.reason) for s in preview.skipped) == [
        ("budget", SkipReason.BUDGET_REACHED),
        ("capped", SkipReason.CAP_REACHED),
        ("closed", SkipReason.OUTSIDE_SCHEDULE),
    ]


def _set_weight(m: Market, name: str, weight: int) -> None:
    committed(
        m.pool,
        catalog_admin.update_subscription,
        actor=ADMIN,
        subscription_id=m.subscriptions[(name, 1)],
        changes={"weight": weight},
    )


def _credits(m: Market) -> dict[str, int]:
    found = queries.rows(
        m.pool,
        "SELECT subscription_id, credit FROM subscription_credits WHERE subscription_id = ANY(%s)",
        list(m.subscriptions.values()),
    )
    names = {sid: name for (name, _), sid in m.subscriptions.items()}
    return {names[r["subscription_id"]]: r["credit"] for r in found}


def test_a_level_switching_order_is_explained_in_the_trace(pool: Pool) -> None:
    m = market(pool, [("Gold", 1, 100)])
    for name in ("a", "b", "c"):
        m.add_provider(name, balance_cents=100_000, levels=[1])
    now = datetime.now(UTC)

    equal = distribute(m, now)
    _set_weight(m, "a", 5)
    switched = [distribute(m, now) for _ in range(7)]
    _set_weight(m, "a", 1)
    back = distribute(m, now)

    def level_trace(result: Any) -> Any:
        return committed(pool, runs.get_run, run_id=result.run_id).levels[0]

    assert (level_trace(equal).order, level_trace(equal).note) == ("lru", None)
    first = level_trace(switched[0])
    assert first.order == "weighted"
    assert first.note is not None and "every credit started at 0" in first.note
    assert level_trace(switched[1]).order == "weighted"
    assert "round-robin" in (level_trace(switched[1]).note or "")
    assert level_trace(back).order == "lru"
    assert "equal again" in (level_trace(back).note or "")
    # From credits 0 after the switch: nginx's sequence for 5/1/1, a a x a y a a, where b and
    # c tie for x and LRU order decides: the one the equal-weight lead did not serve, else
    # (both never served) the lower provider id.
    served = sold(m, equal)[0]
    x, y = sorted(("b", "c"), key=lambda n: (n == served, m.providers[n]))
    assert [sold(m, r)[0] for r in switched] == ["a", "a", x, "a", y, "a", "a"]
    assert sum(_credits(m).values()) == 0


def test_a_reactivated_subscription_starts_with_credit_zero(pool: Pool) -> None:
    m = market(pool, [("Gold", 1, 100)])
    m.add_provider("a", balance_cents=100_000, levels=[1], weight=3)
    m.add_provider("b", balance_cents=100_000, levels=[1], weight=1)
    now = datetime.now(UTC)
    distribute(m, now)
    distribute(m, now)
    assert _credits(m)["b"] != 0

    for status in ("paused", "active"):
        committed(
            pool,
            catalog_admin.update_subscription,
            actor=ADMIN,
            subscription_id=m.subscriptions[("b", 1)],
            changes={"status": status},
        )

    assert "b" not in _credits(m)  # no row: credit 0
    assert _credits(m)["a"] != 0


def test_sales_are_recorded_at_the_runs_instant(pool: Pool) -> None:
    m = market(pool, [("Gold", 1, 100)])
    m.add_provider("a", balance_cents=10_000, levels=[1])
    before = datetime.now(UTC)

    result = distribute_lead(pool, lead_id=m.lead(), triggered_by=SYSTEM)

    row = queries.one(
        pool,
        "SELECT a.assigned_at, l.distributed_at, s.last_received_at FROM lead_assignments a "
        "JOIN leads l ON l.id = a.lead_id JOIN subscriptions s ON s.id = a.subscription_id "
        "WHERE a.lead_id = %s",
        result.lead_id,
    )
    assert row["assigned_at"] == row["distributed_at"] == row["last_received_at"]
    assert (
        before - timedelta(seconds=5)
        < row["assigned_at"]
        < datetime.now(UTC) + timedelta(seconds=5)
    )


def _skipped_metric(reason: str) -> float:
    return sum(
        sample.value
        for family in metrics.distribution_skipped_total.collect()
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels.get("reason") == reason
    )


def test_metrics_count_the_new_skip_reasons(pool: Pool) -> None:
    m = market(pool, [("Gold", 3, 100)])
    m.add_provider(
        "closed",
        balance_cents=10_000,
        levels=[1],
        schedule={"timezone": "UTC", "hours": {"sat": [["09:00", "10:00"]]}},
    )
    m.add_provider("capped", balance_cents=10_000, levels=[1], hourly_cap=1)
    m.add_provider("budget", balance_cents=10_000, levels=[1], daily_budget_cents=100)
    now = local("2026-12-07T12:30:00+00:00")  # a Monday
    distribute(m, now)
    before = {r: _skipped_metric(r) for r in ("outside_schedule", "cap_reached", "budget_reached")}

    distribute(m, now)

    assert {r: _skipped_metric(r) - n for r, n in before.items()} == {
        "outside_schedule": 1,
        "cap_reached": 1,
        "budget_reached": 1,
    }
