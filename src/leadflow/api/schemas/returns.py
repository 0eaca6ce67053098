"""API schemas of returns (SPEC §9)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints

from leadflow.api.schemas.base import MAX_TEXT, NOT_BLANK, Body, Out, Text, clean_text
from leadflow.api.schemas.catalog import ReasonName
from leadflow.domain.model import ReturnStatus

# Why an admin denies: told to the provider.
Reason = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_TEXT, pattern=NOT_BLANK),
    AfterValidator(clean_text),
]


class ReturnIn(Body):
    reason: ReasonName = Field(description="One of the niche's ``return_reasons``.")
    note: Text | None = None

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "bad_contact", "note": "number disconnected"}]},
    )


class ReturnRequestedOut(Out):
    return_id: UUID
    status: ReturnStatus


class DenyIn(Body):
    reason: Reason

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "the consumer confirmed the number"}]},
    )


class ReturnOut(Out):
    id: UUID
    assignment_id: UUID
    lead_id: UUID
    provider_id: UUID
    provider_name: str
    niche_id: UUID
    niche_name: str
    reason: str
    note: str | None
    status: ReturnStatus
    decided_by: str | None
    decided_by_role: str | None
    decision_reason: str | None
    refund_ledger_entry_id: UUID | None
    refund_cents: int | None
    price_charged_cents: int
    assigned_at: datetime
    created_at: datetime
    decided_at: datetime | None


class DecisionOut(ReturnOut):
    balance_cents: int | None
