"""The two-round-trip sale: what happens when its assumptions fail between the read and the write.

The engine sends the guarded sale, its events, audit rows and COMMIT before it has seen whether
the sale's guard held. These tests make the guard fail for real (a deposit lands between the
read and the write) and check that the lead is then sold exactly as the careful path decides,
with nothing of the guarded attempt left behind; and that a sale which leaves a provider short
of a price pauses it within the same guarded sale.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from psycopg_pool import ConnectionPool

from leadflow import metrics
from leadflow.db import sale as db_sale
from leadflow.db.connection import Connection
from leadflow.domain.model import Actor, RunStatus
from leadflow.services import billing
from leadflow.services.distribution import distribute_lead
from tests.support import queries
from tests.support.factory import ADMIN, market
from tests.support.work import committed

SYSTEM = Actor.system()
Pool = ConnectionPool[Connection]


def _reruns(reason: str) -> float:
    return metrics.distribution_careful_reruns_total.labels(reason=reason)._value.get()


def _count(pool: Pool, sql: str, *args: Any) -> int:
    return int(queries.one(pool, f"SELECT count(*) AS n FROM ({sql}) x", *args)["n"])


def test_a_deposit_between_the_read_and_the_sale_reruns_carefully_and_sells_once(
    pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = market(pool, [("Gold", 1, 1000)])
    acme = m.add_provider("acme", balance_cents=5000, levels=[1])
    lead_id = m.lead()
    real_write = db_sale.write_sale
    deposited: list[UUID] = []

    def deposit_first(conn: Connection, *sale: Any) -> Any:
        # After the plan was made from the balance read, before the sale (and its provider
        # locks) is sent: another transaction changes the balance the plan relied on, once.
        if not deposited:
            deposited.append(acme)
            committed(pool, billing.deposit, actor=ADMIN, provider_id=acme, amount_cents=700)
        return real_write(conn, *sale)

    monkeypatch.setattr(db_sale, "write_sale", deposit_first)
    before = _reruns(db_sale.PLAN_CHANGED)

    result = distribute_lead(pool, lead_id=lead_id, triggered_by=SYSTEM)

    assert deposited == [acme]
    assert _reruns(db_sale.PLAN_CHANGED) == before + 1
    assert result.status is RunStatus.SUCCESS
    assert [a.provider_id for a in result.assignments] == [acme]
    # The balance the careful path found, not the one the blind plan assumed.
    assert queries.balance(pool, acme) == 5000 + 700 - 1000
    assert _count(pool, "SELECT 1 FROM distribution_runs WHERE lead_id = %s", lead_id) == 1
    assert _count(pool, "SELECT 1 FROM lead_assignments WHERE lead_id = %s", lead_id) == 1
    mails = queries.mails(pool, "SELECT 1 FROM email_outbox WHERE lead_id = %s", lead_id)
    assert len(mails) == 1
    started = "SELECT 1 FROM audit_log WHERE entity_id = %s AND action = 'distribution.started'"
    assert _count(pool, started, str(lead_id)) == 1
    assert queries.lead(pool, lead_id)["distribution_attempts"] == 1


def test_a_sale_that_leaves_a_provider_short_pauses_and_mails_in_the_same_sale(
    pool: Pool,
) -> None:
    m = market(pool, [("Gold", 1, 1000)])
    other = market(pool, [("Premium", 1, 3000)])
    acme = m.add_provider("acme", balance_cents=3500, levels=[1])
    other.providers["acme"] = acme
    other.add_provider("acme", balance_cents=0, levels=[1])
    before = _reruns(db_sale.PLAN_CHANGED)

    result = distribute_lead(pool, lead_id=m.lead(), triggered_by=SYSTEM)  # 3500 -> 2500

    # The pause is the guarded sale's own: no second attempt was needed for it.
    assert _reruns(db_sale.PLAN_CHANGED) == before
    assert [a.provider_id for a in result.assignments] == [acme]
    statuses = {
        r["competition_level_id"]: r["status"]
        for r in queries.rows(pool, "SELECT competition_level_id, status FROM subscriptions")
    }
    assert statuses == {m.level(1).id: "active", other.level(1).id: "paused_low_balance"}
    mails = queries.mails(pool, "SELECT template FROM email_outbox ORDER BY template")
    assert [r["template"] for r in mails] == ["lead_assigned", "low_balance"]
    assert queries.balance(pool, acme) == 2500


def test_a_sale_that_leaves_every_price_covered_commits_blind(pool: Pool) -> None:
    m = market(pool, [("Gold", 1, 1000)])
    m.add_provider("acme", balance_cents=50_000, levels=[1])
    before = _reruns(db_sale.PLAN_CHANGED)

    result = distribute_lead(pool, lead_id=m.lead(), triggered_by=SYSTEM)

    assert result.status is RunStatus.SUCCESS
    assert _reruns(db_sale.PLAN_CHANGED) == before


def test_a_postal_code_the_first_read_normalizes_differently_still_matches(pool: Pool) -> None:
    m = market(pool, [("Gold", 1, 1000)])
    listed = m.add_provider("listed", balance_cents=50_000, levels=[1], postal_codes=["SW1A1AA"])
    # U+001C counts as whitespace to Python's normalization, not to the SQL one of the first
    # read (POSIX isspace): the engine reads the candidates again with its own.
    lead_id = m.lead(postal_code="sw1a\x1c1aa")

    result = distribute_lead(pool, lead_id=lead_id, triggered_by=SYSTEM)

    assert [a.provider_id for a in result.assignments] == [listed]
