"""SQL for the job queue: the one adapter to Procrastinate's tables and functions, used on our
own connections.

The Procrastinate internals leadflow relies on are named here and nowhere else in the running
code (migrations 0004 and 0005 name them too, as they stood when written); a test checks them
against the pinned version (``PROCRASTINATE_VERSION``): the functions ``DEFER_FUNCTION`` and
``RETRY_FUNCTION`` with their signatures, the ``JOB_TO_DEFER_TYPE`` row type, the notification
channels ``QUEUE_CHANNEL_PREFIX`` + queue and ``ANY_QUEUE_CHANNEL`` that its workers listen on,
and the columns of ``procrastinate_jobs`` and ``procrastinate_events`` read below.

Deferring through ``procrastinate_defer_jobs_v1`` on the caller's connection puts the job in the
caller's transaction: a committed approval always has its job, a rolled-back one has none.
Procrastinate's status names (``todo``, ``doing``, ...) stay in this module; callers speak the
API's vocabulary (``queued``, ``running``, ``succeeded``, ``failed``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, LiteralString
from uuid import UUID

from psycopg import sql

from leadflow.db.connection import Connection
from leadflow.db.rows import record_row
from leadflow.domain.model import Actor, RunStatus, RunTrigger

# What this adapter was written against: pyproject pins the same version.
PROCRASTINATE_VERSION = "3.10.0"
DEFER_FUNCTION = "procrastinate_defer_jobs_v1(jobs procrastinate_job_to_defer_v1[])"
RETRY_FUNCTION = (
    "procrastinate_retry_job_v2(job_id bigint, retry_at timestamp with time zone, "
    "new_priority integer, new_queue_name character varying, new_lock character varying)"
)
JOB_TO_DEFER_TYPE = (
    "procrastinate_job_to_defer_v1",
    ("queue_name", "task_name", "priority", "lock", "queueing_lock", "args", "scheduled_at"),
)
QUEUE_CHANNEL_PREFIX = "procrastinate_queue_v1#"
ANY_QUEUE_CHANNEL = "procrastinate_any_queue_v1"

DISTRIBUTE_TASK = "distribute_lead"
DISTRIBUTE_QUEUE = "distribute_lead"
DELIVER_TASK = "deliver_mail"
EMAIL_QUEUE = "email"
WEBHOOK_TASK = "deliver_webhooks"
WEBHOOK_QUEUE = "webhooks"
MAINTENANCE_QUEUE = "maintenance"
# The queues an operator sees in the jobs list; maintenance ticks are internal.
VISIBLE_QUEUES = (DISTRIBUTE_QUEUE, EMAIL_QUEUE, WEBHOOK_QUEUE)
# Workers take higher priorities first: recovery, then mail and webhooks, then the distribution
# backlog.
MAINTENANCE_PRIORITY = 10
MAIL_PRIORITY = 5

# API status -> Procrastinate statuses. ``failed`` is a dead letter (or a job stopped for good).
STATUS_FILTERS: dict[str, tuple[str, ...]] = {
    "queued": ("todo",),
    "running": ("doing",),
    "succeeded": ("succeeded",),
    "failed": ("failed", "cancelled", "aborted"),
}
ACTIVE = STATUS_FILTERS["queued"] + STATUS_FILTERS["running"]


def api_status(procrastinate_status: str) -> str:
    """The API's name for a Procrastinate job status."""
    for name, statuses in STATUS_FILTERS.items():
        if procrastinate_status in statuses:
            return name
    return "failed"


def niche_lock(niche_id: UUID) -> str:
    """Jobs sharing this lock run one at a time: a hot niche occupies one worker slot."""
    return f"niche:{niche_id}"


@dataclass(frozen=True, slots=True)
class JobRow:
    id: int
    queue_name: str
    task_name: str
    status: str  # Procrastinate's status
    attempts: int
    scheduled_at: datetime | None
    lock: str | None
    lead_id: UUID | None
    last_error: str | None
    started_at: datetime | None


# A job deferred to run at once has no ``scheduled_at``: it was scheduled when it was deferred.
# The latest failed run of the job carries its error (the engine records one per failed attempt).
_JOB_COLUMNS = sql.SQL("""
    j.id, j.queue_name, j.task_name, j.status::text AS status, j.attempts, j.lock,
    COALESCE(j.scheduled_at, (SELECT min(e.at) FROM procrastinate_events e
                              WHERE e.job_id = j.id AND e.type = 'deferred')) AS scheduled_at,
    (j.args->>'lead_id')::uuid AS lead_id,
    (SELECT r.error FROM distribution_runs r
      WHERE j.task_name = 'distribute_lead' AND r.lead_id = (j.args->>'lead_id')::uuid
        AND r.job_id = j.id AND r.status = 'failed'
      ORDER BY r.started_at DESC LIMIT 1) AS last_error,
    (SELECT max(e.at) FROM procrastinate_events e
      WHERE e.job_id = j.id AND e.type = 'started') AS started_at
""")


def defer_distribution(
    conn: Connection, *, lead_id: UUID, niche_id: UUID, actor: Actor, requested_at: datetime
) -> int:
    """Enqueue a ``distribute_lead`` job in the caller's transaction; returns its id.

    The payload is the seed's ``DistributionJob``: lead, triggering actor and role, requested-at.
    """
    [job_id] = defer_distributions(
        conn,
        lead_ids=[lead_id],
        niche_id=niche_id,
        actor=actor,
        requested_at=requested_at,
        trigger=RunTrigger.DISTRIBUTION,
    )
    return job_id


def defer_distributions(
    conn: Connection,
    *,
    lead_ids: Sequence[UUID],
    niche_id: UUID,
    actor: Actor,
    requested_at: datetime,
    trigger: RunTrigger,
) -> list[int]:
    """Enqueue a ``distribute_lead`` job per lead of one niche, in that order and in one
    statement, in the caller's transaction; their ids, ascending (the order they run in)."""
    base: dict[str, Any] = {
        "actor_id": actor.id,
        "actor_role": str(actor.role),
        "requested_at": requested_at.isoformat(),
    }
    if trigger != RunTrigger.DISTRIBUTION:
        base["trigger"] = str(trigger)
    lock = niche_lock(niche_id)
    return _defer(
        conn,
        DISTRIBUTE_QUEUE,
        DISTRIBUTE_TASK,
        [(lock, {"lead_id": str(lead_id), **base}) for lead_id in lead_ids],
    )


def active_job_ids(conn: Connection, job_ids: Sequence[int]) -> set[int]:
    """Those of ``job_ids`` still queued or running."""
    rows = conn.execute(
        "SELECT id FROM procrastinate_jobs WHERE id = ANY(%s) AND status IN ('todo', 'doing')",
        (list(job_ids),),
    ).fetchall()
    return {int(row["id"]) for row in rows}


def leads_with_active_jobs(conn: Connection, lead_ids: Sequence[UUID]) -> set[UUID]:
    """Those of ``lead_ids`` with a queued or running ``distribute_lead`` job."""
    rows = conn.execute(
        """
        SELECT DISTINCT (args->>'lead_id')::uuid AS lead_id FROM procrastinate_jobs
        WHERE task_name = 'distribute_lead' AND (args->>'lead_id') = ANY(%s)
          AND status IN ('todo', 'doing')
        """,
        ([str(lead_id) for lead_id in lead_ids],),
    ).fetchall()
    return {row["lead_id"] for row in rows}


def defer_mail_delivery(conn: Connection) -> int | None:
    """Enqueue a delivery run of the email outbox unless one is already waiting; its id."""
    return _defer_batch_run(conn, EMAIL_QUEUE, DELIVER_TASK, sql.SQL("true"))


# Due deliveries (of any endpoint: the run looks at active ones): a sale to buyers without
# endpoints queues nothing.
_WEBHOOKS_DUE = sql.SQL(
    "EXISTS (SELECT 1 FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= now())"
)


def defer_webhook_delivery(conn: Connection) -> int | None:
    """Enqueue a delivery run of the webhook outbox when deliveries are due, unless one is
    already waiting; its id."""
    return _defer_batch_run(conn, WEBHOOK_QUEUE, WEBHOOK_TASK, _WEBHOOKS_DUE)


def _defer_batch_run(conn: Connection, queue: str, task: str, when: sql.SQL) -> int | None:
    """A run of ``task`` if ``when`` holds, unless one is already waiting.

    Two callers racing may both enqueue; runs claim their rows with SKIP LOCKED, so that only
    costs an empty run.
    """
    query = sql.SQL(
        """
        SELECT unnest(procrastinate_defer_jobs_v1(
                   ARRAY[ROW(%(queue)s, %(task)s, %(priority)s, NULL, NULL, '{{}}'::jsonb, NULL)]
                   ::procrastinate_job_to_defer_v1[])) AS id
        WHERE NOT EXISTS (SELECT 1 FROM procrastinate_jobs
                          WHERE task_name = %(task)s AND status = 'todo')
          AND {when}
        """
    ).format(when=when)
    row = conn.execute(query, {"queue": queue, "task": task, "priority": MAIL_PRIORITY}).fetchone()
    return None if row is None else int(row["id"])


def _defer(
    conn: Connection, queue: str, task: str, jobs: Sequence[tuple[str | None, dict[str, Any]]]
) -> list[int]:
    """Jobs of ``task`` with these locks and arguments, in one statement; ids ascending."""
    if not jobs:
        return []
    rows = conn.execute(
        """
        SELECT unnest(procrastinate_defer_jobs_v1(ARRAY(
                   SELECT ROW(%(queue)s, %(task)s, 0, j.lock, NULL, j.args, NULL)
                          ::procrastinate_job_to_defer_v1
                   FROM unnest(%(locks)s::text[], %(args)s::jsonb[]) WITH ORDINALITY
                        AS j(lock, args, n)
                   ORDER BY j.n))) AS id
        """,
        {
            "queue": queue,
            "task": task,
            "locks": [lock for lock, _ in jobs],
            "args": [json.dumps(args) for _, args in jobs],
        },
    ).fetchall()
    return sorted(int(row["id"]) for row in rows)


def active_distribution_job(conn: Connection, lead_id: UUID) -> JobRow | None:
    """The lead's queued or running ``distribute_lead`` job, if any."""
    return _one(
        conn,
        _select_jobs(
            """
            WHERE j.task_name = 'distribute_lead' AND (j.args->>'lead_id') = %s
              AND j.status IN ('todo', 'doing')
            ORDER BY j.id DESC LIMIT 1
            """
        ),
        (str(lead_id),),
    )


def latest_distribution_job(conn: Connection, lead_id: UUID) -> JobRow | None:
    """The lead's newest ``distribute_lead`` job, finished ones included."""
    return _one(
        conn,
        _select_jobs(
            """
            WHERE j.task_name = 'distribute_lead' AND (j.args->>'lead_id') = %s
            ORDER BY j.id DESC LIMIT 1
            """
        ),
        (str(lead_id),),
    )


def get_job(conn: Connection, job_id: int, *, lock: bool = False) -> JobRow | None:
    """A job of a visible queue; ``lock`` holds its row until the transaction ends."""
    return _one(
        conn,
        _select_jobs(
            "WHERE j.id = %s AND j.queue_name = ANY(%s)" + (" FOR UPDATE OF j" if lock else "")
        ),
        (job_id, list(VISIBLE_QUEUES)),
    )


def list_jobs(
    conn: Connection, *, statuses: Sequence[str] | None, limit: int, offset: int
) -> tuple[int, list[JobRow]]:
    """Jobs of the visible queues, newest first, with the total count."""
    params: dict[str, Any] = {
        "queues": list(VISIBLE_QUEUES),
        "statuses": list(statuses) if statuses is not None else None,
        "limit": limit,
        "offset": offset,
    }
    total_row = conn.execute(
        """
        SELECT count(*) AS n FROM procrastinate_jobs j
        WHERE j.queue_name = ANY(%(queues)s)
          AND (%(statuses)s::text[] IS NULL OR j.status::text = ANY(%(statuses)s::text[]))
        """,
        params,
    ).fetchone()
    with conn.cursor(row_factory=record_row(JobRow)) as cur:
        rows = cur.execute(
            _select_jobs(
                """
                WHERE j.queue_name = ANY(%(queues)s)
                  AND (%(statuses)s::text[] IS NULL OR j.status::text = ANY(%(statuses)s::text[]))
                ORDER BY j.id DESC LIMIT %(limit)s OFFSET %(offset)s
                """
            ),
            params,
        ).fetchall()
    return (int(total_row["n"]) if total_row else 0), rows


def jobs_from(
    conn: Connection,
    *,
    statuses: Sequence[str] | None,
    after: int | None,
    newer: bool,
    limit: int,
) -> list[JobRow]:
    """Up to ``limit`` jobs of the visible queues next to the position ``after`` (a job id;
    None: from the newest): older ones or, ``newer``, newer ones; newest first (``id DESC``,
    along procrastinate's primary key) either way."""
    params: dict[str, Any] = {
        "queues": list(VISIBLE_QUEUES),
        "statuses": list(statuses) if statuses is not None else None,
        "after": after,
        "limit": limit,
    }
    where = """
        WHERE j.queue_name = ANY(%(queues)s)
          AND (%(statuses)s::text[] IS NULL OR j.status::text = ANY(%(statuses)s::text[]))
    """
    if after is None:
        tail: LiteralString = "ORDER BY j.id DESC LIMIT %(limit)s"
    elif newer:
        tail = "AND j.id > %(after)s ORDER BY j.id LIMIT %(limit)s"
    else:
        tail = "AND j.id < %(after)s ORDER BY j.id DESC LIMIT %(limit)s"
    with conn.cursor(row_factory=record_row(JobRow)) as cur:
        rows = cur.execute(_select_jobs(where + tail), params).fetchall()
    return rows[::-1] if after is not None and newer else rows


def count_jobs(conn: Connection, *, statuses: Sequence[str] | None) -> int:
    """Every job of the visible queues with one of ``statuses`` (None: any)."""
    row = conn.execute(
        """
        SELECT count(*) AS n FROM procrastinate_jobs j
        WHERE j.queue_name = ANY(%(queues)s)
          AND (%(statuses)s::text[] IS NULL OR j.status::text = ANY(%(statuses)s::text[]))
        """,
        {
            "queues": list(VISIBLE_QUEUES),
            "statuses": list(statuses) if statuses is not None else None,
        },
    ).fetchone()
    return int(row["n"]) if row else 0


def requeue_failed(conn: Connection, job_id: int, *, lock: str | None) -> None:
    """Put a dead-lettered job back in its queue now, with a fresh retry schedule.

    Procrastinate's retry function does the transition (and records its ``retried`` event);
    the attempt counter is reset so the job gets the whole schedule again. Procrastinate only
    notifies workers of inserted jobs, so the notification is sent here (on commit).
    """
    conn.execute("SELECT procrastinate_retry_job_v2(%s, now(), NULL, NULL, %s)", (job_id, lock))
    row = conn.execute(
        "UPDATE procrastinate_jobs SET attempts = 0 WHERE id = %s RETURNING queue_name", (job_id,)
    ).fetchone()
    assert row is not None
    payload = json.dumps({"type": "job_inserted", "job_id": job_id})
    conn.execute(
        "SELECT pg_notify(%s, %s), pg_notify(%s, %s)",
        (QUEUE_CHANNEL_PREFIX + row["queue_name"], payload, ANY_QUEUE_CHANNEL, payload),
    )


def queue_depth(conn: Connection) -> list[dict[str, Any]]:
    """Job counts by queue and Procrastinate status."""
    return conn.execute(
        """
        SELECT queue_name, status::text AS status, count(*) AS n
        FROM procrastinate_jobs GROUP BY queue_name, status
        """
    ).fetchall()


def _select_jobs(tail: LiteralString) -> sql.Composed:
    return sql.SQL("SELECT {} FROM procrastinate_jobs j ").format(_JOB_COLUMNS) + sql.SQL(tail)


def _one(conn: Connection, query: sql.Composed, params: Sequence[Any]) -> JobRow | None:
    with conn.cursor(row_factory=record_row(JobRow)) as cur:
        return cur.execute(query, params).fetchone()


@dataclass(frozen=True, slots=True)
class RunSummary:
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None
    start_level_order_position: int | None
    assignments_created: int
    error: str | None
    job_id: int | None


def last_run(conn: Connection, lead_id: UUID) -> RunSummary | None:
    """The lead's most recent distribution run."""
    with conn.cursor(row_factory=record_row(RunSummary)) as cur:
        return cur.execute(
            """
            SELECT status, started_at, finished_at, start_level_order_position,
                   assignments_created, error, job_id
            FROM distribution_runs WHERE lead_id = %s
            ORDER BY started_at DESC, finished_at DESC NULLS LAST LIMIT 1
            """,
            (lead_id,),
        ).fetchone()


def active_assignment_count(conn: Connection, lead_id: UUID) -> int:
    row = conn.execute(
        "SELECT count(*) AS n FROM lead_assignments WHERE lead_id = %s AND status = 'active'",
        (lead_id,),
    ).fetchone()
    return int(row["n"]) if row else 0
