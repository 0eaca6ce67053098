"""Deposits: credit a provider's prepaid balance, idempotently, and resume paused subscriptions."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from leadflow.db import audit, catalog, ledger
from leadflow.db.connection import Connection
from leadflow.domain.errors import IdempotencyConflict, InvalidInput, found
from leadflow.domain.facts import Posting
from leadflow.domain.model import Actor, LedgerKind
from leadflow.domain.money import MAX_DEPOSIT_CENTS

MAX_IDEMPOTENCY_KEY_LENGTH = 200


@dataclass(frozen=True, slots=True)
class DepositResult:
    ledger_entry_id: UUID
    balance_cents: int
    created: bool
    resumed_subscription_ids: tuple[UUID, ...] = ()


def deposit(
    tx: Connection,
    *,
    actor: Actor,
    provider_id: UUID,
    amount_cents: int,
    idempotency_key: str | None = None,
    note: str | None = None,
) -> DepositResult:
    """Credit ``amount_cents``. The same key again returns the first entry and credits nothing;
    the same key with another amount is a conflict. A covering deposit resumes subscriptions
    that were ``paused_low_balance``."""
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents <= 0:
        raise InvalidInput("amount_cents must be a positive integer")
    if amount_cents > MAX_DEPOSIT_CENTS:
        raise InvalidInput(f"amount_cents must be at most {MAX_DEPOSIT_CENTS}")
    if idempotency_key is not None and not (0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY_LENGTH):
        raise InvalidInput(f"idempotency_key must be 1..{MAX_IDEMPOTENCY_KEY_LENGTH} characters")
    # The provider lock serializes deposits and charges of one provider, so a repeated key
    # is always seen by the second request.
    provider = found(catalog.get_provider(tx, provider_id, lock=True), "provider", provider_id)
    if idempotency_key is not None:
        existing = ledger.find_by_idempotency_key(tx, provider_id, idempotency_key)
        if existing is not None:
            if existing.amount_cents != amount_cents or existing.kind != LedgerKind.DEPOSIT:
                raise IdempotencyConflict(
                    "idempotency_key was already used for a different deposit"
                )
            return DepositResult(existing.id, provider.balance_cents, created=False)
    [entry] = ledger.post(
        tx,
        [
            Posting(
                provider_id,
                amount_cents,
                LedgerKind.DEPOSIT,
                idempotency_key=idempotency_key,
                note=note,
                actor_id=actor.id,
            )
        ],
    )
    resumed = catalog.resume_affordable(tx, provider_id)
    audit.record(
        tx,
        actor,
        "provider.deposit",
        "provider",
        provider_id,
        {
            "ledger_entry_id": str(entry.id),
            "amount_cents": amount_cents,
            "balance_cents": entry.balance_after_cents,
            "resumed_subscription_ids": [str(s) for s in resumed],
        },
    )
    return DepositResult(
        entry.id,
        entry.balance_after_cents,
        created=True,
        resumed_subscription_ids=tuple(resumed),
    )
