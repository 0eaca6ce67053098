"""The event dispatcher: turns outbox events into their consumers' work, exactly once each.

A batch of due events is locked (``SKIP LOCKED``: concurrent dispatchers take disjoint
batches), each consumer makes its work from the facts as they are now (a mail is rendered
here, outside any distribution's lock), and the events are marked dispatched in the same
transaction, so a crash either leaves an event pending with nothing made from it or
dispatched with all of it. An event whose consumer fails is retried on the job schedule
(SPEC §4) and ``failed`` after the last try, without holding back the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

import structlog
from psycopg_pool import ConnectionPool

from leadflow.db import events, outbox, returns, webhooks
from leadflow.db.connection import Connection, transaction
from leadflow.domain.facts import (
    ENDPOINT_DISABLED,
    LEAD_ASSIGNED,
    RETURN_DECIDED,
    SUBSCRIPTION_PAUSED,
)
from leadflow.domain.money import format_dollars
from leadflow.domain.retry_schedule import job_retry_delay
from leadflow.mail.render import render

log = structlog.get_logger(__name__)

BATCH = 100
# Dispatched events are kept this long (for inspection), then pruned by the hourly cleanup.
KEEP_DISPATCHED_SECONDS = 7 * 86400

Consumer = Callable[[Connection, Sequence[events.StoredEvent]], None]


def dispatch_due(pool: ConnectionPool[Connection], *, retry_delays: Sequence[int]) -> int:
    """Dispatch every event that is due now; returns how many were dispatched."""
    dispatched = 0
    while True:
        with transaction(pool) as conn:
            batch = events.claim_due(conn, limit=BATCH)
            if not batch:
                return dispatched
            dispatched += _dispatch_batch(conn, batch, retry_delays)


def prune(tx: Connection) -> int:
    """Forget events dispatched more than ``KEEP_DISPATCHED_SECONDS`` ago; returns how many."""
    return events.prune_dispatched(tx, older_than_seconds=KEEP_DISPATCHED_SECONDS)


def _dispatch_batch(
    conn: Connection, batch: Sequence[events.StoredEvent], retry_delays: Sequence[int]
) -> int:
    try:
        with conn.transaction():
            _consume(conn, batch)
            events.mark_dispatched(conn, [e.id for e in batch])
        return len(batch)
    except Exception:
        log.warning("event_batch_not_dispatched", events=len(batch), exc_info=True)
    # One event's failure must not hold back the others: one at a time, each in a savepoint.
    done = 0
    for event in batch:
        try:
            with conn.transaction():
                _consume(conn, [event])
                events.mark_dispatched(conn, [event.id])
            done += 1
        except Exception as exc:
            retry_in = job_retry_delay(retry_delays, event.attempts - 1)
            events.mark_failed(
                conn, event.id, error=f"{type(exc).__name__}: {exc}", retry_in=retry_in
            )
            log.warning(
                "event_not_dispatched",
                event_id=event.id,
                topic=event.topic,
                attempt=event.attempts,
                error=type(exc).__name__,
                retry_in=retry_in,
            )
    return done


def _consume(conn: Connection, batch: Sequence[events.StoredEvent]) -> None:
    by_topic: dict[str, list[events.StoredEvent]] = {}
    for event in batch:
        by_topic.setdefault(event.topic, []).append(event)
    for topic, of_topic in by_topic.items():
        consumers = CONSUMERS.get(topic)
        if consumers is None:
            raise LookupError(f"no consumer for events of topic {topic!r}")
        for consume in consumers:
            consume(conn, of_topic)


FactsReader = Callable[[Connection, Sequence[UUID]], dict[UUID, dict[str, Any]]]
MailMaker = Callable[[events.StoredEvent, dict[str, Any]], outbox.OutgoingMail]


def _mails(key: str, read_facts: FactsReader, make: MailMaker) -> Consumer:
    """A consumer that writes one mail per event, made from the facts of the row the event's
    ``payload[key]`` names, read for the whole batch at once."""

    def consume(conn: Connection, batch: Sequence[events.StoredEvent]) -> None:
        facts = read_facts(conn, [UUID(e.payload[key]) for e in batch])
        outbox.enqueue(conn, [make(e, facts[UUID(e.payload[key])]) for e in batch])

    return consume


def _assignment_mail(event: events.StoredEvent, sale: dict[str, Any]) -> outbox.OutgoingMail:
    """``lead.assigned``: the ``lead_assigned`` mail to the buyer (SPEC §3 step 8)."""
    mail = render(
        "lead_assigned",
        niche_name=sale["niche_name"],
        provider_name=sale["provider_name"],
        level_name=sale["level_name"],
        amount=format_dollars(sale["price_charged_cents"]),
        lead_id=sale["lead_id"],
    )
    return outbox.OutgoingMail(
        "lead_assigned",
        sale["provider_email"],
        mail.subject,
        mail.body_text,
        provider_id=sale["provider_id"],
        lead_id=sale["lead_id"],
        event_id=event.id,
    )


def _low_balance_mail(
    event: events.StoredEvent, subscription: dict[str, Any]
) -> outbox.OutgoingMail:
    """``subscription.paused``: the ``low_balance`` mail, with the balance and price at the pause."""
    mail = render(
        "low_balance",
        provider_name=subscription["provider_name"],
        balance=format_dollars(int(event.payload["balance_cents"])),
        price=format_dollars(int(event.payload["price_per_lead_cents"])),
        level_name=subscription["level_name"],
        niche_name=subscription["niche_name"],
    )
    return outbox.OutgoingMail(
        "low_balance",
        subscription["provider_email"],
        mail.subject,
        mail.body_text,
        provider_id=subscription["provider_id"],
        event_id=event.id,
    )


def _return_decided_mail(
    event: events.StoredEvent, decision: dict[str, Any]
) -> outbox.OutgoingMail:
    """``return.decided``: the ``return_decided`` mail, with the balance after a refund."""
    balance = event.payload.get("balance_cents")
    mail = render(
        "return_decided",
        status=decision["status"],
        niche_name=decision["niche_name"],
        provider_name=decision["provider_name"],
        lead_id=decision["lead_id"],
        reason=decision["reason"],
        decision_reason=decision["decision_reason"],
        refund=format_dollars(decision["price_charged_cents"]),
        balance=None if balance is None else format_dollars(int(balance)),
    )
    return outbox.OutgoingMail(
        "return_decided",
        decision["provider_email"],
        mail.subject,
        mail.body_text,
        provider_id=decision["provider_id"],
        lead_id=decision["lead_id"],
        event_id=event.id,
    )


def _endpoint_disabled_mail(
    event: events.StoredEvent, endpoint: dict[str, Any]
) -> outbox.OutgoingMail:
    """``webhook_endpoint.disabled``: the ``endpoint_disabled`` mail to the endpoint's owner."""
    mail = render(
        "endpoint_disabled",
        provider_name=endpoint["provider_name"],
        url=endpoint["url"],
        failures=event.payload["consecutive_failures"],
    )
    return outbox.OutgoingMail(
        "endpoint_disabled",
        endpoint["provider_email"],
        mail.subject,
        mail.body_text,
        provider_id=endpoint["provider_id"],
        event_id=event.id,
    )


def _returned_deliveries(conn: Connection, batch: Sequence[events.StoredEvent]) -> None:
    """``return.decided``: an approved return goes to the buyer's endpoints as ``lead.returned``
    (the query keeps the approved ones; a re-dispatch adds nothing)."""
    webhooks.add_returned_deliveries(conn, [UUID(e.payload["return_id"]) for e in batch])


# Who consumes each topic.
CONSUMERS: dict[str, tuple[Consumer, ...]] = {
    LEAD_ASSIGNED: (_mails("assignment_id", events.assignment_facts, _assignment_mail),),
    SUBSCRIPTION_PAUSED: (_mails("subscription_id", events.subscription_facts, _low_balance_mail),),
    RETURN_DECIDED: (
        _mails("return_id", returns.decision_facts, _return_decided_mail),
        _returned_deliveries,
    ),
    ENDPOINT_DISABLED: (_mails("endpoint_id", webhooks.endpoint_facts, _endpoint_disabled_mail),),
}
