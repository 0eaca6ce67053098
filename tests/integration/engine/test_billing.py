"""Deposits, low-balance pauses across niches, and bad input to the catalog and billing services."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from leadflow.db.connection import Connection
from leadflow.domain.errors import (
    DomainError,
    DuplicateEntity,
    IdempotencyConflict,
    InvalidInput,
    NotFound,
)
from leadflow.domain.model import Actor
from leadflow.services import billing, catalog
from leadflow.services.distribution import distribute_lead
from tests.support import queries
from tests.support.factory import ADMIN, market
from tests.support.work import committed

Pool = ConnectionPool[Connection]


def test_deposit_with_the_same_key_credits_once(pool: Pool) -> None:
    provider = committed(
        pool, catalog.create_provider, actor=ADMIN, name="acme", email="acme@example.com"
    )

    first = committed(
        pool,
        billing.deposit,
        actor=ADMIN,
        provider_id=provider.id,
        amount_cents=5000,
        idempotency_key="k1",
    )
    again = committed(
        pool,
        billing.deposit,
        actor=ADMIN,
        provider_id=provider.id,
        amount_cents=5000,
        idempotency_key="k1",
    )

    assert first.created and not again.created
    assert again.ledger_entry_id == first.ledger_entry_id
    assert again.balance_cents == first.balance_cents == 5000
    assert queries.balance(pool, provider.id) == 5000
    with pytest.raises(IdempotencyConflict):
        committed(
            pool,
            billing.deposit,
            actor=ADMIN,
            provider_id=provider.id,
            amount_cents=7000,
            idempotency_key="k1",
        )
    assert queries.balance(pool, provider.id) == 5000


def test_low_balance_pauses_every_unaffordable_subscription_of_the_provider_and_a_deposit_resumes_them(
    pool: Pool,
) -> None:
    cheap = market(pool, [("Basic", 1, 1000)])
    pricey = market(pool, [("Premium", 1, 3000)])
    provider = cheap.add_provider("acme", balance_cents=4000, levels=[1])
    pricey.providers["acme"] = provider
    pricey.add_provider("acme", balance_cents=0, levels=[1])

    distribute_lead(
        pool, lead_id=cheap.lead(), triggered_by=Actor.system()
    )  # 4000 -> 3000: both still affordable
    distribute_lead(
        pool, lead_id=cheap.lead(), triggered_by=Actor.system()
    )  # 3000 -> 2000: Premium paused

    statuses = {
        r["competition_level_id"]: r["status"]
        for r in queries.rows(
            pool,
            "SELECT competition_level_id, status FROM subscriptions WHERE provider_id = %s",
            provider,
        )
    }
    assert statuses == {cheap.level(1).id: "active", pricey.level(1).id: "paused_low_balance"}
    mails = queries.mails(pool, "SELECT subject FROM email_outbox WHERE template = 'low_balance'")
    assert len(mails) == 1
    assert "Low balance" in mails[0]["subject"]

    result = committed(pool, billing.deposit, actor=ADMIN, provider_id=provider, amount_cents=500)
    assert result.resumed_subscription_ids == ()  # 2500 < 3000: still paused
    result = committed(pool, billing.deposit, actor=ADMIN, provider_id=provider, amount_cents=500)
    assert len(result.resumed_subscription_ids) == 1
    assert (
        queries.one(
            pool,
            "SELECT status FROM subscriptions WHERE competition_level_id = %s",
            pricey.level(1).id,
        )["status"]
        == "active"
    )


def test_an_admin_pause_survives_a_deposit(pool: Pool) -> None:
    m = market(pool, [("Gold", 1, 1000)])
    provider = m.add_provider("acme", balance_cents=0, levels=[1])
    with pool.connection() as conn:
        conn.execute("UPDATE subscriptions SET status = 'paused'")

    committed(pool, billing.deposit, actor=ADMIN, provider_id=provider, amount_cents=10_000)

    assert queries.one(pool, "SELECT status FROM subscriptions")["status"] == "paused"


def test_a_new_subscription_starts_paused_when_the_balance_does_not_cover_the_price(
    pool: Pool,
) -> None:
    m = market(pool, [("Gold", 1, 1000)])
    poor = m.add_provider("poor", balance_cents=999, levels=[1])
    rich = m.add_provider("rich", balance_cents=1000, levels=[1])

    statuses = {
        r["provider_id"]: r["status"]
        for r in queries.rows(pool, "SELECT provider_id, status FROM subscriptions")
    }

    assert statuses == {poor: "paused_low_balance", rich: "active"}


def _bad_inputs(pool: Pool) -> list[tuple[str, Callable[[], Any], type[DomainError]]]:
    m = market(pool, [("Gold", 1, 1000)])
    provider = m.add_provider("acme", balance_cents=5000, levels=[1])
    niche_id, level_id = m.niche.id, m.level(1).id
    return [
        (
            "negative deposit",
            lambda: committed(
                pool, billing.deposit, actor=ADMIN, provider_id=provider, amount_cents=-5
            ),
            InvalidInput,
        ),
        (
            "zero deposit",
            lambda: committed(
                pool, billing.deposit, actor=ADMIN, provider_id=provider, amount_cents=0
            ),
            InvalidInput,
        ),
        (
            "huge deposit",
            lambda: committed(
                pool,
                billing.deposit,
                actor=ADMIN,
                provider_id=provider,
                amount_cents=100_000_000_001,
            ),
            InvalidInput,
        ),
        (
            "deposit to nobody",
            lambda: committed(
                pool, billing.deposit, actor=ADMIN, provider_id=uuid.uuid4(), amount_cents=5
            ),
            NotFound,
        ),
        (
            "max_recipients 0",
            lambda: committed(
                pool,
                catalog.create_level,
                actor=ADMIN,
                niche_id=niche_id,
                name="X",
                order_position=9,
                max_recipients=0,
                price_per_lead_cents=1,
            ),
            InvalidInput,
        ),
        (
            "negative price",
            lambda: committed(
                pool,
                catalog.create_level,
                actor=ADMIN,
                niche_id=niche_id,
                name="X",
                order_position=9,
                max_recipients=1,
                price_per_lead_cents=-1,
            ),
            InvalidInput,
        ),
        (
            "duplicate order position",
            lambda: committed(
                pool,
                catalog.create_level,
                actor=ADMIN,
                niche_id=niche_id,
                name="X",
                order_position=1,
                max_recipients=1,
                price_per_lead_cents=1,
            ),
            DuplicateEntity,
        ),
        (
            "level of an unknown niche",
            lambda: committed(
                pool,
                catalog.create_level,
                actor=ADMIN,
                niche_id=uuid.uuid4(),
                name="X",
                order_position=1,
                max_recipients=1,
                price_per_lead_cents=1,
            ),
            NotFound,
        ),
        (
            "duplicate slug",
            lambda: committed(
                pool, catalog.create_niche, actor=ADMIN, slug=m.niche.slug, name="Again"
            ),
            DuplicateEntity,
        ),
        (
            "bad slug",
            lambda: committed(
                pool, catalog.create_niche, actor=ADMIN, slug="Not A Slug!", name="X"
            ),
            InvalidInput,
        ),
        (
            "duplicate subscription",
            lambda: committed(
                pool,
                catalog.create_subscription,
                actor=ADMIN,
                provider_id=provider,
                competition_level_id=level_id,
            ),
            DuplicateEntity,
        ),
        (
            "malformed filter",
            lambda: committed(
                pool,
                catalog.create_subscription,
                actor=ADMIN,
                provider_id=provider,
                competition_level_id=level_id,
                filters=[{"field": "rooms", "op": "like", "value": 1}],
            ),
            InvalidInput,
        ),
        (
            "zero daily cap",
            lambda: committed(
                pool,
                catalog.create_subscription,
                actor=ADMIN,
                provider_id=provider,
                competition_level_id=level_id,
                daily_cap=0,
            ),
            InvalidInput,
        ),
    ]


def test_bad_input_to_services_is_a_domain_error_and_writes_nothing(pool: Pool) -> None:
    cases = _bad_inputs(pool)
    for name, call, expected in cases:
        before = queries.state(pool)
        with pytest.raises(expected):
            call()
        assert queries.state(pool) == before, name
