"""The fairness page (SPEC §13): per level, each subscription's sales over a chosen window
against its fair share, with the spread and Jain's index, through ``services.fairness``."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from leadflow.api.deps import Tx
from leadflow.console import forms
from leadflow.console.forms import Filter
from leadflow.console.render import render
from leadflow.console.web import AdminViewer
from leadflow.domain.errors import InvalidInput
from leadflow.services import catalog_admin, fairness
from leadflow.services.pages import PageRequest

router = APIRouter(prefix="/console")
DayText = Annotated[str | None, Query(alias="from", max_length=40)]
UntilText = Annotated[str | None, Query(alias="to", max_length=40)]


def _day(value: str, name: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{name} must be a day like 2026-01-31") from None


@router.get("/fairness")
def fairness_page(
    request: Request,
    viewer: AdminViewer,
    tx: Tx,
    niche_id: Filter = None,
    since: DayText = None,
    until: UntilText = None,
) -> Response:
    niches = catalog_admin.list_niches(tx, page=PageRequest(limit=200)).items
    chosen = forms.optional_uuid(niche_id) or (niches[0].id if niches else None)
    errors: dict[str, str] = {}
    days: dict[str, date | None] = {}
    for field, value, label in (("from", since, "From"), ("to", until, "To")):
        try:
            days[field] = _day(value or "", label)
        except InvalidInput as exc:
            errors[field] = exc.detail
    report = None
    if chosen is not None and not errors:
        report = fairness.level_fairness(
            tx, niche_id=chosen, level_id=None, since=days["from"], until=days["to"]
        )
    return render(
        request,
        "fairness.html",
        viewer=viewer,
        status_code=422 if errors else 200,
        niches=niches,
        niche_id=str(chosen or ""),
        since=since or (report.since.isoformat() if report else ""),
        until=until or (report.until.isoformat() if report else ""),
        errors=errors,
        report=report,
    )
