"""SQL of unsold leads (statements in ``sql/unsold.sql``, SPEC §11): wake-ups, resale batches,
expiry."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from leadflow.db import queries
from leadflow.db.connection import Connection
from leadflow.db.rows import record_row

_SQL = queries.load("unsold.sql")


@dataclass(frozen=True, slots=True)
class Wakeup:
    """A niche's request being served: since when its pass runs, and what asked for it."""

    niche_id: UUID
    pass_at: datetime
    reason: str


def niches_of(
    conn: Connection,
    *,
    subscription_ids: Iterable[UUID] = (),
    level_ids: Iterable[UUID] = (),
    provider_ids: Iterable[UUID] = (),
) -> list[UUID]:
    """The niches of these subscriptions, levels and providers."""
    rows = conn.execute(
        _SQL["niches_of"],
        {
            "subscription_ids": list(subscription_ids),
            "level_ids": list(level_ids),
            "provider_ids": list(provider_ids),
        },
    ).fetchall()
    return [row["niche_id"] for row in rows]


def wake(conn: Connection, niche_ids: Sequence[UUID], reason: str) -> None:
    """Ask for the unsold leads of these niches to be offered again."""
    if niche_ids:
        conn.execute(_SQL["wake"], {"niche_ids": list(niche_ids), "reason": reason})


def wakeups(conn: Connection, *, limit: int) -> list[tuple[UUID, int | None]]:
    """The waiting requests, longest first: niche and the last job of its batch in flight."""
    rows = conn.execute(_SQL["wakeups"], {"limit": limit}).fetchall()
    return [(row["niche_id"], row["last_job_id"]) for row in rows]


def claim_wakeup(conn: Connection, niche_id: UUID, last_job_id: int | None) -> Wakeup | None:
    """Lock the niche's request and start its pass, unless another tick holds it or it changed."""
    row = conn.execute(
        _SQL["claim_wakeup"], {"niche_id": niche_id, "last_job_id": last_job_id}
    ).fetchone()
    return None if row is None else Wakeup(row["niche_id"], row["pass_at"], row["reason"])


def due_leads(conn: Connection, wakeup: Wakeup, *, min_interval: int, limit: int) -> list[UUID]:
    """The pass's next batch of leads, oldest first, locked."""
    rows = conn.execute(
        _SQL["due_leads"],
        {
            "niche_id": wakeup.niche_id,
            "pass_at": wakeup.pass_at,
            "min_interval": min_interval,
            "limit": limit,
        },
    ).fetchall()
    return [row["id"] for row in rows]


def pass_pending(conn: Connection, wakeup: Wakeup) -> bool:
    """Whether leads of the pass still wait for their ``min_interval``."""
    row = conn.execute(
        _SQL["pass_pending"], {"niche_id": wakeup.niche_id, "pass_at": wakeup.pass_at}
    ).fetchone()
    assert row is not None
    return bool(row["pending"])


def batch_queued(
    conn: Connection, wakeup: Wakeup, lead_ids: Sequence[UUID], last_job_id: int
) -> None:
    """Record the batch's last job on the request and a ``distribution.requested`` audit row
    per lead."""
    conn.execute(
        _SQL["batch_queued"],
        {
            "niche_id": wakeup.niche_id,
            "last_job_id": last_job_id,
            "lead_ids": list(lead_ids),
            "reason": wakeup.reason,
        },
    )


def finish_wakeup(conn: Connection, niche_id: UUID, *, grace: int) -> bool:
    """Delete the request once its pass is ``grace`` seconds old; whether it was deleted."""
    cursor = conn.execute(_SQL["finish_wakeup"], {"niche_id": niche_id, "grace": grace})
    return cursor.rowcount > 0


def expire_due(conn: Connection, *, limit: int) -> int:
    """Expire at most ``limit`` leads past their niche's ``lead_ttl_hours``; how many."""
    row = conn.execute(_SQL["expire_due"], {"limit": limit}).fetchone()
    assert row is not None
    return int(row["expired"])


@dataclass(frozen=True, slots=True)
class ClockRules:
    """A subscription's rules the clock acts on, with its niche."""

    niche_id: UUID
    schedule: dict[str, Any] | None
    hourly_cap: int | None
    daily_cap: int | None
    weekly_cap: int | None
    monthly_cap: int | None
    daily_budget_cents: int | None
    monthly_budget_cents: int | None


def clock_rules(conn: Connection) -> list[ClockRules]:
    """Active subscriptions with a schedule, cap or budget in niches where leads wait."""
    with conn.cursor(row_factory=record_row(ClockRules)) as cur:
        return cur.execute(_SQL["clock_rules"]).fetchall()
