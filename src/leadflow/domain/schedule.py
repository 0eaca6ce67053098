"""Delivery schedules (SPEC §12): business hours per weekday in an IANA time zone.

A schedule is ``{"timezone": "America/New_York", "hours": {"mon": [["09:00", "17:00"]], ...}}``.
A day missing from ``hours`` (or with no interval) is closed. An interval is ``[start, end)`` in
the zone's wall-clock time, ``"HH:MM"``, with ``"24:00"`` allowed as an end; intervals of a day
may not overlap. Daylight-saving changes follow the zone: the wall-clock time of an instant
decides, so in the hour skipped in spring no instant is inside ``02:00-03:00``, and both
instants of the hour repeated in autumn are inside ``01:00-02:00``. Pure: the instant is always
a parameter.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from leadflow.domain.errors import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_INTERVALS_PER_DAY = 24
UTC_NAME = "UTC"
_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$|^24:00$")
_MAX_ZONE_LENGTH = 64


@dataclass(frozen=True, slots=True)
class Schedule:
    """A parsed schedule: the zone, and per weekday (0 = Monday) its open intervals in minutes."""

    timezone: str
    days: tuple[tuple[tuple[int, int], ...], ...]  # seven entries, Monday first

    def as_json(self) -> dict[str, Any]:
        return {
            "timezone": self.timezone,
            "hours": {
                DAYS[day]: [[_clock(start), _clock(end)] for start, end in intervals]
                for day, intervals in enumerate(self.days)
                if intervals
            },
        }


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ``InvalidInput`` when the zone database does not know it."""
    if not name or len(name) > _MAX_ZONE_LENGTH or name != name.strip():
        raise InvalidInput(f"schedule.timezone {name!r} is not an IANA time zone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(
            f"schedule.timezone {name!r} is not an IANA time zone (e.g. America/New_York)"
        ) from None


def parse_schedule(raw: object) -> Schedule | None:
    """Validate a stored or submitted schedule (None: always open); ``InvalidInput`` names the
    first problem."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) != {"timezone", "hours"}:
        raise InvalidInput("schedule must be an object with exactly 'timezone' and 'hours'")
    name, hours = raw["timezone"], raw["hours"]
    if not isinstance(name, str):
        raise InvalidInput("schedule.timezone must be a string")
    zone(name)
    if not isinstance(hours, dict):
        raise InvalidInput("schedule.hours must be an object keyed by mon..sun")
    if len(hours) > len(DAYS):
        raise InvalidInput("schedule.hours has at most 7 days")
    unknown = sorted(str(k) for k in hours if k not in DAYS)
    if unknown:
        raise InvalidInput(f"schedule.hours: unknown day {unknown[0]!r} (use {', '.join(DAYS)})")
    days = tuple(_parse_day(day, hours.get(day, [])) for day in DAYS)
    return Schedule(timezone=name, days=days)


def _parse_day(day: str, raw: object) -> tuple[tuple[int, int], ...]:
    where = f"schedule.hours.{day}"
    if not isinstance(raw, list) or len(raw) > MAX_INTERVALS_PER_DAY:
        raise InvalidInput(f"{where} must be a list of at most {MAX_INTERVALS_PER_DAY} intervals")
    intervals = []
    for index, interval in enumerate(raw):
        if not (isinstance(interval, list) and len(interval) == 2):
            raise InvalidInput(f'{where}[{index}] must be ["HH:MM", "HH:MM"]')
        start, end = (_minutes(f"{where}[{index}]", value) for value in interval)
        if start >= end:
            raise InvalidInput(f"{where}[{index}]: start must be before end")
        if start == 24 * 60:
            raise InvalidInput(f"{where}[{index}]: 24:00 can only end an interval")
        intervals.append((start, end))
    intervals.sort()
    for (_, end), (start, _) in itertools.pairwise(intervals):
        if start < end:
            raise InvalidInput(f"{where}: intervals overlap")
    return tuple(intervals)


def _minutes(where: str, value: object) -> int:
    match = _TIME.match(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidInput(f"{where}: {value!r} is not a time HH:MM (00:00..24:00)")
    if match.group(1) is None:
        return 24 * 60
    return int(match.group(1)) * 60 + int(match.group(2))


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def is_open(schedule: Schedule | None, now: datetime) -> bool:
    """Whether the instant ``now`` (aware) falls in the schedule's hours, on its zone's clock."""
    if schedule is None:
        return True
    local = now.astimezone(zone(schedule.timezone))
    second = local.hour * 3600 + local.minute * 60 + local.second
    return any(start * 60 <= second < end * 60 for start, end in schedule.days[local.weekday()])


def timezone_of(schedule: Schedule | None) -> str:
    """The zone whose calendar the caps and budgets count in: the schedule's, else UTC."""
    return schedule.timezone if schedule is not None else UTC_NAME
