"""The operator's figures: leads by status, sales and revenue per UTC day, the job queue, and
the providers paused for a low balance."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from leadflow.db import jobs as jobs_db
from leadflow.db import reports as db
from leadflow.db.connection import Connection

MAX_DAYS = 366
DASHBOARD_DAYS = 30


@dataclass(frozen=True, slots=True)
class DailyReport:
    since: date
    until: date
    niche_id: UUID | None
    leads_by_status: dict[str, int]
    days: list[db.DayRow]
    counts: list[tuple[date, str, int]]  # (day, status, leads)

    def leads_on(self, day: date) -> dict[str, int]:
        """The leads that arrived on ``day``, by status."""
        return {status: n for d, status, n in self.counts if d == day}

    @property
    def sales(self) -> int:
        return sum(d.sales for d in self.days)

    @property
    def revenue_cents(self) -> int:
        return sum(d.revenue_cents for d in self.days)

    @property
    def refunds_cents(self) -> int:
        return sum(d.refunds_cents for d in self.days)


@dataclass(frozen=True, slots=True)
class Dashboard:
    today: dict[str, int]
    month: DailyReport
    queue: dict[str, dict[str, int]]  # queue -> status -> jobs
    dead_letters: int
    paused_providers: list[db.PausedProvider]


def window(since: date | None, until: date | None) -> tuple[date, date]:
    """The UTC days a report covers: default the last 30 days, today included; a window longer
    than ``MAX_DAYS`` keeps its last ``MAX_DAYS`` days."""
    until = until or datetime.now(UTC).date()
    since = since or until - timedelta(days=DASHBOARD_DAYS - 1)
    return max(since, until - timedelta(days=MAX_DAYS - 1)), until


def daily(
    tx: Connection, *, since: date | None, until: date | None, niche_id: UUID | None
) -> DailyReport:
    """Per UTC day ``since``..``until`` (default: the last 30 days, today included). A window
    longer than ``MAX_DAYS`` keeps its last ``MAX_DAYS`` days (the report says which); one that
    ends before it starts has no day."""
    since, until = window(since, until)
    counts = db.lead_counts(tx, since=since, until=until, niche_id=niche_id)
    by_status: dict[str, int] = {}
    by_day: dict[date, int] = {}
    for day, status, n in counts:
        by_status[status] = by_status.get(status, 0) + n
        by_day[day] = by_day.get(day, 0) + n
    days = [
        dataclasses.replace(d, leads=by_day.get(d.day, 0))
        for d in db.money_days(tx, since=since, until=until, niche_id=niche_id)
    ]
    return DailyReport(
        since=since,
        until=until,
        niche_id=niche_id,
        leads_by_status=by_status,
        days=days,
        counts=counts,
    )


def dashboard(tx: Connection) -> Dashboard:
    today = datetime.now(UTC).date()
    queue: dict[str, dict[str, int]] = {q: {} for q in jobs_db.VISIBLE_QUEUES}
    for row in jobs_db.queue_depth(tx):
        if row["queue_name"] not in queue:
            continue
        status = jobs_db.api_status(row["status"])
        queue[row["queue_name"]][status] = queue[row["queue_name"]].get(status, 0) + int(row["n"])
    month = daily(tx, since=None, until=today, niche_id=None)
    return Dashboard(
        today=month.leads_on(today),
        month=month,
        queue=queue,
        dead_letters=sum(q.get("failed", 0) for q in queue.values()),
        paused_providers=db.paused_for_balance(tx, limit=20),
    )
