"""When a cap window rolls over: the calendar day (and with it the month) of a time zone."""

from __future__ import annotations

from datetime import datetime, tzinfo


def day_started(since: datetime, until: datetime, zone: tzinfo) -> bool:
    """Whether a new calendar day began in ``zone`` within ``(since, until]`` (aware times)."""
    return since.astimezone(zone).date() != until.astimezone(zone).date()
