"""Time-ordered ids (``domain.ids.uuid7``)."""

from __future__ import annotations

import time

from leadflow.domain.ids import uuid7


def test_uuid7_has_version_7_the_rfc_variant_and_the_time_first() -> None:
    before = time.time_ns() // 1_000_000
    made = uuid7()
    after = time.time_ns() // 1_000_000
    assert made.version == 7
    assert made.variant == "specified in RFC 4122"
    assert before <= made.int >> 80 <= after


def test_uuid7_ids_are_unique_and_ordered_by_millisecond() -> None:
    ids = [uuid7() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    stamps = [i.int >> 80 for i in ids]
    assert stamps == sorted(stamps)
