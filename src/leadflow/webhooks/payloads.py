"""The JSON bodies POSTed to endpoints (SPEC §10), fixed at a delivery's first attempt."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from leadflow.domain.facts import LEAD_ASSIGNED

LEAD_RETURNED = "lead.returned"


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def encode(document: Mapping[str, Any]) -> str:
    """Compact JSON, the exact text that is signed and sent."""
    return json.dumps(document, default=_default, separators=(",", ":"), ensure_ascii=False)


def assigned_body(delivery_id: UUID, sale: Mapping[str, Any]) -> str:
    """``lead.assigned``: the lead as the buyer bought it, from ``db.webhooks.assigned_facts``."""
    return encode(
        {
            "event": LEAD_ASSIGNED,
            "delivery_id": delivery_id,
            "assignment_id": sale["assignment_id"],
            "lead": {
                "id": sale["lead_id"],
                "name": sale["name"],
                "email": sale["email"],
                "phone": sale["phone"],
                "phone_e164": sale["phone_e164"],
                "postal_code": sale["postal_code"],
                "attributes": sale["attributes"],
                "consent": sale["consent"],
            },
            "niche": {"id": sale["niche_id"], "name": sale["niche_name"]},
            "level": {
                "id": sale["level_id"],
                "name": sale["level_name"],
                "order_position": sale["order_position"],
            },
            "price_charged_cents": sale["price_charged_cents"],
            "assigned_at": sale["assigned_at"],
        }
    )


def returned_body(delivery_id: UUID, decision: Mapping[str, Any]) -> str:
    """``lead.returned``: an approved return and its refund, from ``returned_facts``."""
    return encode(
        {
            "event": LEAD_RETURNED,
            "delivery_id": delivery_id,
            "assignment_id": decision["assignment_id"],
            "return_id": decision["return_id"],
            "lead_id": decision["lead_id"],
            "niche": {"id": decision["niche_id"], "name": decision["niche_name"]},
            "reason": decision["reason"],
            "refund_cents": decision["refund_cents"],
            "returned_at": decision["decided_at"],
        }
    )
