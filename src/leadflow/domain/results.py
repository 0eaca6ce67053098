"""Typed results of a distribution (the seed's DistributionResult, AssignmentDetail, SkippedProvider)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from leadflow.domain.model import RunStatus, SkipReason

MAX_STORED_SKIPS = 100


@dataclass(frozen=True, slots=True)
class AssignmentDetail:
    assignment_id: UUID
    provider_id: UUID
    subscription_id: UUID
    competition_level_id: UUID
    price_charged_cents: int


@dataclass(frozen=True, slots=True)
class SkippedProvider:
    provider_id: UUID
    subscription_id: UUID
    level_id: UUID
    reason: SkipReason


@dataclass(frozen=True, slots=True)
class DistributionResult:
    lead_id: UUID
    run_id: UUID | None
    status: RunStatus
    start_level_order_position: int | None
    traversal_order: tuple[UUID, ...]
    assignments: tuple[AssignmentDetail, ...]
    skipped: tuple[SkippedProvider, ...]
    skipped_total: int
    duration_ms: int
    # True when the lead was already distributed: this is its earlier result, nothing was written.
    already_distributed: bool = False
    level_rules: tuple[LevelRule, ...] = ()

    @property
    def assignments_created(self) -> int:
        return len(self.assignments)


@dataclass(frozen=True, slots=True)
class LevelRule:
    """How a level of the run ordered its candidates (SPEC §12), for the trace: ``weighted``
    (smooth weighted round-robin) or ``lru``, and whether that changed since its last run."""

    level_id: UUID
    weighted: bool
    switched: bool
    credit_epoch: int

    @property
    def order(self) -> str:
        return "weighted" if self.weighted else "lru"

    def as_json(self) -> dict[str, Any]:
        return {"level_id": str(self.level_id), "order": self.order, "switched": self.switched}


@dataclass(frozen=True, slots=True)
class Selection:
    provider_id: UUID
    subscription_id: UUID
    competition_level_id: UUID
    price_cents: int


@dataclass(frozen=True, slots=True)
class Preview:
    """What a distribution would do now; nothing is charged, written or advanced."""

    lead_id: UUID
    start_level_order_position: int | None
    traversal_order: tuple[UUID, ...]
    selections: tuple[Selection, ...]
    skipped: tuple[SkippedProvider, ...]
    status: RunStatus
    # SPEC §12: the levels that would use weighted order or switch order (see ``LevelRule``).
    level_rules: tuple[LevelRule, ...] = ()
