"""Admin reads the console needs too: a run's trace, a lead's runs, the subscriptions, the
daily report, the fairness figures."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import StringConstraints, WithJsonSchema

from leadflow.api.deps import Paging, Tx, current_admin
from leadflow.api.routes.common import API_PREFIX, errors, page_out
from leadflow.api.schemas.base import PageOut
from leadflow.api.schemas.reports import (
    DailyReportOut,
    DayOut,
    FairnessOut,
    FairShareOut,
    LevelFairnessOut,
    LevelTraceOut,
    RunOut,
    SubscriptionViewOut,
    TraceEntryOut,
)
from leadflow.domain.errors import InvalidInput
from leadflow.domain.model import SubscriptionStatus
from leadflow.services import catalog_admin, fairness, reports, runs

router = APIRouter(prefix=f"{API_PREFIX}/admin", dependencies=[Depends(current_admin)])


# A calendar day as written in ISO 8601; a number is not a day.
Day = Annotated[
    str,
    StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$"),
    WithJsonSchema({"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}),
]


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{value} is not a calendar day (YYYY-MM-DD)") from None


def _run(trace: runs.RunTrace) -> RunOut:
    r = trace.run
    return RunOut(
        id=r.id,
        lead_id=r.lead_id,
        niche_id=r.niche_id,
        status=str(r.status),
        trigger=r.trigger,
        sale_round=r.sale_round,
        triggered_by_role=r.triggered_by_role,
        triggered_by_actor_id=r.triggered_by_actor_id,
        job_id=r.job_id,
        start_level_order_position=r.start_level_order_position,
        traversal_order=list(r.traversal_order),
        assignments_created=r.assignments_created,
        skipped_total=r.skipped_total,
        started_at=r.started_at,
        finished_at=r.finished_at,
        duration_ms=r.duration_ms,
        error=r.error,
        levels=[
            LevelTraceOut(
                level_id=lv.level_id,
                level_name=lv.level_name,
                order_position=lv.order_position,
                entries=[TraceEntryOut.model_validate(e) for e in lv.entries],
                order=lv.order,
                note=lv.note,
            )
            for lv in trace.levels
        ],
    )


@router.get("/runs/{run_id}", response_model=RunOut, tags=["admin: distribution"])
def get_run(run_id: UUID, tx: Tx) -> RunOut:
    """A distribution run with its trace: per level in traversal order, the providers sold to
    (in the order of the sales) and those skipped, with the reason."""
    return _run(runs.get_run(tx, run_id=run_id))


@router.get(
    "/leads/{lead_id}/runs",
    response_model=list[RunOut],
    tags=["admin: distribution"],
)
def lead_runs(lead_id: UUID, tx: Tx) -> list[RunOut]:
    """The lead's runs with their traces, newest first (the last 50)."""
    return [_run(t) for t in runs.lead_runs(tx, lead_id=lead_id)]


@router.get(
    "/subscriptions",
    response_model=PageOut[SubscriptionViewOut],
    tags=["admin: catalog"],
)
def list_subscriptions(
    tx: Tx,
    paging: Paging,
    provider_id: UUID | None = None,
    competition_level_id: UUID | None = None,
    niche_id: UUID | None = None,
    sub_status: Annotated[SubscriptionStatus | None, Query(alias="status")] = None,
) -> PageOut[SubscriptionViewOut]:
    """Subscriptions with provider, level and niche names, oldest first."""
    page = catalog_admin.list_subscriptions(
        tx,
        provider_id=provider_id,
        level_id=competition_level_id,
        niche_id=niche_id,
        status=sub_status,
        page=paging,
    )
    return page_out(page, SubscriptionViewOut.model_validate)


@router.get(
    "/reports/daily",
    response_model=DailyReportOut,
    tags=["admin: reports"],
)
def daily_report(
    tx: Tx,
    since: Annotated[Day | None, Query(alias="from")] = None,
    until: Annotated[Day | None, Query(alias="to")] = None,
    niche_id: UUID | None = None,
) -> DailyReportOut:
    """Per UTC day ``from``..``to`` (``YYYY-MM-DD``; default the last 30 days, at most 366:
    a longer window keeps its last 366 days): leads received, sales, revenue and refunds, and
    the leads of the window by their status now."""
    report = reports.daily(tx, since=_day(since), until=_day(until), niche_id=niche_id)
    return DailyReportOut(
        since=report.since,
        until=report.until,
        niche_id=report.niche_id,
        leads_by_status=report.leads_by_status,
        sales=report.sales,
        revenue_cents=report.revenue_cents,
        refunds_cents=report.refunds_cents,
        days=[DayOut.model_validate(d) for d in report.days],
    )


@router.get(
    "/fairness",
    response_model=FairnessOut,
    responses=errors(404),
    tags=["admin: reports"],
)
def fairness_report(
    tx: Tx,
    niche_id: UUID,
    competition_level_id: UUID | None = None,
    since: Annotated[Day | None, Query(alias="from")] = None,
    until: Annotated[Day | None, Query(alias="to")] = None,
) -> FairnessOut:
    """Per level of the niche (or only ``competition_level_id``), each subscription's sales in
    the UTC days ``from``..``to`` (as the daily report's window) against its fair share (an
    equal share of the level's sales among the subscriptions that could sell in the window:
    created before its end and active now, or with a sale in it), the largest deviation, the
    spread (largest minus smallest deviation) and Jain's index (1 = perfectly fair, 1/n = one
    took everything; null for a level without subscriptions)."""
    report = fairness.level_fairness(
        tx,
        niche_id=niche_id,
        level_id=competition_level_id,
        since=_day(since),
        until=_day(until),
    )
    return FairnessOut(
        niche_id=report.niche.id,
        since=report.since,
        until=report.until,
        levels=[
            LevelFairnessOut(
                level_id=lv.level.id,
                level_name=lv.level.name,
                order_position=lv.level.order_position,
                sales=lv.figures.sales,
                max_deviation=lv.figures.max_deviation,
                spread=lv.figures.spread,
                jain_index=lv.figures.jain_index,
                subscriptions=[
                    FairShareOut(
                        subscription_id=s.subscription.subscription_id,
                        provider_id=s.subscription.provider_id,
                        provider_name=s.subscription.provider_name,
                        status=str(s.subscription.status),
                        weight=s.share.weight,
                        sales=s.share.sales,
                        fair_share=s.share.fair_share,
                        deviation=s.share.deviation,
                    )
                    for s in lv.subscriptions
                ],
            )
            for lv in report.levels
        ],
    )
