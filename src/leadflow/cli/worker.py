"""``leadflow worker``: run jobs (distribution, mail delivery) until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import typer

from leadflow.cli import app
from leadflow.cli.context import database, require_migrated, with_secret_key
from leadflow.settings import Settings


@app.command()
def worker(
    concurrency: int | None = typer.Option(
        None,
        min=1,
        max=64,
        help="Jobs run at the same time (default: LEADFLOW_WORKER_CONCURRENCY).",
    ),
    metrics_port: int | None = typer.Option(
        None, help="Serve Prometheus /metrics here (default: LEADFLOW_WORKER_METRICS_PORT)."
    ),
) -> None:
    """Run a worker; SIGTERM finishes the jobs in hand and takes no new one."""
    settings = with_secret_key(Settings())
    port = metrics_port if metrics_port is not None else settings.worker_metrics_port
    with database(settings) as url:
        require_migrated(url)
        asyncio.run(_run(settings, url, concurrency, port))


async def _run(settings: Settings, url: str, concurrency: int | None, port: int | None) -> None:
    # Imported here: the other commands need not load the engine and the job queue.
    from leadflow.worker import run_worker

    task = asyncio.create_task(
        run_worker(settings, url, concurrency=concurrency, metrics_port=port)
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
