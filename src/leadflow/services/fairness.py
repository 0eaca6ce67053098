"""Fairness per level over a window of UTC days (SPEC §13): each subscription's sales against
its fair share, the largest deviation, the spread and Jain's index (``domain.fairness``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from leadflow.db import catalog
from leadflow.db import fairness as db
from leadflow.db.connection import Connection
from leadflow.domain import fairness
from leadflow.domain.errors import NotFound, found
from leadflow.services import reports


@dataclass(frozen=True, slots=True)
class SubscriptionShare:
    subscription: db.SubscriptionSales
    share: fairness.Share[UUID]


@dataclass(frozen=True, slots=True)
class LevelFairness:
    level: catalog.LevelRecord
    figures: fairness.Fairness[UUID]
    subscriptions: list[SubscriptionShare]


@dataclass(frozen=True, slots=True)
class FairnessReport:
    niche: catalog.NicheRecord
    since: date
    until: date
    levels: list[LevelFairness]


def level_fairness(
    tx: Connection,
    *,
    niche_id: UUID,
    level_id: UUID | None,
    since: date | None,
    until: date | None,
) -> FairnessReport:
    """Per level of the niche (or the one level), in order: every subscription that could
    sell in the window (``db.fairness.subscription_sales``), its fair share in proportion to
    its current weight (SPEC §12). The window is the daily report's (default the last 30 days, at most 366)."""
    niche = found(catalog.get_niche(tx, niche_id), "niche", niche_id)
    levels = catalog.list_levels(tx, niche_id)
    if level_id is not None:
        levels = [lv for lv in levels if lv.id == level_id]
        if not levels:
            raise NotFound("level", level_id)
    since, until = reports.window(since, until)
    rows = db.subscription_sales(tx, niche_id=niche_id, level_id=level_id, since=since, until=until)
    result = []
    for level in levels:
        subs = [r for r in rows if r.level_id == level.id]
        figures = fairness.fairness(
            {r.subscription_id: r.sales for r in subs},
            {r.subscription_id: float(r.weight) for r in subs},
        )
        result.append(
            LevelFairness(
                level=level,
                figures=figures,
                subscriptions=[
                    SubscriptionShare(r, s) for r, s in zip(subs, figures.shares, strict=True)
                ],
            )
        )
    return FairnessReport(niche=niche, since=since, until=until, levels=result)
