"""The event dispatcher: each event's mail is made exactly once, whoever dispatches; an event
whose consumer fails is retried on the schedule without holding the others back."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from leadflow.db import events
from leadflow.db.connection import Connection, transaction
from leadflow.domain.facts import Event
from leadflow.domain.model import Actor
from leadflow.services import dispatch
from leadflow.services.distribution import distribute_lead
from tests.support import queries
from tests.support.factory import market
from tests.support.work import committed

Pool = ConnectionPool[Connection]
DELAYS = [0, 0]


def _sold_leads(pool: Pool, count: int) -> None:
    m = market(pool, [("Gold", 2, 100)])
    m.add_provider("acme", balance_cents=100_000, levels=[1])
    m.add_provider("bolt", balance_cents=100_000, levels=[1])
    for _ in range(count):
        distribute_lead(pool, lead_id=m.lead(), triggered_by=Actor.system())


def _event_states(pool: Pool) -> list[dict[str, Any]]:
    return queries.rows(pool, "SELECT topic, status, attempts FROM outbox_events ORDER BY id")


def test_a_sale_records_events_and_dispatch_makes_each_mail_once(pool: Pool) -> None:
    _sold_leads(pool, 3)
    assert {e["status"] for e in _event_states(pool)} == {"pending"}
    assert queries.rows(pool, "SELECT 1 FROM email_outbox") == []

    assert dispatch.dispatch_due(pool, retry_delays=DELAYS) == 6
    assert dispatch.dispatch_due(pool, retry_delays=DELAYS) == 0

    mails = queries.rows(pool, "SELECT event_id, template FROM email_outbox")
    assert len(mails) == 6
    assert len({m["event_id"] for m in mails}) == 6
    assert {e["status"] for e in _event_states(pool)} == {"dispatched"}


def test_concurrent_dispatchers_make_each_mail_once(pool: Pool) -> None:
    _sold_leads(pool, 20)
    counts: list[int] = []
    start = threading.Barrier(4)

    def run() -> None:
        start.wait()
        counts.append(dispatch.dispatch_due(pool, retry_delays=DELAYS))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sum(counts) == 40
    [row] = queries.rows(
        pool, "SELECT count(*) AS n, count(DISTINCT event_id) AS events FROM email_outbox"
    )
    assert row == {"n": 40, "events": 40}


def test_a_failing_consumer_is_retried_then_failed_without_holding_back_others(
    pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sold_leads(pool, 1)
    with transaction(pool) as tx:
        events.record(tx, [Event("test.unconsumable", {"why": "no consumer"})])

    # 1 attempt + 2 retries (no wait), then failed; the sale's two events are dispatched.
    dispatch.dispatch_due(pool, retry_delays=DELAYS)

    states = _event_states(pool)
    assert [s["status"] for s in states if s["topic"] == "lead.assigned"] == ["dispatched"] * 2
    [bad] = [s for s in states if s["topic"] == "test.unconsumable"]
    assert bad == {"topic": "test.unconsumable", "status": "failed", "attempts": 3}
    assert len(queries.rows(pool, "SELECT 1 FROM email_outbox")) == 2


def test_dispatched_events_are_pruned_after_a_week_and_pending_ones_kept(pool: Pool) -> None:
    _sold_leads(pool, 1)
    dispatch.dispatch_due(pool, retry_delays=DELAYS)
    with transaction(pool) as tx:
        events.record(tx, [Event("lead.assigned", {"assignment_id": "later"})])
        tx.execute(
            "UPDATE outbox_events SET dispatched_at = now() - interval '8 days' "
            "WHERE status = 'dispatched'"
        )

    assert committed(pool, dispatch.prune) == 2
    assert [e["status"] for e in _event_states(pool)] == ["pending"]
