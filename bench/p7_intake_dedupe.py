"""P7 — intake with the duplicate check against a big history: P5's requests/s with 1,000,000
past leads of other consumers in the niche (seeded set-based, with their normalized keys, inside
the 30-day window) ÷ P5's requests/s on an empty database, both in this run on the same server.

Every request is a new consumer, so each one is checked against the history and stored: the
check is two index ranges (``(key, niche_id, created_at)``), whatever the history's size.
Target: >= 0.9. ``--quick``: 100,000 past leads and short loads.
"""

from __future__ import annotations

from typing import Any

from bench import common, p5_intake

PAST_LEADS = 1_000_000
QUICK_PAST_LEADS = 100_000
TARGET = 0.9


def run(server_url: str, *, quick: bool = False) -> common.Row:
    past = QUICK_PAST_LEADS if quick else PAST_LEADS
    empty = p5_intake.measure(server_url, quick=quick, database="bench_p7_empty")
    full = p5_intake.measure(server_url, quick=quick, database="bench_p7_full", past_leads=past)
    clean = all(p5_intake.clean(r) for r in (empty, full))
    row = common.Row.compare(
        "P7",
        f"P5 intake with {past:,} past leads in the niche (duplicate check on)",
        _rps(full),
        "req/s",
        _rps(empty),
        "req/s (P5 on an empty database, same run)",
        at_least=TARGET,
        valid=clean,
        note=(
            f"p50/p99 {full['measured']['p50_ms']:.1f}/{full['measured']['p99_ms']:.1f} ms "
            f"against {empty['measured']['p50_ms']:.1f}/{empty['measured']['p99_ms']:.1f} ms; "
            f"healthz {full['reference']['requests_per_s']:.0f} and "
            f"{empty['reference']['requests_per_s']:.0f} req/s; "
            f"stored {full['stored']} and {empty['stored']}, duplicates "
            f"{full['duplicates']} and {empty['duplicates']}"
        ),
        extra={
            "empty": {k: v for k, v in empty.items() if k != "server"},
            "full": {k: v for k, v in full.items() if k != "server"},
        },
    )
    return common.write_row("p7", row, quick=quick, url=None, server=full["server"])


def _rps(result: dict[str, Any]) -> float:
    return float(result["measured"]["requests_per_s"])


if __name__ == "__main__":
    common.cli(run, __doc__, "100,000 past leads, short loads")
