"""The job worker: Procrastinate on the same PostgreSQL, queues ``distribute_lead`` and ``email``."""

from leadflow.worker.runner import run_worker

__all__ = ["run_worker"]
