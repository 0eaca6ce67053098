"""SQL of returns: requests, decisions, the auto-approval counts and the views (statements in
``sql/returns.sql``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from leadflow.db import queries
from leadflow.db.connection import Connection
from leadflow.db.rows import record, record_row
from leadflow.domain.model import Actor, AssignmentStatus, ReturnStatus

_SQL = queries.load("returns.sql")


@dataclass(frozen=True, slots=True)
class Returnable:
    """An assignment as a return request sees it, with its niche's settings and the clock."""

    assignment_id: UUID
    lead_id: UUID
    provider_id: UUID
    status: AssignmentStatus
    price_charged_cents: int
    assigned_at: datetime
    niche_id: UUID
    return_window_hours: int
    return_reasons: list[str]
    auto_approve_returns_under_rate: Decimal | None
    resell_returned: bool
    now: datetime


@dataclass(frozen=True, slots=True)
class ReturnRecord:
    id: UUID
    assignment_id: UUID
    provider_id: UUID
    niche_id: UUID
    reason: str
    note: str | None
    status: ReturnStatus
    decided_by: str | None
    decided_by_role: str | None
    decision_reason: str | None
    refund_ledger_entry_id: UUID | None
    created_at: datetime
    decided_at: datetime | None


@dataclass(frozen=True, slots=True)
class ReturnView:
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


@dataclass(frozen=True, slots=True)
class LockedAssignment:
    id: UUID
    status: AssignmentStatus
    price_charged_cents: int


def returnable(conn: Connection, *, assignment_id: UUID, provider_id: UUID) -> Returnable | None:
    with conn.cursor(row_factory=record_row(Returnable)) as cur:
        return cur.execute(
            _SQL["returnable"], {"assignment_id": assignment_id, "provider_id": provider_id}
        ).fetchone()


def lock_assignment(conn: Connection, assignment_id: UUID) -> LockedAssignment:
    with conn.cursor(row_factory=record_row(LockedAssignment)) as cur:
        row = cur.execute(_SQL["lock_assignment"], (assignment_id,)).fetchone()
    assert row is not None, "assignments are never deleted"
    return row


def exists_for_assignment(conn: Connection, assignment_id: UUID) -> bool:
    return conn.execute(_SQL["find_by_assignment"], (assignment_id,)).fetchone() is not None


def insert(
    conn: Connection,
    *,
    assignment_id: UUID,
    provider_id: UUID,
    niche_id: UUID,
    reason: str,
    note: str | None,
) -> ReturnRecord:
    with conn.cursor(row_factory=record_row(ReturnRecord)) as cur:
        row = cur.execute(
            _SQL["insert_return"],
            {
                "assignment_id": assignment_id,
                "provider_id": provider_id,
                "niche_id": niche_id,
                "reason": reason,
                "note": note,
            },
        ).fetchone()
    assert row is not None
    return row


def approved_rate_counts(
    conn: Connection, *, provider_id: UUID, niche_id: UUID, period: timedelta
) -> tuple[int, int]:
    """(approved returns, assignments) of a provider in a niche over the last ``period``."""
    row = conn.execute(
        _SQL["approved_rate_counts"],
        {"provider_id": provider_id, "niche_id": niche_id, "period": period},
    ).fetchone()
    assert row is not None
    return int(row["approved"]), int(row["assignments"])


def get(conn: Connection, return_id: UUID, *, lock: bool = False) -> ReturnRecord | None:
    with conn.cursor(row_factory=record_row(ReturnRecord)) as cur:
        return cur.execute(_SQL["lock_return" if lock else "get_return"], (return_id,)).fetchone()


def mark_returned(conn: Connection, assignment_id: UUID) -> bool:
    return conn.execute(_SQL["mark_returned"], (assignment_id,)).fetchone() is not None


def put_back_for_resale(conn: Connection, lead_id: UUID) -> UUID | None:
    """Put a distributed lead never resold back to ``approved``; its niche id, or None."""
    row = conn.execute(_SQL["put_back_for_resale"], (lead_id,)).fetchone()
    return None if row is None else row["niche_id"]


def decide(
    conn: Connection,
    return_id: UUID,
    *,
    status: ReturnStatus,
    actor: Actor,
    reason: str | None,
    refund_ledger_entry_id: UUID | None,
) -> ReturnRecord | None:
    """Record the decision on an open request; None if it was no longer open."""
    with conn.cursor(row_factory=record_row(ReturnRecord)) as cur:
        return cur.execute(
            _SQL["decide"],
            {
                "id": return_id,
                "status": status,
                "actor_id": actor.id,
                "actor_role": str(actor.role),
                "reason": reason,
                "refund": refund_ledger_entry_id,
            },
        ).fetchone()


def list_views(
    conn: Connection,
    *,
    return_id: UUID | None = None,
    assignment_id: UUID | None = None,
    status: str | None = None,
    provider_id: UUID | None = None,
    niche_id: UUID | None = None,
    limit: int,
    offset: int,
) -> tuple[int, list[ReturnView]]:
    """One page of returns (newest first) and the count of all that match the filters."""
    rows = conn.execute(
        _SQL["list_views"],
        {
            "id": return_id,
            "assignment_id": assignment_id,
            "status": status,
            "provider_id": provider_id,
            "niche_id": niche_id,
            "limit": limit,
            "offset": offset,
        },
    ).fetchall()
    total = int(rows[0].pop("total")) if rows else 0
    for row in rows[1:]:
        row.pop("total")
    if not rows and offset > 0:
        # The page is past the end: the count comes from the first page.
        total, _ = list_views(
            conn,
            return_id=return_id,
            assignment_id=assignment_id,
            status=status,
            provider_id=provider_id,
            niche_id=niche_id,
            limit=1,
            offset=0,
        )
    return total, [record(ReturnView, row) for row in rows]


# Next to a cursor: the older rows, or the newer ones read upwards (then turned round).
_OLDER = """
  AND r.created_at <= %(at)s AND (r.created_at < %(at)s OR r.id > %(after_id)s)
ORDER BY r.created_at DESC, r.id LIMIT %(limit)s
"""
_NEWER = """
  AND r.created_at >= %(at)s AND (r.created_at > %(at)s OR r.id < %(after_id)s)
ORDER BY r.created_at, r.id DESC LIMIT %(limit)s
"""
_FIRST = " ORDER BY r.created_at DESC, r.id LIMIT %(limit)s"


def views_from(
    conn: Connection,
    *,
    status: str | None,
    provider_id: UUID | None,
    after: tuple[datetime, UUID] | None,
    newer: bool,
    limit: int,
) -> list[ReturnView]:
    """Up to ``limit`` returns next to the cursor ``after`` (``created_at``, ``id``) in the
    list's order (newest first): the older ones, or with ``newer`` the newer ones; no cursor,
    the first."""
    at, after_id = (None, None) if after is None else after
    tail = _FIRST if at is None else _NEWER if newer else _OLDER
    params = {
        "status": status,
        "provider_id": provider_id,
        "at": at,
        "after_id": after_id,
        "limit": limit,
    }
    rows = conn.execute(_SQL["views_from"] + tail, params).fetchall()
    views = [record(ReturnView, row) for row in rows]
    return views[::-1] if at is not None and newer else views


def count_views(conn: Connection, *, status: str | None, provider_id: UUID | None) -> int:
    row = conn.execute(
        _SQL["count_views"], {"status": status, "provider_id": provider_id}
    ).fetchone()
    assert row is not None
    return int(row["n"])


def decision_facts(conn: Connection, return_ids: Sequence[UUID]) -> dict[UUID, dict[str, Any]]:
    rows = conn.execute(_SQL["decision_facts"], {"ids": list(return_ids)}).fetchall()
    return {row["return_id"]: row for row in rows}


@dataclass(frozen=True, slots=True)
class Totals:
    requested: int
    approved: int
    denied: int
    refunded_cents: int


def totals(conn: Connection) -> Totals:
    with conn.cursor(row_factory=record_row(Totals)) as cur:
        row = cur.execute(_SQL["totals"]).fetchone()
    assert row is not None
    return row
