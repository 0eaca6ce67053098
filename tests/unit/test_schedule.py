"""Delivery schedules (SPEC §12): their validation, and the hours they open across DST."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from leadflow.domain.errors import InvalidInput
from leadflow.domain.schedule import is_open, parse_schedule

NY = "America/New_York"


def schedule(hours: dict[str, Any], timezone: str = NY) -> dict[str, Any]:
    return {"timezone": timezone, "hours": hours}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_a_schedule_is_stored_as_given_with_its_days_in_order() -> None:
    parsed = parse_schedule(
        schedule({"sun": [["10:00", "12:00"]], "mon": [["13:00", "24:00"], ["09:00", "12:00"]]})
    )
    assert parsed is not None
    assert parsed.as_json() == {
        "timezone": NY,
        "hours": {"mon": [["09:00", "12:00"], ["13:00", "24:00"]], "sun": [["10:00", "12:00"]]},
    }
    assert parse_schedule(None) is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (schedule({"mon": [["09:00", "17:00"]]}, "Mars/Olympus"), "not an IANA time zone"),
        (schedule({"mon": [["09:00", "17:00"]]}, ""), "not an IANA time zone"),
        (schedule({"mon": [["09:00", "17:00"]]}, "../../etc/passwd"), "not an IANA time zone"),
        (schedule({"mon": [["9:00", "17:00"]]}), "is not a time HH:MM"),
        (schedule({"mon": [["09:00", "25:00"]]}), "is not a time HH:MM"),
        (schedule({"mon": [["09:60", "17:00"]]}), "is not a time HH:MM"),
        (schedule({"mon": [[900, "17:00"]]}), "is not a time HH:MM"),
        (schedule({"mon": [["17:00", "09:00"]]}), "start must be before end"),
        (schedule({"mon": [["09:00", "09:00"]]}), "start must be before end"),
        (schedule({"mon": [["09:00", "12:00"], ["11:59", "14:00"]]}), "intervals overlap"),
        (schedule({"monday": [["09:00", "17:00"]]}), "unknown day 'monday'"),
        (schedule({"mon": [["09:00"]]}), '["HH:MM", "HH:MM"]'),
        (schedule({"mon": "09:00-17:00"}), "must be a list"),
        (schedule([]), "schedule.hours must be an object"),  # type: ignore[arg-type]
        ({"timezone": NY}, "exactly 'timezone' and 'hours'"),
        ({"timezone": NY, "hours": {}, "x": 1}, "exactly 'timezone' and 'hours'"),
        ("always", "must be an object"),
    ],
)
def test_a_bad_schedule_is_refused_with_a_clear_message(raw: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_schedule(raw)


def test_more_than_seven_days_is_refused() -> None:
    days = {d: [["09:00", "10:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    with pytest.raises(InvalidInput):
        parse_schedule(schedule({**days, "hol": [["09:00", "10:00"]]}))


def test_intervals_are_half_open_on_the_zones_wall_clock() -> None:
    office = parse_schedule(schedule({"mon": [["09:00", "17:00"]]}))
    # 2026-12-07 is a Monday; New York is UTC-5 in December.
    assert not is_open(office, at("2026-12-07T08:59:59-05:00"))
    assert is_open(office, at("2026-12-07T09:00:00-05:00"))
    assert is_open(office, at("2026-12-07T16:59:59-05:00"))
    assert not is_open(office, at("2026-12-07T17:00:00-05:00"))
    # Monday 10:00 in Tokyo is Sunday evening in New York: closed.
    assert not is_open(office, at("2026-12-07T10:00:00+09:00"))
    assert is_open(None, at("2026-12-07T03:00:00+00:00"))


def test_24_00_ends_the_day() -> None:
    late = parse_schedule(schedule({"mon": [["22:00", "24:00"]]}))
    assert is_open(late, at("2026-12-07T23:59:59-05:00"))
    assert not is_open(late, at("2026-12-08T00:00:00-05:00"))  # Tuesday


def test_the_hour_skipped_in_spring_has_no_open_instant() -> None:
    # 2026-03-08, Sunday: New York goes from 01:59:59 EST (UTC-5) to 03:00:00 EDT (UTC-4).
    skipped = parse_schedule(schedule({"sun": [["02:00", "03:00"]]}))
    after = parse_schedule(schedule({"sun": [["03:00", "04:00"]]}))
    before_jump = datetime(2026, 3, 8, 6, 59, 59, tzinfo=UTC)  # 01:59:59 EST
    jump = datetime(2026, 3, 8, 7, 0, 0, tzinfo=UTC)  # 03:00:00 EDT
    two_thirty_wall = datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # "02:30" EST = 03:30 EDT
    for instant in (before_jump, jump, two_thirty_wall):
        assert not is_open(skipped, instant)
    assert not is_open(after, before_jump)
    assert is_open(after, jump)
    assert is_open(after, two_thirty_wall)


def test_both_instants_of_the_hour_repeated_in_autumn_are_open() -> None:
    # 2026-11-01, Sunday: 01:00-02:00 happens twice, first EDT (UTC-4), then EST (UTC-5).
    repeated = parse_schedule(schedule({"sun": [["01:00", "02:00"]]}))
    first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    second = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST
    after = datetime(2026, 11, 1, 7, 0, tzinfo=UTC)  # 02:00 EST
    assert is_open(repeated, first)
    assert is_open(repeated, second)
    assert not is_open(repeated, after)
