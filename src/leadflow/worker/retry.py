"""Retry decisions: pure functions of the schedule and the attempt count, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from procrastinate import BaseRetryStrategy, RetryDecision
from procrastinate.jobs import Job

# A transient mail failure with no schedule configured waits this long.
DEFAULT_MAIL_RETRY_SECONDS = 60


def job_retry_delay(delays: Sequence[int], attempts: int) -> int | None:
    """Seconds before the next attempt of a job that failed after ``attempts`` earlier attempts
    (0 on the first run); None once 1 + len(delays) attempts have run: the job is dead-lettered."""
    if attempts < len(delays):
        return max(0, delays[attempts])
    return None


def mail_retry_delay(delays: Sequence[int], attempts: int, *, permanent: bool) -> int | None:
    """Seconds before a mail is tried again after its ``attempts``-th failed attempt (>= 1).

    A server that is down or busy (transient) is waited for indefinitely, at the schedule's
    last interval once the schedule is used up: mails are never lost to an outage. A refusal
    (5xx) follows the job schedule and then the mail is ``failed`` (None)."""
    if permanent:
        return job_retry_delay(delays, attempts - 1)
    if not delays:
        return DEFAULT_MAIL_RETRY_SECONDS
    return max(0, delays[min(attempts - 1, len(delays) - 1)])


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
