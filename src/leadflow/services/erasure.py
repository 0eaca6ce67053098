"""A person's right to erasure (SPEC §11): ``erase_lead``, the one place a lead is erased; the
API route, ``leadflow leads erase`` and the retention sweep of the maintenance task call it.

Every financial row stays (assignments, ledger, runs: they hold no personal data); the lead's
personal fields and every stored copy of them are redacted in one statement
(``sql/erasure.sql``). The duplicate keys are dropped, not hashed: duplicate detection does
not survive erasure, the privacy-first choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import structlog
from psycopg_pool import ConnectionPool

from leadflow.db import audit, erasure
from leadflow.db.connection import Connection, transaction
from leadflow.domain.errors import NotFound
from leadflow.domain.model import Actor

log = structlog.get_logger(__name__)

# Leads erased per transaction by the retention sweep, and per maintenance tick.
RETENTION_BATCH = 100
RETENTION_BATCHES_PER_TICK = 5


@dataclass(frozen=True, slots=True)
class ErasureResult:
    lead_id: UUID
    erased_at: datetime
    already_erased: bool


def erase_lead(tx: Connection, *, actor: Actor, lead_id: UUID) -> ErasureResult:
    """Erase the lead; idempotent (an erased lead is left as it is). ``NotFound`` if unknown."""
    done = erasure.erase_lead(tx, lead_id)
    exists, erased_at = erasure.erased_at(tx, lead_id)
    if not exists:
        raise NotFound("lead", lead_id)
    assert erased_at is not None, "an existing lead is erased by now"
    if done.leads:
        # Counts only: the audit row holds no personal data.
        audit.record(
            tx,
            actor,
            "lead.erased",
            "lead",
            lead_id,
            {
                "mails": done.mails,
                "webhook_bodies": done.webhook_bodies,
                "webhook_replies": done.replies,
                "idempotency_keys": done.idempotency_keys,
            },
        )
        log.info("lead_erased", lead_id=str(lead_id))
    return ErasureResult(lead_id, erased_at, already_erased=not done.leads)


def erase_expired(
    pool: ConnectionPool[Connection],
    *,
    retention_days: int | None,
    batch: int = RETENTION_BATCH,
    batches: int = RETENTION_BATCHES_PER_TICK,
) -> int:
    """The retention sweep: erase leads created more than ``retention_days`` ago (None: keep
    them), oldest first, ``batch`` per transaction and at most ``batches`` transactions (the
    rest wait for the next tick). Returns how many were erased."""
    if retention_days is None:
        return 0
    erased = 0
    actor = Actor.system()
    for _ in range(batches):
        with transaction(pool) as tx:
            due = erasure.due_for_retention(tx, days=retention_days, limit=batch)
            for lead_id in due:
                erased += not erase_lead(tx, actor=actor, lead_id=lead_id).already_erased
        if len(due) < batch:
            break
    return erased
