"""The worker P3 measures: leadflow's own ``run_worker``, plus a no-op task for the reference.

Run as ``python -m bench.worker_process URL CONCURRENCY``; SIGTERM stops it gracefully.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

from procrastinate import App

from leadflow.db import jobs
from leadflow.settings import Settings
from leadflow.worker import runner, tasks

NOOP_TASK = "bench_noop"
_register = tasks.register


def _register_with_noop(app: App, settings: Settings) -> None:
    _register(app, settings)

    async def bench_noop() -> None:
        """Does nothing: what the queue alone costs."""

    app.task(name=NOOP_TASK, queue=jobs.DISTRIBUTE_QUEUE)(bench_noop)


async def _main(url: str, concurrency: int) -> None:
    tasks.register = _register_with_noop
    task = asyncio.create_task(runner.run_worker(Settings(), url, concurrency=concurrency))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1], int(sys.argv[2])))
