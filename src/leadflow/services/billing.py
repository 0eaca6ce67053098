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
from leadflow.services import unsold

MAX_IDEMPOTENCY_KEY_LENGTH = 200
MAX_REASON_LENGTH = 1000


@dataclass(frozen=True, slots=True)
class Posted:
    """A deposit's or an adjustment's entry and the balance after it; ``created`` is False when
    the idempotency key repeated an earlier request (its entry, nothing credited again)."""

    entry: ledger.LedgerEntryRecord
    balance_cents: int
    created: bool
    resumed_subscription_ids: tuple[UUID, ...] = ()

    @property
    def ledger_entry_id(self) -> UUID:
        return self.entry.id


def deposit(
    tx: Connection,
    *,
    actor: Actor,
    provider_id: UUID,
    amount_cents: int,
    idempotency_key: str | None = None,
    note: str | None = None,
) -> Posted:
    """Credit ``amount_cents``. The same key again returns the first entry and credits nothing;
    the same key with another amount is a conflict. A covering deposit resumes subscriptions
    that were ``paused_low_balance``."""
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents <= 0:
        raise InvalidInput("amount_cents must be a positive integer")
    if amount_cents > MAX_DEPOSIT_CENTS:
        raise InvalidInput(f"amount_cents must be at most {MAX_DEPOSIT_CENTS}")
    return _post(
        tx,
        actor=actor,
        provider_id=provider_id,
        kind=LedgerKind.DEPOSIT,
        amount_cents=amount_cents,
        idempotency_key=idempotency_key,
        note=note,
        action="provider.deposit",
        metadata={},
    )


def adjust(
    tx: Connection,
    *,
    actor: Actor,
    provider_id: UUID,
    amount_cents: int,
    reason: str,
    idempotency_key: str | None = None,
) -> Posted:
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
    return _post(
        tx,
        actor=actor,
        provider_id=provider_id,
        kind=LedgerKind.ADJUSTMENT,
        amount_cents=amount_cents,
        idempotency_key=idempotency_key,
        note=reason,
        action="provider.adjustment",
        metadata={"reason": reason},
    )


def _post(
    tx: Connection,
    *,
    actor: Actor,
    provider_id: UUID,
    kind: LedgerKind,
    amount_cents: int,
    idempotency_key: str | None,
    note: str | None,
    action: str,
    metadata: dict[str, object],
) -> Posted:
    """The path both share: lock the provider, replay a repeated key, refuse a debit the
    balance does not cover, post, resume what a credit covers, audit."""
    _check_key(idempotency_key)
    provider = _locked_provider(tx, provider_id)
    existing = _replayed(tx, provider_id, idempotency_key, kind, amount_cents)
    if existing is not None:
        return Posted(existing, provider.balance_cents, created=False)
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
                kind,
                idempotency_key=idempotency_key,
                note=note,
                actor_id=actor.id,
            )
        ],
    )
    resumed = unsold.resume_covered(tx, provider_id, reason=str(kind)) if amount_cents > 0 else []
    audit.record(
        tx,
        actor,
        action,
        "provider",
        provider_id,
        {
            "ledger_entry_id": str(entry.id),
            "amount_cents": amount_cents,
            **metadata,
            "balance_cents": entry.balance_after_cents,
            "resumed_subscription_ids": [str(s) for s in resumed],
        },
    )
    return Posted(
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
