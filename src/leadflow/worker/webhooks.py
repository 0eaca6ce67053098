"""Send the webhook outbox (SPEC §10): signed POSTs, bounded in flight, outcomes recorded.

One ``Deliverer`` per worker process holds the HTTP client (connections pooled per host) and
the counts in flight, overall and per endpoint, shared by every ``deliver_webhooks`` run the
process has going. A run claims what there is room for, sends each as its own task, and
claims again as they finish, so one slow endpoint (at most its own limit in flight, each
attempt at most 10 s) never holds back the others. A delivery is at least once: a worker
killed mid-send leaves its claim to run out (the lease), and the next claim sends the same
body with the same ``Leadflow-Delivery`` id, by which receivers deduplicate.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass

import structlog
from psycopg_pool import ConnectionPool

from leadflow import __version__, metrics
from leadflow.db.connection import Connection
from leadflow.domain.webhook_outcome import judge
from leadflow.services import deliveries
from leadflow.settings import Settings
from leadflow.webhooks.client import Reply, WebhookClient
from leadflow.webhooks.secret_box import SecretBox
from leadflow.webhooks.signing import signature_header

log = structlog.get_logger(__name__)

USER_AGENT = f"leadflow/{__version__}"
# While deliveries are in flight, look for new ones this often (a finished one looks at once).
POLL_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Report:
    delivered: int = 0
    retried: int = 0
    failed: int = 0


class Deliverer:
    """The process's webhook sender."""

    def __init__(
        self, settings: Settings, pool: ConnectionPool[Connection], box: SecretBox
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._box = box
        self._client = WebhookClient(
            allow_hosts=settings.webhook_allow_hosts,
            user_agent=USER_AGENT,
            timeout=settings.webhook_timeout_seconds,
            max_connections=settings.webhook_concurrency,
        )
        self._busy: Counter[object] = Counter()
        self._in_flight = 0

    async def aclose(self) -> None:
        await self._client.aclose()

    async def deliver_due(self) -> Report:
        """Send every delivery that is due, until none is left and none is in flight."""
        tasks: set[asyncio.Task[str | None]] = set()
        outcomes: Counter[str | None] = Counter()
        try:
            while True:
                room = self._settings.webhook_concurrency - self._in_flight
                if room > 0:
                    for outgoing in await asyncio.to_thread(self._claim, room):
                        tasks.add(asyncio.create_task(self._deliver(outgoing)))
                if not tasks:
                    break
                done, tasks = await asyncio.wait(
                    tasks, timeout=POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED
                )
                outcomes.update(task.result() for task in done)
        finally:
            # Cancelled (the worker stops): what is in flight is abandoned to its lease.
            for task in tasks:
                task.cancel()
        return Report(
            delivered=outcomes["delivered"] + outcomes["rejected_by_buyer"],
            retried=outcomes["retry"],
            failed=outcomes["failed"],
        )

    def _claim(self, room: int) -> list[deliveries.Outgoing]:
        claimed = deliveries.claim(
            self._pool,
            limit=room,
            per_endpoint=self._settings.webhook_endpoint_concurrency,
            busy=dict(self._busy),  # type: ignore[arg-type]
            lease_seconds=self._settings.webhook_lease_seconds,
        )
        for outgoing in claimed:
            self._busy[outgoing.delivery.endpoint_id] += 1
            self._in_flight += 1
        return claimed

    async def _deliver(self, outgoing: deliveries.Outgoing) -> str | None:
        delivery = outgoing.delivery
        try:
            reply = await self._client.post(delivery.url, outgoing.body, self._headers(outgoing))
            return await asyncio.to_thread(self._record, outgoing, reply)
        except Exception:
            # Recording failed (the database went away): the lease brings it back.
            log.warning("webhook_attempt_not_recorded", delivery_id=str(delivery.id), exc_info=True)
            return None
        finally:
            self._in_flight -= 1
            self._busy[delivery.endpoint_id] -= 1
            if self._busy[delivery.endpoint_id] <= 0:
                del self._busy[delivery.endpoint_id]

    def _headers(self, outgoing: deliveries.Outgoing) -> dict[str, str]:
        delivery = outgoing.delivery
        secrets = [self._box.open(delivery.secret_ciphertext)]
        if delivery.previous_secret_ciphertext is not None:
            secrets.append(self._box.open(delivery.previous_secret_ciphertext))
        return {
            "Leadflow-Delivery": str(delivery.id),
            "Leadflow-Event": delivery.event,
            "Leadflow-Signature": signature_header(secrets, outgoing.body, int(time.time())),
        }

    def _record(self, outgoing: deliveries.Outgoing, reply: Reply) -> str | None:
        delivery = outgoing.delivery
        judgement = judge(
            reply.status_code,
            reply.body,
            refused=reply.error is not None and reply.error.startswith("refused"),
            round_attempts=delivery.round_attempts,
            delays=self._settings.retry_delays,
        )
        attempt = deliveries.Attempt(
            status_code=reply.status_code,
            latency_ms=round(reply.seconds * 1000),
            error=reply.error,
            excerpt=reply.excerpt or None,
        )
        outcome = deliveries.record(self._pool, delivery, attempt, judgement)
        if outcome is not None:
            metrics.webhook_deliveries_total.labels(outcome=outcome).inc()
            metrics.webhook_delivery_seconds.observe(reply.seconds)
            log.info(
                "webhook_attempt",
                delivery_id=str(delivery.id),
                endpoint_id=str(delivery.endpoint_id),
                outcome=outcome,
                status_code=reply.status_code,
                error=reply.error,
                attempt=delivery.round_attempts,
                retry_in=judgement.retry_in,
            )
        return outcome
