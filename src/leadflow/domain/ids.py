"""Time-ordered ids (UUID version 7, RFC 9562) for the rows a sale writes.

Their first 48 bits are the Unix time in milliseconds, so rows inserted together land next to
each other in their indexes: a sale's primary-key inserts append to the index's right edge
instead of touching a random leaf each (one full-page image per leaf in the WAL after every
checkpoint). The remaining 74 bits are random.
"""

from __future__ import annotations

import os
import time
from uuid import UUID

_MS_BITS = (1 << 48) - 1


def uuid7() -> UUID:
    """A new version-7 UUID."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (
        (ms & _MS_BITS) << 80
        | 0x7 << 76
        | ((rand >> 62) & 0xFFF) << 64
        | 0b10 << 62
        | rand & ((1 << 62) - 1)
    )
    return UUID(int=value)
