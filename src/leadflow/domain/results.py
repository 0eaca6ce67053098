"""Typed results of a distribution (the seed's DistributionResult, AssignmentDetail, SkippedProvider)."""

from __future__ import annotations

from dataclasses import dataclass
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

    @property
    def assignments_created(self) -> int:
        return len(self.assignments)


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
