"""A run's sale as one draft: everything a committed distribution writes, decided in memory.

Pure: ``draft_sale`` turns a plan into the run record, the sales with their LRU moves, the
ledger postings, the rotation's next state, the outbox events and the audit entries. The one
writer (``db.sale.write_sale``) writes a draft as it is; nothing about the sale is decided
while writing it, except the low-balance pauses, which the writer derives from the balances
the postings leave (SPEC §3 step 6).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from leadflow.domain.facts import LEAD_ASSIGNED, AuditEntry, Event, Posting
from leadflow.domain.ids import uuid7
from leadflow.domain.limits import Windows, window_keys
from leadflow.domain.model import Actor, DistributionMode, LedgerKind, RunStatus, RunTrigger
from leadflow.domain.outcome import classify
from leadflow.domain.results import (
    MAX_STORED_SKIPS,
    AssignmentDetail,
    DistributionResult,
    LevelRule,
    SkippedProvider,
)
from leadflow.domain.rotation import Rotation
from leadflow.domain.selection import Credit, LevelFill, Plan


@dataclass(frozen=True, slots=True)
class SaleLine:
    """One sale: the assignment it creates and the LRU order key its subscription moves to."""

    assignment_id: UUID
    provider_id: UUID
    subscription_id: UUID
    level_id: UUID
    price_cents: int
    lru_order: int
    first_time: bool  # the subscription had never been served
    windows: Windows  # the windows its tally counts this sale in (its time zone's calendar)


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: UUID
    lead_id: UUID
    niche_id: UUID
    actor: Actor
    job_id: int | None
    status: RunStatus
    start_level_order_position: int | None
    traversal_order: tuple[UUID, ...]
    skipped: tuple[SkippedProvider, ...]
    duration_ms: int
    trigger: RunTrigger = RunTrigger.DISTRIBUTION
    level_rules: tuple[LevelRule, ...] = ()

    @property
    def stored_skips(self) -> tuple[SkippedProvider, ...]:
        """The skips the run record keeps (SPEC §3: at most 100, and the count of all)."""
        return self.skipped[:MAX_STORED_SKIPS]


@dataclass(frozen=True, slots=True)
class SaleDraft:
    """What one committed run writes."""

    run: RunRecord
    sales: tuple[SaleLine, ...]
    postings: tuple[Posting, ...]
    next_pointer: int
    lru_counter: int  # the niche's LRU counter after the sales
    events: tuple[Event, ...]
    audit: tuple[AuditEntry, ...]
    # Providers whose subscriptions must be checked for a low-balance pause after the charges:
    # every provider charged or skipped for its balance (SPEC §8).
    review_provider_ids: tuple[UUID, ...]
    # SPEC §12: the instant of the sale, the weighted credits the picks changed.
    now: datetime
    credits: tuple[Credit, ...] = ()

    @property
    def switched_levels(self) -> tuple[LevelRule, ...]:
        """Levels whose order changed with this run (their rotation state is written)."""
        return tuple(rule for rule in self.run.level_rules if rule.switched)

    def result(self) -> DistributionResult:
        return DistributionResult(
            lead_id=self.run.lead_id,
            run_id=self.run.id,
            status=self.run.status,
            start_level_order_position=self.run.start_level_order_position,
            traversal_order=self.run.traversal_order,
            assignments=tuple(
                AssignmentDetail(
                    s.assignment_id, s.provider_id, s.subscription_id, s.level_id, s.price_cents
                )
                for s in self.sales
            ),
            skipped=self.run.skipped,
            skipped_total=len(self.run.skipped),
            duration_ms=self.run.duration_ms,
            level_rules=self.run.level_rules,
        )


def skipped_providers(plan: Plan) -> tuple[SkippedProvider, ...]:
    return tuple(
        SkippedProvider(s.provider_id, s.subscription_id, s.level_id, s.reason) for s in plan.skips
    )


def start_position(rotation: Rotation) -> int | None:
    return rotation.start.order_position if rotation.start else None


def draft_sale(
    plan: Plan,
    rotation: Rotation,
    mode: DistributionMode,
    *,
    lead_id: UUID,
    niche_id: UUID,
    lru_counter: int,
    actor: Actor,
    job_id: int | None,
    duration_ms: int,
    now: datetime,
    trigger: RunTrigger = RunTrigger.DISTRIBUTION,
    new_id: Callable[[], UUID] = uuid7,
) -> SaleDraft:
    """The draft of the run that sells ``plan``; ``lru_counter`` is the niche's before it,
    ``now`` the instant the plan was decided at (the sale's time and its tally windows)."""
    keys: dict[str, Windows] = {}

    def windows_of(timezone: str) -> Windows:
        if timezone not in keys:
            keys[timezone] = window_keys(now, timezone)
        return keys[timezone]

    sales = tuple(
        SaleLine(
            assignment_id=new_id(),
            provider_id=sale.candidate.provider_id,
            subscription_id=sale.candidate.subscription_id,
            level_id=sale.level.id,
            price_cents=sale.price_cents,
            lru_order=lru_counter + index + 1,
            first_time=sale.candidate.lru_order is None,
            windows=windows_of(sale.candidate.timezone),
        )
        for index, sale in enumerate(plan.sales)
    )
    run = RunRecord(
        id=new_id(),
        lead_id=lead_id,
        niche_id=niche_id,
        actor=actor,
        job_id=job_id,
        status=classify(plan, mode),
        start_level_order_position=start_position(rotation),
        traversal_order=tuple(level.id for level in rotation.traversal),
        skipped=skipped_providers(plan),
        duration_ms=duration_ms,
        trigger=trigger,
        level_rules=level_rules(plan.fills),
    )
    return SaleDraft(
        run=run,
        sales=sales,
        postings=tuple(
            Posting(s.provider_id, -s.price_cents, LedgerKind.LEAD_CHARGE, s.assignment_id)
            for s in sales
        ),
        next_pointer=rotation.next_pointer,
        lru_counter=lru_counter + len(sales),
        events=tuple(
            Event(LEAD_ASSIGNED, {"assignment_id": str(s.assignment_id), "lead_id": str(lead_id)})
            for s in sales
        ),
        audit=tuple(_audit_entries(run, sales)),
        review_provider_ids=tuple(sorted(plan.balance_provider_ids)),
        now=now,
        credits=plan.credits,
    )


def level_rules(fills: Sequence[LevelFill]) -> tuple[LevelRule, ...]:
    """How each visited level ordered its candidates; only weighted levels and levels that
    switched are worth a line (the rest kept Part I's LRU order, as always)."""
    return tuple(
        LevelRule(f.level.id, f.level.weighted, f.level.switched, f.level.credit_epoch)
        for f in fills
        if f.level.weighted or f.level.switched
    )


def skip_json(skip: SkippedProvider) -> dict[str, str]:
    return {
        "provider_id": str(skip.provider_id),
        "subscription_id": str(skip.subscription_id),
        "level_id": str(skip.level_id),
        "reason": str(skip.reason),
    }


def _audit_entries(run: RunRecord, sales: Sequence[SaleLine]) -> list[AuditEntry]:
    """The distribution audit actions (SPEC §6), on the lead, with the run id in their metadata."""
    lead = str(run.lead_id)
    base: dict[str, Any] = {"run_id": str(run.id), "job_id": run.job_id}
    entries = [
        AuditEntry(
            "distribution.started",
            "lead",
            lead,
            {
                **base,
                "start_level_order_position": run.start_level_order_position,
                "traversal_order": [str(i) for i in run.traversal_order],
            },
        )
    ]
    entries += [
        AuditEntry(
            "assignment.created",
            "lead",
            lead,
            {
                **base,
                "assignment_id": str(s.assignment_id),
                "provider_id": str(s.provider_id),
                "subscription_id": str(s.subscription_id),
                "competition_level_id": str(s.level_id),
                "price_charged_cents": s.price_cents,
            },
        )
        for s in sales
    ]
    entries += [
        AuditEntry("distribution.skipped_provider", "lead", lead, {**base, **skip_json(s)})
        for s in run.stored_skips
    ]
    entries.append(
        AuditEntry(
            "distribution.completed",
            "lead",
            lead,
            {
                **base,
                "status": str(run.status),
                "assignments_created": len(sales),
                "skipped_total": len(run.skipped),
            },
        )
    )
    return entries
