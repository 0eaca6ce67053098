"""Request limits: parsing ``N/period`` settings such as ``LEADFLOW_INTAKE_RATE_LIMIT``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from leadflow.domain.errors import InvalidInput

PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*(?:/\s*(second|minute|hour|day))?\s*$")


@dataclass(frozen=True, slots=True)
class Rate:
    limit: int
    window_seconds: int


def parse_rate(text: str) -> Rate | None:
    """``"60/minute"`` -> Rate(60, 60); ``"0"`` -> None (no limit)."""
    match = _RATE.match(text)
    if match is None:
        raise InvalidInput(f"rate must look like '60/minute', not {text!r}")
    limit = int(match.group(1))
    if limit == 0:
        return None
    return Rate(limit=limit, window_seconds=PERIODS[match.group(2) or "minute"])
