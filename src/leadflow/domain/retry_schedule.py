"""The retry schedule (SPEC §4): pure functions of the delays and the attempt count, no I/O.

Jobs, mails and outbox events all follow it."""

from __future__ import annotations

from collections.abc import Sequence

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
