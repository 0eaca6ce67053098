"""The job retry strategy on the schedule of ``domain.retry_schedule``."""

from __future__ import annotations

from dataclasses import dataclass

from procrastinate import BaseRetryStrategy, RetryDecision
from procrastinate.jobs import Job

from leadflow.domain.retry_schedule import job_retry_delay, mail_retry_delay

__all__ = ["ScheduleRetry", "job_retry_delay", "mail_retry_delay"]


@dataclass(frozen=True)
class ScheduleRetry(BaseRetryStrategy):
    """1 attempt + one retry per delay (SPEC §4: 5 s, 15 s, 45 s, 2 min, 5 min), then dead letter.

    A retry waiting for its time takes a lock of its own: Procrastinate lets a waiting job hold
    back every later job with the same lock, which would stall the lead's whole niche."""

    delays: tuple[int, ...]

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        delay = job_retry_delay(self.delays, job.attempts)
        if delay is None:
            return None
        return RetryDecision(retry_in={"seconds": delay}, lock=f"retry:{job.id}")
