"""Deposits and adjustments: move a provider's prepaid balance, idempotently, and resume the
subscriptions paused for a low balance that the new balance covers."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from leadflow.db import audit, catalog, ledger
from leadflow.db.connection import Connection
from leadflow.domain.errors import IdempotencyConflict, InsufficientBalance, InvalidInput, found
from leadflow.domain.facts import Posting
from leadflow.domain.model import Actor, LedgerKind
from leadflow.domain.money import MAX_ADJUSTMENT_CENTS, MAX_DEPOSIT_CENTS

MAX_IDEMPOTENCY_KEY_LENGTH = 200
MAX_REASON_LENGTH = 1000


@dataclass(frozen=True, slots=True)
class DepositResult:
    ledger_entry_id: UUID
    balance_cents: int
    created: bool
    resumed_subscription_ids: tuple[UUID, ...] = ()


@dataclass(frozen=True, slots=True)
class AdjustmentResult:
    entry: ledger.LedgerEntryRecord
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
    _check_key(idempotency_key)
    provider = _locked_provider(tx, provider_id)
    existing = _replayed(tx, provider_id, idempotency_key, LedgerKind.DEPOSIT, amount_cents)
    if existing is not None:
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


def adjust(
    tx: Connection,
    *,
    actor: Actor,
    provider_id: UUID,
    amount_cents: int,
    reason: str,
    idempotency_key: str | None = None,
) -> AdjustmentResult:
    """Correct a balance by a signed amount (an ``adjustment`` entry with its reason). A debit
    the balance does not cover is refused with nothing written; the same key and amount again
    returns the first entry; a credit resumes subscriptions as a deposit does."""
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents == 0:
        raise InvalidInput("amount_cents must be a non-zero integer")
    if abs(amount_cents) > MAX_ADJUSTMENT_CENTS:
        raise InvalidInput(f"amount_cents must be within ±{MAX_ADJUSTMENT_CENTS}")
    reason = reason.strip()
    if not 0 < len(reason) <= MAX_REASON_LENGTH:
        raise InvalidInput(f"reason must be 1..{MAX_REASON_LENGTH} characters")
    _check_key(idempotency_key)
    provider = _locked_provider(tx, provider_id)
    existing = _replayed(tx, provider_id, idempotency_key, LedgerKind.ADJUSTMENT, amount_cents)
    if existing is not None:
        return AdjustmentResult(existing, provider.balance_cents, created=False)
    if provider.balance_cents + amount_cents < 0:
        raise InsufficientBalance(
            f"the balance ({provider.balance_cents} cents) does not cover a debit of"
            f" {-amount_cents} cents"
        )
    [entry] = ledger.post(
        tx,
        [
            Posting(
                provider_id,
                amount_cents,
                LedgerKind.ADJUSTMENT,
                idempotency_key=idempotency_key,
                note=reason,
                actor_id=actor.id,
            )
        ],
    )
    resumed = catalog.resume_affordable(tx, provider_id) if amount_cents > 0 else []
    audit.record(
        tx,
        actor,
        "provider.adjustment",
        "provider",
        provider_id,
        {
            "ledger_entry_id": str(entry.id),
            "amount_cents": amount_cents,
            "reason": reason,
            "balance_cents": entry.balance_after_cents,
            "resumed_subscription_ids": [str(s) for s in resumed],
        },
    )
    return AdjustmentResult(
        entry, entry.balance_after_cents, created=True, resumed_subscription_ids=tuple(resumed)
    )


def _check_key(idempotency_key: str | None) -> None:
    if idempotency_key is not None and not (0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY_LENGTH):
        raise InvalidInput(f"idempotency_key must be 1..{MAX_IDEMPOTENCY_KEY_LENGTH} characters")


def _locked_provider(tx: Connection, provider_id: UUID) -> catalog.ProviderRecord:
    # The provider lock serializes every balance change of one provider, so a repeated key is
    # always seen by the second request and a debit's balance check is exact.
    return found(catalog.get_provider(tx, provider_id, lock=True), "provider", provider_id)


def _replayed(
    tx: Connection, provider_id: UUID, key: str | None, kind: LedgerKind, amount_cents: int
) -> ledger.LedgerEntryRecord | None:
    """The entry an earlier request with this key wrote, if it is the same request."""
    if key is None:
        return None
    existing = ledger.find_by_idempotency_key(tx, provider_id, key)
    if existing is None:
        return None
    if existing.amount_cents != amount_cents or existing.kind != kind:
        raise IdempotencyConflict(f"idempotency_key was already used for a different {kind}")
    return existing
