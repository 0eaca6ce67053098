"""SQL for the distribution runs as an operator reads them: a lead's runs, one run, what it sold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from leadflow.db.connection import Connection
from leadflow.db.rows import record_row
from leadflow.domain.model import RunStatus, RunTrigger


@dataclass(frozen=True, slots=True)
class RunRow:
    id: UUID
    lead_id: UUID
    niche_id: UUID
    triggered_by_actor_id: str | None
    triggered_by_role: str
    job_id: int | None
    status: RunStatus
    start_level_order_position: int | None
    traversal_order: list[UUID]
    assignments_created: int
    skipped: list[dict[str, Any]]
    skipped_total: int
    started_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    error: str | None
    trigger: RunTrigger
    sale_round: int
    # Per level that used weighted order or switched order (SPEC §12): level_id, order, switched.
    level_rules: list[dict[str, Any]]


# A ``RunRow``'s columns, for every read of one.
_SELECT = """
    SELECT id, lead_id, niche_id, triggered_by_actor_id, triggered_by_role, job_id, status,
           start_level_order_position, traversal_order, assignments_created, skipped,
           skipped_total, started_at, finished_at, duration_ms, error, trigger, sale_round,
           level_rules
    FROM distribution_runs
"""


@dataclass(frozen=True, slots=True)
class RunSale:
    assignment_id: UUID
    provider_id: UUID
    provider_name: str
    subscription_id: UUID
    competition_level_id: UUID
    price_charged_cents: int
    assigned_at: datetime


def get_run(conn: Connection, run_id: UUID) -> RunRow | None:
    with conn.cursor(row_factory=record_row(RunRow)) as cur:
        return cur.execute(
            _SELECT + "WHERE id = %s",
            (run_id,),
        ).fetchone()


def lead_runs(conn: Connection, lead_id: UUID, *, limit: int) -> list[RunRow]:
    """The lead's runs, newest first."""
    with conn.cursor(row_factory=record_row(RunRow)) as cur:
        return cur.execute(
            _SELECT
            + "WHERE lead_id = %s ORDER BY started_at DESC, finished_at DESC NULLS LAST LIMIT %s",
            (lead_id, limit),
        ).fetchall()


def run_sales(conn: Connection, run_ids: list[UUID]) -> list[tuple[UUID, RunSale]]:
    """The assignments the runs created, in the order they were made, with their run's id."""
    rows = conn.execute(
        """
        SELECT a.distribution_run_id, a.id AS assignment_id, a.provider_id, p.name AS provider_name,
               a.subscription_id, a.competition_level_id, a.price_charged_cents, a.assigned_at
        FROM lead_assignments a JOIN providers p ON p.id = a.provider_id
        WHERE a.distribution_run_id = ANY(%s)
        ORDER BY a.assigned_at, a.id
        """,
        (run_ids,),
    ).fetchall()
    return [
        (
            row.pop("distribution_run_id"),
            RunSale(**row),
        )
        for row in rows
    ]


def level_names(conn: Connection, level_ids: list[UUID]) -> dict[UUID, tuple[str, int]]:
    """Name and order position of each level."""
    rows = conn.execute(
        "SELECT id, name, order_position FROM competition_levels WHERE id = ANY(%s)", (level_ids,)
    ).fetchall()
    return {row["id"]: (row["name"], row["order_position"]) for row in rows}


def provider_names(conn: Connection, provider_ids: list[UUID]) -> dict[UUID, str]:
    rows = conn.execute(
        "SELECT id, name FROM providers WHERE id = ANY(%s)", (provider_ids,)
    ).fetchall()
    return {row["id"]: row["name"] for row in rows}
