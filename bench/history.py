"""The comparison ``python -m bench`` prints: each row's ratio against the same row in the
previous summary that has it (``bench/results/summary-<UTC time>.json``), on one line."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import common, cpu


def _summaries() -> list[dict[str, Any]]:
    """The summaries written so far, newest first (unreadable ones left out)."""
    found = []
    for path in sorted(common.RESULTS.glob("summary-2*.json"), reverse=True):
        try:
            found.append(json.loads(Path(path).read_text()))
        except (OSError, ValueError):
            continue
    return found


def compare(rows: Sequence[common.Row], *, quick: bool) -> str:
    """``vs previous: P1 1.15 -> 1.20 (20261203T1012Z, full), P2 ... ; load then ...``: each
    row against the newest summary holding it, preferring one of the same kind (quick or
    full); call it before this run's summary is written."""
    summaries = _summaries()
    same_kind = [s for s in summaries if bool(s.get("quick")) == quick]
    parts = []
    loads: dict[str, dict[str, Any]] = {}
    for row in rows:
        for summary in [*same_kind, *summaries]:
            before = next((r for r in summary.get("rows", []) if r.get("id") == row.id), None)
            if before is None:
                continue
            kind = "quick" if summary.get("quick") else "full"
            parts.append(
                f"{row.id} {common.fmt(before.get('ratio'), 2)} -> {common.fmt(row.ratio, 2)} "
                f"({summary.get('at')}, {kind})"
            )
            if "load" in summary:
                loads[str(summary.get("at"))] = summary["load"]
            break
        else:
            parts.append(f"{row.id} new")
    if not parts:
        return "vs previous: no rows"
    line = "vs previous: " + ", ".join(parts)
    if loads:
        newest = max(loads)
        line += f"; {newest}: {cpu.describe(loads[newest])}"
    return line
