"""A distribution run's trace as an operator reads it: start level, traversal order, and per
level the providers sold to (in the order of the sales) and those skipped, with the reason."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from leadflow.db import lead_views
from leadflow.db import runs as db
from leadflow.db.connection import Connection
from leadflow.domain.errors import NotFound, found
from leadflow.domain.results import Preview
from leadflow.services import distribution

MAX_RUNS = 50


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One provider a level's walk reached: ``sold`` (with the price), or skipped (``reason``)."""

    provider_id: UUID
    provider_name: str
    subscription_id: UUID
    outcome: str  # "sold" or the skip reason
    price_cents: int | None = None
    assignment_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class LevelTrace:
    level_id: UUID
    level_name: str
    order_position: int | None
    entries: list[TraceEntry]
    # SPEC §12: how the level ordered its candidates (``lru`` or ``weighted``), and why, when
    # that is worth saying (weighted, or switched since the level's previous run).
    order: str = "lru"
    note: str | None = None


def order_note(weighted: bool, switched: bool) -> str | None:
    """The trace's explanation of a level's order (SPEC §12)."""
    if weighted and switched:
        return (
            "Weights now differ: smooth weighted round-robin from this run on; every credit "
            "started at 0."
        )
    if weighted:
        return "Weights differ: smooth weighted round-robin (highest credit first, ties by LRU)."
    if switched:
        return "Weights are equal again: least recently served first (LRU), credits unused."
    return None


@dataclass(frozen=True, slots=True)
class RunTrace:
    run: db.RunRow
    levels: list[LevelTrace]

    @property
    def sold(self) -> int:
        return sum(1 for lv in self.levels for e in lv.entries if e.outcome == "sold")


def get_run(tx: Connection, *, run_id: UUID) -> RunTrace:
    run = found(db.get_run(tx, run_id), "distribution run", run_id)
    return _traces(tx, [run])[0]


def lead_runs(tx: Connection, *, lead_id: UUID) -> list[RunTrace]:
    """The lead's runs with their traces, newest first (at most ``MAX_RUNS``)."""
    if not lead_views.lead_exists(tx, lead_id):
        raise NotFound("lead", lead_id)
    return _traces(tx, db.lead_runs(tx, lead_id, limit=MAX_RUNS))


def _traces(tx: Connection, runs: list[db.RunRow]) -> list[RunTrace]:
    sales: dict[UUID, list[db.RunSale]] = {}
    for run_id, sale in db.run_sales(tx, [r.id for r in runs]):
        sales.setdefault(run_id, []).append(sale)
    level_ids = {lv for r in runs for lv in r.traversal_order}
    level_ids |= {UUID(s["level_id"]) for r in runs for s in r.skipped}
    levels = db.level_names(tx, list(level_ids))
    providers = db.provider_names(
        tx, list({UUID(s["provider_id"]) for r in runs for s in r.skipped})
    )
    return [_trace(run, sales.get(run.id, []), levels, providers) for run in runs]


def _trace(
    run: db.RunRow,
    sales: list[db.RunSale],
    levels: dict[UUID, tuple[str, int]],
    providers: dict[UUID, str],
) -> RunTrace:
    order = list(run.traversal_order)
    entries: dict[UUID, list[TraceEntry]] = {lv: [] for lv in order}
    for sale in sales:
        entries.setdefault(sale.competition_level_id, []).append(
            TraceEntry(
                provider_id=sale.provider_id,
                provider_name=sale.provider_name,
                subscription_id=sale.subscription_id,
                outcome="sold",
                price_cents=sale.price_charged_cents,
                assignment_id=sale.assignment_id,
            )
        )
    for skip in run.skipped:
        provider_id = UUID(skip["provider_id"])
        entries.setdefault(UUID(skip["level_id"]), []).append(
            TraceEntry(
                provider_id=provider_id,
                provider_name=providers.get(provider_id, str(provider_id)),
                subscription_id=UUID(skip["subscription_id"]),
                outcome=str(skip["reason"]),
            )
        )
    rules = {
        UUID(r["level_id"]): (r["order"] == "weighted", bool(r["switched"]))
        for r in run.level_rules
    }
    return RunTrace(run=run, levels=_levels(entries, levels, rules))


@dataclass(frozen=True, slots=True)
class PreviewTrace:
    """What a distribution would do now, laid out like a run's trace; nothing is written."""

    preview: Preview
    levels: list[LevelTrace]


def preview(tx: Connection, *, lead_id: UUID) -> PreviewTrace:
    found = distribution.preview_distribution(tx, lead_id=lead_id)
    providers = {s.provider_id for s in found.selections} | {s.provider_id for s in found.skipped}
    names = db.provider_names(tx, list(providers))
    level_ids = set(found.traversal_order) | {s.level_id for s in found.skipped}
    levels = db.level_names(tx, list(level_ids))
    entries: dict[UUID, list[TraceEntry]] = {lv: [] for lv in found.traversal_order}
    for sel in found.selections:
        entries.setdefault(sel.competition_level_id, []).append(
            TraceEntry(
                provider_id=sel.provider_id,
                provider_name=names.get(sel.provider_id, str(sel.provider_id)),
                subscription_id=sel.subscription_id,
                outcome="sold",
                price_cents=sel.price_cents,
            )
        )
    for skip in found.skipped:
        entries.setdefault(skip.level_id, []).append(
            TraceEntry(
                provider_id=skip.provider_id,
                provider_name=names.get(skip.provider_id, str(skip.provider_id)),
                subscription_id=skip.subscription_id,
                outcome=str(skip.reason),
            )
        )
    rules = {r.level_id: (r.weighted, r.switched) for r in found.level_rules}
    return PreviewTrace(preview=found, levels=_levels(entries, levels, rules))


def _levels(
    entries: dict[UUID, list[TraceEntry]],
    levels: dict[UUID, tuple[str, int]],
    rules: dict[UUID, tuple[bool, bool]],
) -> list[LevelTrace]:
    return [
        LevelTrace(
            level_id=level_id,
            level_name=levels[level_id][0] if level_id in levels else str(level_id),
            order_position=levels[level_id][1] if level_id in levels else None,
            entries=items,
            order="weighted" if rules.get(level_id, (False, False))[0] else "lru",
            note=order_note(*rules.get(level_id, (False, False))),
        )
        for level_id, items in entries.items()
    ]
