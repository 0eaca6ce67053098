"""What a use case records besides its own rows: ledger postings, outbox events, audit entries.

Each is written in the use case's transaction through one writer (``db.ledger.post``,
``db.events.record``, ``db.audit.record_many``), so it commits with the change or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from leadflow.domain.model import LedgerKind

# Topics of the event outbox.
LEAD_ASSIGNED = "lead.assigned"
SUBSCRIPTION_PAUSED = "subscription.paused"
RETURN_DECIDED = "return.decided"
ENDPOINT_DISABLED = "webhook_endpoint.disabled"


@dataclass(frozen=True, slots=True)
class Posting:
    """One change of a provider's balance: a signed amount and why."""

    provider_id: UUID
    amount_cents: int
    kind: LedgerKind
    assignment_id: UUID | None = None
    idempotency_key: str | None = None
    note: str | None = None
    actor_id: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """A fact for the outbox; the dispatcher turns it into its consumers' work."""

    topic: str
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    action: str
    entity_type: str
    entity_id: str | None
    metadata: Mapping[str, Any] = field(default_factory=dict)
