"""The webhook outbox's database side for the worker (SPEC §10): claim due deliveries with
their bodies, and record what each attempt ended in.

A claim fixes the body of a delivery at its first attempt, so retries and redeliveries send the
same bytes. Recording an attempt is one transaction: the attempt row, the delivery's state, the
endpoint's failure count (20 failed deliveries in a row disable it, with an audit row and a
mail), and, when the buyer said no to a sale, the return request that files, through the same
use case as a provider's own (``services.returns.request_return``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from uuid import UUID

import structlog
from psycopg_pool import ConnectionPool

from leadflow.db import audit, events
from leadflow.db import returns as returns_db
from leadflow.db import webhooks as db
from leadflow.db.connection import Connection, transaction
from leadflow.domain.errors import DomainError
from leadflow.domain.facts import ENDPOINT_DISABLED, LEAD_ASSIGNED, Event
from leadflow.domain.model import Actor
from leadflow.domain.webhook_outcome import Judgement, Verdict, return_reason
from leadflow.services import returns
from leadflow.webhooks import payloads

log = structlog.get_logger(__name__)

# Failed deliveries in a row after which an endpoint is disabled.
DISABLE_AFTER_FAILURES = 20


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A claimed delivery and the exact body to send."""

    delivery: db.ClaimedDelivery
    body: bytes


def claim(
    pool: ConnectionPool[Connection],
    *,
    limit: int,
    per_endpoint: int,
    busy: Mapping[UUID, int],
    lease_seconds: int,
) -> list[Outgoing]:
    """Up to ``limit`` due deliveries, with their bodies (made now for first attempts)."""
    with transaction(pool) as tx:
        claimed = db.claim_due(
            tx, limit=limit, per_endpoint=per_endpoint, busy=busy, lease_seconds=lease_seconds
        )
        bodies = _first_bodies(tx, [d for d in claimed if d.body is None])
        db.set_bodies(tx, bodies)
    return [
        Outgoing(d, (d.body if d.body is not None else bodies[d.id]).encode("utf-8"))
        for d in claimed
    ]


def _first_bodies(tx: Connection, deliveries: Sequence[db.ClaimedDelivery]) -> dict[UUID, str]:
    sold = [d for d in deliveries if d.event == LEAD_ASSIGNED]
    returned = [d for d in deliveries if d.event == payloads.LEAD_RETURNED]
    bodies: dict[UUID, str] = {}
    if sold:
        facts = db.assigned_facts(tx, [d.assignment_id for d in sold])
        bodies |= {d.id: payloads.assigned_body(d.id, facts[d.assignment_id]) for d in sold}
    if returned:
        decided = db.returned_facts(tx, [d.return_id for d in returned if d.return_id])
        bodies |= {
            d.id: payloads.returned_body(d.id, decided[d.return_id])
            for d in returned
            if d.return_id is not None
        }
    return bodies


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one attempt saw."""

    status_code: int | None
    latency_ms: int
    error: str | None
    excerpt: str | None


def record(
    pool: ConnectionPool[Connection],
    delivery: db.ClaimedDelivery,
    attempt: Attempt,
    judgement: Judgement,
) -> str | None:
    """Write the attempt and its consequences; returns the outcome recorded (None when the
    delivery was no longer pending: another worker recorded it after this one's lease ran out)."""
    with transaction(pool) as tx:
        if not db.lock_pending(tx, delivery.id):
            return None
        outcome, result = _result(tx, delivery, attempt, judgement)
        after = db.record_attempt(tx, delivery.id, result)
        assert after is not None, "the delivery is locked and pending"
        if (
            outcome == "failed"
            and after.is_active
            and after.consecutive_failures >= DISABLE_AFTER_FAILURES
        ):
            _disable(tx, after)
    return outcome


def _result(
    tx: Connection, delivery: db.ClaimedDelivery, attempt: Attempt, judgement: Judgement
) -> tuple[str, db.AttemptResult]:
    seen = db.AttemptResult(
        "retry",
        status_code=attempt.status_code,
        latency_ms=attempt.latency_ms,
        error=attempt.error,
        excerpt=attempt.excerpt,
    )
    if judgement.verdict == Verdict.RETRY:
        return "retry", replace(seen, retry_in=judgement.retry_in)
    if judgement.verdict == Verdict.FAILED:
        return "failed", replace(seen, outcome="failed")
    if judgement.verdict == Verdict.DELIVERED or delivery.event != LEAD_ASSIGNED:
        return "delivered", replace(seen, outcome="delivered")
    # The buyer said no to the sale: a return request, decided under the returns rules.
    reason = judgement.buyer_reason or None
    try:
        with tx.transaction():
            filed = _file_return(tx, delivery, reason, judgement.note)
    except DomainError as exc:
        # Outside the return window (or no returns in this niche, or already requested): the
        # refusal is recorded, nothing is refunded.
        log.info("buyer_refusal_not_returned", delivery_id=str(delivery.id), reason=exc.detail)
        return "rejected_by_buyer", replace(
            seen, outcome="rejected_by_buyer", buyer_reason=reason, error=exc.detail
        )
    return "delivered", replace(
        seen, outcome="delivered", buyer_reason=reason, filed_return_id=filed
    )


def _file_return(
    tx: Connection, delivery: db.ClaimedDelivery, reason: str | None, note: str | None
) -> UUID:
    target = returns_db.returnable(
        tx, assignment_id=delivery.assignment_id, provider_id=delivery.provider_id
    )
    reasons = target.return_reasons if target is not None else ()
    filed = returns.request_return(
        tx,
        actor=Actor.system(),
        provider_id=delivery.provider_id,
        assignment_id=delivery.assignment_id,
        reason=return_reason(reason, reasons),
        note=note,
    )
    return filed.id


def _disable(tx: Connection, endpoint: db.EndpointAfter) -> None:
    reason = f"{endpoint.consecutive_failures} deliveries in a row failed"
    if not db.disable_endpoint(tx, endpoint.id, reason=reason):
        return
    audit.record(
        tx,
        Actor.system(),
        "webhook_endpoint.disabled",
        "webhook_endpoint",
        endpoint.id,
        {"provider_id": str(endpoint.provider_id), "reason": reason},
    )
    events.record(
        tx,
        [
            Event(
                ENDPOINT_DISABLED,
                {
                    "endpoint_id": str(endpoint.id),
                    "consecutive_failures": endpoint.consecutive_failures,
                },
            )
        ],
    )
    log.warning("webhook_endpoint_disabled", endpoint_id=str(endpoint.id), reason=reason)


def has_due(pool: ConnectionPool[Connection]) -> bool:
    with transaction(pool) as tx:
        return db.has_due(tx)
