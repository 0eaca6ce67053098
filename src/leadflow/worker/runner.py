"""Run a worker: the Procrastinate worker on our queues, the engine's sync pool, metrics."""

from __future__ import annotations

import asyncio
import os
import socket

import structlog
from procrastinate import App, PsycopgConnector
from psycopg_pool import AsyncConnectionPool

from leadflow.db import jobs
from leadflow.db.connection import (
    AsyncConnection,
    Reachability,
    create_pool,
    open_autocommit_pool,
)
from leadflow.db.pool import is_unavailable
from leadflow.settings import Settings
from leadflow.webhooks.secret_box import SecretBox
from leadflow.worker import mailer, metrics_server, tasks, webhooks
from leadflow.worker.retry import ScheduleRetry

log = structlog.get_logger(__name__)

QUEUES = (jobs.DISTRIBUTE_QUEUE, jobs.EMAIL_QUEUE, jobs.WEBHOOK_QUEUE, jobs.MAINTENANCE_QUEUE)
# LISTEN/NOTIFY wakes the worker at once; polling is the fallback (and finds retries coming due).
POLL_SECONDS = 2.0
RESTART_DELAY_SECONDS = 2.0


def build_app(settings: Settings) -> App:
    """A Procrastinate App with our tasks; it runs on the pool given to ``open_async``."""
    app = App(connector=PsycopgConnector())
    tasks.register(app, settings)
    return app


async def open_queue_pool(
    settings: Settings, url: str, *, concurrency: int, reachability: Reachability | None = None
) -> AsyncConnectionPool[AsyncConnection]:
    """The async pool Procrastinate works on: fetches, finishes, heartbeats (the listener has a
    connection of its own). Each of its calls is one statement, so the connections are in
    autocommit and lent after a check of their socket, not a round trip: a fetch or a finish is
    one round trip, where Procrastinate's own pool spends four (check, BEGIN, the call, COMMIT)."""
    return await open_autocommit_pool(
        url,
        settings,
        min_size=1,
        max_size=concurrency + 4,
        name="leadflow-queue",
        reachability=reachability,
    )


async def run_worker(
    settings: Settings,
    url: str,
    *,
    concurrency: int | None = None,
    metrics_port: int | None = None,
    reachability: Reachability | None = None,
) -> None:
    """Work the ``distribute_lead``, ``email``, ``webhooks`` and maintenance queues until
    cancelled.

    Cancelling is the graceful stop: running jobs finish, no new job is taken. If the worker
    stops by itself (the database went away), it starts again after a short pause; an outage
    is one warning however long it lasts, and one line when the database answers again.
    ``concurrency`` defaults to ``settings.worker_concurrency``; ``reachability`` is shared with
    the process's other pools (``leadflow up``'s API).
    """
    if concurrency is None:
        concurrency = settings.worker_concurrency
    reachability = reachability or Reachability()
    # Every slot runs the engine on a connection of its own: opened at start, not while the
    # first burst of jobs waits for them (a cold worker took seconds to catch up).
    pool = await asyncio.to_thread(
        create_pool,
        url,
        settings,
        min_size=concurrency,
        max_size=concurrency + 2,
        reachability=reachability,
    )
    server = (
        metrics_server.start(metrics_port, pool=pool, token=settings.metrics_token)
        if metrics_port is not None
        else None
    )
    deliverer = (
        None
        if settings.secret_key is None
        else webhooks.Deliverer(
            settings, pool, SecretBox.from_setting(settings.secret_key.get_secret_value())
        )
    )
    if deliverer is None:
        log.warning("webhooks_disabled", reason="LEADFLOW_SECRET_KEY is not set")
    runtime = tasks.Runtime(
        settings=settings,
        pool=pool,
        retry=ScheduleRetry(delays=tuple(settings.retry_delays)),
        webhooks=deliverer,
    )
    name = f"{socket.gethostname()}:{os.getpid()}"
    try:
        if settings.smtp_url:
            await asyncio.to_thread(mailer.release_held, pool)
        # The pool outlives the worker loop: it replaces the connections an outage broke.
        queue_pool = await open_queue_pool(
            settings, url, concurrency=concurrency, reachability=reachability
        )
        async with queue_pool:
            log.info("worker_started", name=name, concurrency=concurrency)
            while True:
                await _work(settings, queue_pool, runtime, name, concurrency, reachability)
                await asyncio.sleep(RESTART_DELAY_SECONDS)
    finally:
        log.info("worker_stopping", name=name)
        if server is not None:
            server.close()
        if deliverer is not None:
            await deliverer.aclose()
        await asyncio.to_thread(pool.close)


async def _work(
    settings: Settings,
    queue_pool: AsyncConnectionPool[AsyncConnection],
    runtime: tasks.Runtime,
    name: str,
    concurrency: int,
    reachability: Reachability,
) -> None:
    """Run the Procrastinate worker until it stops by itself; say why, once per outage."""
    app = build_app(settings)
    try:
        async with app.open_async(pool=queue_pool):
            await app.run_worker_async(
                queues=list(QUEUES),
                name=name,
                concurrency=concurrency,
                fetch_job_polling_interval=POLL_SECONDS,
                listen_notify=True,
                install_signal_handlers=False,
                update_heartbeat_interval=tasks.HEARTBEAT_SECONDS,
                stalled_worker_timeout=tasks.STALLED_AFTER_SECONDS,
                additional_context={"runtime": runtime},
            )
        log.warning("worker_stopped_unexpectedly", name=name)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        if is_unavailable(exc):
            # The database went away: the tracker warns once; each retry meanwhile is silent.
            reachability.failed(noticed_by=f"worker: {type(exc).__name__}")
        else:
            log.exception("worker_crashed", name=name)
