"""Webhook deliveries through ``leadflow worker`` processes (SPEC §10): kill -9 mid-delivery,
the address check again at send time, the metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest

from leadflow.db.connection import transaction
from leadflow.domain.model import Actor
from leadflow.services import leads, webhooks
from leadflow.settings import Settings
from leadflow.webhooks.secret_box import SecretBox
from tests.e2e.worker.conftest import WorkerProcess, sample, wait_until
from tests.integration.jobs import factories
from tests.integration.jobs.factories import ADMIN
from tests.support.keys import TEST_SECRET_KEY
from tests.support.receiver import Receiver
from tests.support.receiver import receiver as receiver
from tests.support.work import committed

POLICY = webhooks.EndpointPolicy(
    allow_hosts=("127.0.0.1",), box=SecretBox.from_setting(TEST_SECRET_KEY)
)


def endpoint_for(pool: Any, provider_id: UUID, url: str) -> webhooks.NewSecret:
    made: webhooks.NewSecret = committed(
        pool,
        webhooks.create_endpoint,
        actor=Actor.system(),
        policy=POLICY,
        provider_id=provider_id,
        url=url,
    )
    return made


def sell_one(pool: Any, settings: Settings) -> tuple[factories.Market, UUID]:
    market = factories.market(pool, providers=1)
    lead_id = factories.lead(pool, market.niche_id)
    return market, lead_id


def delivery_rows(pool: Any) -> list[dict[str, Any]]:
    with transaction(pool) as conn:
        return conn.execute(
            "SELECT id, status, attempts, last_error, "
            "(SELECT count(*) FROM webhook_attempts a WHERE a.delivery_id = d.id) AS recorded "
            "FROM webhook_deliveries d ORDER BY created_at"
        ).fetchall()


@pytest.mark.slow
def test_kill_9_mid_delivery_delivers_later_with_the_same_delivery_id(
    pool: Any, settings: Settings, workers: Callable[..., WorkerProcess], receiver: Receiver
) -> None:
    market = factories.market(pool, providers=1)
    made = endpoint_for(pool, market.provider_ids[0], receiver.url("buyer"))
    receiver.secret("buyer", made.secret)
    receiver.respond("buyer", "hang", "ok")
    # The attempt hangs for longer than the lease, so only the lease ending sends it again.
    env = {"LEADFLOW_WEBHOOK_LEASE_SECONDS": "15", "LEADFLOW_WEBHOOK_TIMEOUT_SECONDS": "60"}
    first = workers(**env)
    lead_id = factories.lead(pool, market.niche_id)
    committed(pool, leads.approve_lead, settings=settings, actor=ADMIN, lead_id=lead_id)

    [hung] = receiver.wait_for("buyer", 1, timeout=30)
    first.kill()
    workers(**env)
    _, again = receiver.wait_for("buyer", 2, timeout=60)

    assert again.headers["leadflow-delivery"] == hung.headers["leadflow-delivery"]
    assert again.body == hung.body
    assert hung.signature_valid and again.signature_valid
    wait_until("the delivery to be recorded", lambda: delivery_rows(pool)[0]["status"] != "pending")
    [row] = delivery_rows(pool)
    assert str(row["id"]) == hung.headers["leadflow-delivery"]
    assert row["status"] == "delivered"
    # Two attempts were claimed; the killed one never got to record an outcome.
    assert (row["attempts"], row["recorded"]) == (2, 1)


def test_an_address_allowed_at_creation_is_refused_at_send_time(
    pool: Any, settings: Settings, workers: Callable[..., WorkerProcess], receiver: Receiver
) -> None:
    """The endpoint passed the check when it was made (127.0.0.1 was allowed then); the worker,
    whose allow-list is empty, checks again before it connects and refuses."""
    market = factories.market(pool, providers=1)
    endpoint_for(pool, market.provider_ids[0], receiver.url("buyer"))
    workers(LEADFLOW_WEBHOOK_ALLOW_HOSTS="")
    lead_id = factories.lead(pool, market.niche_id)
    committed(pool, leads.approve_lead, settings=settings, actor=ADMIN, lead_id=lead_id)

    wait_until(
        "the delivery to be refused",
        lambda: [r["status"] for r in delivery_rows(pool)] == ["failed"],
        timeout=30,
    )
    [row] = delivery_rows(pool)
    assert row["last_error"].startswith("refused")
    assert (row["attempts"], row["recorded"]) == (1, 1)
    assert receiver.received("buyer") == []


def test_delivery_metrics(
    pool: Any, settings: Settings, workers: Callable[..., WorkerProcess], receiver: Receiver
) -> None:
    market = factories.market(pool, providers=1)
    endpoint_for(pool, market.provider_ids[0], receiver.url("buyer"))
    receiver.respond("buyer", "error", "ok")
    worker = workers(metrics=True)
    lead_id = factories.lead(pool, market.niche_id)
    committed(pool, leads.approve_lead, settings=settings, actor=ADMIN, lead_id=lead_id)
    receiver.wait_for("buyer", 2, timeout=30)
    wait_until(
        "the delivery to be counted",
        lambda: sample(worker.metrics(), "webhook_deliveries_total", outcome="delivered") == 1,
    )
    text = worker.metrics()
    assert sample(text, "webhook_deliveries_total", outcome="retry") == 1
    assert sample(text, "webhook_delivery_seconds_count") == 2
    assert sample(text, "webhook_queue_depth") == 0
