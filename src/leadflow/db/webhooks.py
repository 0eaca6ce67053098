"""SQL for webhooks (SPEC §10): endpoints, the deliveries outbox, claims and outcomes.

The statements are in ``sql/webhooks.sql``. The sale writes its ``lead.assigned`` deliveries
itself (``sql/sale.sql``); everything after that is here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from leadflow.db import queries
from leadflow.db.connection import Connection
from leadflow.db.rows import record, record_row

_SQL = queries.load("webhooks.sql")


@dataclass(frozen=True, slots=True)
class EndpointRecord:
    id: UUID
    provider_id: UUID
    niche_id: UUID | None
    url: str
    is_active: bool
    secret_ciphertext: str
    previous_secret_ciphertext: str | None
    previous_secret_expires_at: datetime | None
    consecutive_failures: int
    disabled_at: datetime | None
    disabled_reason: str | None
    deleted_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery taken for one attempt, with what the attempt needs."""

    id: UUID
    endpoint_id: UUID
    provider_id: UUID
    lead_id: UUID
    assignment_id: UUID
    return_id: UUID | None
    event: str
    body: str | None  # None until its first attempt fixes it
    round_attempts: int  # including the attempt this claim starts
    url: str
    secret_ciphertext: str
    previous_secret_ciphertext: str | None  # while a rotation's grace lasts


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: UUID
    endpoint_id: UUID
    endpoint_url: str
    provider_id: UUID
    provider_name: str
    lead_id: UUID
    assignment_id: UUID
    event: str
    return_id: UUID | None
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    buyer_reason: str | None
    filed_return_id: UUID | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class AttemptView:
    attempted_at: datetime
    outcome: str
    status_code: int | None
    latency_ms: int
    error: str | None
    response_excerpt: str | None


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one attempt ended in, as ``record_attempt`` writes it."""

    outcome: str  # delivered, rejected_by_buyer, retry, failed
    status_code: int | None
    latency_ms: int
    error: str | None
    excerpt: str | None
    retry_in: int | None = None
    buyer_reason: str | None = None
    filed_return_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class EndpointAfter:
    """The endpoint after an attempt was recorded."""

    id: UUID
    provider_id: UUID
    consecutive_failures: int
    is_active: bool


def _endpoint(row: Mapping[str, Any] | None) -> EndpointRecord | None:
    if row is None:
        return None
    return record(EndpointRecord, {k: v for k, v in row.items() if k != "total"})


def insert_endpoint(
    conn: Connection,
    *,
    provider_id: UUID,
    niche_id: UUID | None,
    url: str,
    is_active: bool,
    secret_ciphertext: str,
) -> EndpointRecord:
    row = conn.execute(
        _SQL["insert_endpoint"],
        {
            "provider_id": provider_id,
            "niche_id": niche_id,
            "url": url,
            "is_active": is_active,
            "secret": secret_ciphertext,
        },
    ).fetchone()
    endpoint = _endpoint(row)
    assert endpoint is not None
    return endpoint


def get_endpoint(
    conn: Connection, endpoint_id: UUID, *, lock: bool = False
) -> EndpointRecord | None:
    """An endpoint that is not deleted."""
    name = "lock_endpoint" if lock else "get_endpoint"
    return _endpoint(conn.execute(_SQL[name], {"id": endpoint_id}).fetchone())


def list_endpoints(
    conn: Connection, *, provider_id: UUID, limit: int, offset: int
) -> tuple[int, list[EndpointRecord]]:
    rows = conn.execute(
        _SQL["list_endpoints"], {"provider_id": provider_id, "limit": limit, "offset": offset}
    ).fetchall()
    total = int(rows[0]["total"]) if rows else 0
    if not rows and offset > 0:
        total, _ = list_endpoints(conn, provider_id=provider_id, limit=1, offset=0)
    return total, [e for e in map(_endpoint, rows) if e is not None]


def update_endpoint(
    conn: Connection, endpoint_id: UUID, *, url: str, niche_id: UUID | None, is_active: bool
) -> EndpointRecord:
    row = conn.execute(
        _SQL["update_endpoint"],
        {"id": endpoint_id, "url": url, "niche_id": niche_id, "is_active": is_active},
    ).fetchone()
    endpoint = _endpoint(row)
    assert endpoint is not None
    return endpoint


def rotate_secret(
    conn: Connection, endpoint_id: UUID, *, secret_ciphertext: str, grace_hours: int
) -> EndpointRecord:
    row = conn.execute(
        _SQL["rotate_secret"],
        {"id": endpoint_id, "secret": secret_ciphertext, "grace_hours": grace_hours},
    ).fetchone()
    endpoint = _endpoint(row)
    assert endpoint is not None
    return endpoint


def delete_endpoint(conn: Connection, endpoint_id: UUID) -> None:
    conn.execute(_SQL["delete_endpoint"], {"id": endpoint_id})


def has_subscription_in_niche(conn: Connection, *, provider_id: UUID, niche_id: UUID) -> bool:
    row = conn.execute(
        _SQL["has_subscription_in_niche"], {"provider_id": provider_id, "niche_id": niche_id}
    ).fetchone()
    return bool(row and row["found"])


def add_returned_deliveries(conn: Connection, return_ids: Sequence[UUID]) -> int:
    """``lead.returned`` deliveries for the approved ones of ``return_ids``; returns how many."""
    return conn.execute(_SQL["add_returned_deliveries"], {"ids": list(return_ids)}).rowcount


def claim_due(
    conn: Connection,
    *,
    limit: int,
    per_endpoint: int,
    busy: Mapping[UUID, int],
    lease_seconds: int,
) -> list[ClaimedDelivery]:
    with conn.cursor(row_factory=record_row(ClaimedDelivery)) as cur:
        return cur.execute(
            _SQL["claim_due"],
            {
                "limit": limit,
                "per_endpoint": per_endpoint,
                "busy": Jsonb({str(k): n for k, n in busy.items() if n > 0}),
                "lease": lease_seconds,
            },
        ).fetchall()


def assigned_facts(conn: Connection, assignment_ids: Sequence[UUID]) -> dict[UUID, dict[str, Any]]:
    rows = conn.execute(_SQL["assigned_facts"], {"ids": list(assignment_ids)}).fetchall()
    return {row["assignment_id"]: row for row in rows}


def returned_facts(conn: Connection, return_ids: Sequence[UUID]) -> dict[UUID, dict[str, Any]]:
    rows = conn.execute(_SQL["returned_facts"], {"ids": list(return_ids)}).fetchall()
    return {row["return_id"]: row for row in rows}


def set_bodies(conn: Connection, bodies: Mapping[UUID, str]) -> None:
    if bodies:
        conn.execute(
            _SQL["set_bodies"],
            {"bodies": Jsonb([{"id": str(k), "body": v} for k, v in bodies.items()])},
        )


def lock_pending(conn: Connection, delivery_id: UUID) -> bool:
    """Lock the delivery for recording an attempt; False if it is no longer pending."""
    return conn.execute(_SQL["lock_pending"], {"id": delivery_id}).fetchone() is not None


def record_attempt(
    conn: Connection, delivery_id: UUID, result: AttemptResult
) -> EndpointAfter | None:
    """Write the attempt and the delivery's new state; None if it was no longer pending."""
    with conn.cursor(row_factory=record_row(EndpointAfter)) as cur:
        return cur.execute(
            _SQL["record_attempt"],
            {
                "id": delivery_id,
                "outcome": result.outcome,
                "status_code": result.status_code,
                "latency_ms": result.latency_ms,
                "error": None if result.error is None else result.error[:1000],
                "excerpt": result.excerpt,
                "retry_in": result.retry_in,
                "buyer_reason": result.buyer_reason,
                "filed_return_id": result.filed_return_id,
            },
        ).fetchone()


def disable_endpoint(conn: Connection, endpoint_id: UUID, *, reason: str) -> bool:
    """Deactivate an active endpoint; returns whether this call did it."""
    return (
        conn.execute(_SQL["disable_endpoint"], {"id": endpoint_id, "reason": reason}).fetchone()
        is not None
    )


def endpoint_facts(conn: Connection, endpoint_ids: Sequence[UUID]) -> dict[UUID, dict[str, Any]]:
    rows = conn.execute(_SQL["endpoint_facts"], {"ids": list(endpoint_ids)}).fetchall()
    return {row["endpoint_id"]: row for row in rows}


def list_deliveries(
    conn: Connection,
    *,
    delivery_id: UUID | None = None,
    status: str | None = None,
    endpoint_id: UUID | None = None,
    provider_id: UUID | None = None,
    limit: int,
    offset: int,
) -> tuple[int, list[DeliveryView]]:
    """One page of deliveries (newest first) and the count of all that match."""
    params = {
        "id": delivery_id,
        "status": status,
        "endpoint_id": endpoint_id,
        "provider_id": provider_id,
    }
    rows = conn.execute(
        _SQL["list_deliveries"], {**params, "limit": limit, "offset": offset}
    ).fetchall()
    total = int(rows[0]["total"]) if rows else 0
    if not rows and offset > 0:
        # The page is past the end: the count comes from the first page.
        first = conn.execute(
            _SQL["list_deliveries"], {**params, "limit": 1, "offset": 0}
        ).fetchone()
        total = int(first["total"]) if first else 0
    return total, [
        record(DeliveryView, {k: v for k, v in row.items() if k != "total"}) for row in rows
    ]


# The position and order of ``deliveries_from``: newest first, ties by id (ids are uuid7, so
# ties are rare but possible: two deliveries written in one microsecond).
_OLDER = """
  AND w.created_at <= %(at)s AND (w.created_at < %(at)s OR w.id > %(after_id)s)
ORDER BY w.created_at DESC, w.id LIMIT %(limit)s
"""
_NEWER = """
  AND w.created_at >= %(at)s AND (w.created_at > %(at)s OR w.id < %(after_id)s)
ORDER BY w.created_at, w.id DESC LIMIT %(limit)s
"""
_FIRST = """
ORDER BY w.created_at DESC, w.id LIMIT %(limit)s
"""


def deliveries_from(
    conn: Connection,
    *,
    status: str | None,
    endpoint_id: UUID | None,
    provider_id: UUID | None,
    after: tuple[datetime, UUID] | None,
    newer: bool,
    limit: int,
) -> list[DeliveryView]:
    """Up to ``limit`` deliveries next to the position ``after`` (``created_at``, ``id``; None:
    from the newest): older ones or, ``newer``, newer ones; newest first either way."""
    at, after_id = (None, None) if after is None else after
    tail = _FIRST if at is None else _NEWER if newer else _OLDER
    params = {
        "status": status,
        "endpoint_id": endpoint_id,
        "provider_id": provider_id,
        "at": at,
        "after_id": after_id,
        "limit": limit,
    }
    rows = conn.execute(_SQL["deliveries_from"] + tail, params).fetchall()
    views = [record(DeliveryView, row) for row in rows]
    return views[::-1] if at is not None and newer else views


def count_deliveries(
    conn: Connection,
    *,
    status: str | None,
    endpoint_id: UUID | None,
    provider_id: UUID | None,
) -> int:
    """Every delivery matching the filters."""
    row = conn.execute(
        _SQL["count_deliveries"],
        {"status": status, "endpoint_id": endpoint_id, "provider_id": provider_id},
    ).fetchone()
    assert row is not None
    return int(row["n"])


def list_attempts(conn: Connection, delivery_id: UUID) -> list[AttemptView]:
    with conn.cursor(row_factory=record_row(AttemptView)) as cur:
        return cur.execute(_SQL["list_attempts"], {"id": delivery_id}).fetchall()


def lock_delivery(conn: Connection, delivery_id: UUID) -> dict[str, Any] | None:
    return conn.execute(_SQL["lock_delivery"], {"id": delivery_id}).fetchone()


def redeliver(conn: Connection, delivery_id: UUID) -> None:
    conn.execute(_SQL["redeliver"], {"id": delivery_id})


def has_due(conn: Connection) -> bool:
    row = conn.execute(_SQL["has_due"]).fetchone()
    return bool(row and row["due"])


def queue_depth(conn: Connection) -> int:
    row = conn.execute(_SQL["queue_depth"]).fetchone()
    return int(row["depth"]) if row else 0
