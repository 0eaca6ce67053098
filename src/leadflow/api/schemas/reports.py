"""API schemas of the run traces, the subscription list and the daily report."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from leadflow.api.schemas.base import Out
from leadflow.domain.model import RunTrigger


class TraceEntryOut(Out):
    provider_id: UUID
    provider_name: str
    subscription_id: UUID
    outcome: str  # "sold" or the skip reason
    price_cents: int | None
    assignment_id: UUID | None


class LevelTraceOut(Out):
    level_id: UUID
    level_name: str
    order_position: int | None
    entries: list[TraceEntryOut]
    order: Literal["lru", "weighted"] = Field(
        default="lru", description="How the level ordered its candidates (SPEC §12)."
    )
    note: str | None = Field(
        default=None, description="Why, when the level is weighted or switched order."
    )


class RunOut(Out):
    id: UUID
    lead_id: UUID
    niche_id: UUID
    status: str
    trigger: RunTrigger
    sale_round: int
    triggered_by_role: str
    triggered_by_actor_id: str | None
    job_id: int | None
    start_level_order_position: int | None
    traversal_order: list[UUID]
    assignments_created: int
    skipped_total: int
    started_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    error: str | None
    levels: list[LevelTraceOut]


class SubscriptionViewOut(Out):
    id: UUID
    provider_id: UUID
    provider_name: str
    competition_level_id: UUID
    level_name: str
    niche_id: UUID
    niche_name: str
    price_per_lead_cents: int
    status: str
    last_received_at: datetime | None
    postal_codes: list[str]
    filters: list[Any]
    daily_cap: int | None
    monthly_cap: int | None
    created_at: datetime
    schedule: dict[str, Any] | None
    hourly_cap: int | None
    weekly_cap: int | None
    daily_budget_cents: int | None
    monthly_budget_cents: int | None
    weight: int


class DayOut(Out):
    day: date
    leads: int
    sales: int
    revenue_cents: int
    refunds_cents: int


class DailyReportOut(Out):
    since: date
    until: date
    niche_id: UUID | None
    leads_by_status: dict[str, int]
    sales: int
    revenue_cents: int
    refunds_cents: int
    days: list[DayOut]


class FairShareOut(Out):
    subscription_id: UUID
    provider_id: UUID
    provider_name: str
    status: str
    weight: float
    sales: int
    fair_share: float
    deviation: float


class LevelFairnessOut(Out):
    level_id: UUID
    level_name: str
    order_position: int
    sales: int
    max_deviation: float
    spread: float
    jain_index: float | None
    subscriptions: list[FairShareOut]


class FairnessOut(Out):
    niche_id: UUID
    since: date
    until: date
    levels: list[LevelFairnessOut]
