"""Catalog pages: subscriptions (filter, create, pause, cancel, resume) and a subscription's
delivery rules (SPEC §12: schedule, caps, budgets, weight)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response

from leadflow.api.deps import Tx
from leadflow.console import forms, web
from leadflow.console.forms import PAGE_SIZE, Filter, Text
from leadflow.console.render import keyset_pager, local_path, render
from leadflow.console.web import AdminViewer
from leadflow.domain.errors import InvalidInput
from leadflow.domain.model import SubscriptionStatus
from leadflow.services import catalog, catalog_admin
from leadflow.services.pages import Cursor, PageRequest

router = APIRouter(prefix="/console")
ALL = PageRequest(limit=200)


def _subscriptions_page(
    request: Request,
    viewer: web.Viewer,
    tx: Tx,
    *,
    cursor: str,
    status: str,
    provider_id: str,
    niche_id: str,
    **form: Any,
) -> Response:
    """Newest first (``created_at DESC, id``), by keyset along an index in that order: a deep
    page of a marketplace's 100,000 subscriptions costs what the first one does."""
    result = catalog_admin.subscriptions_from(
        tx,
        provider_id=forms.optional_uuid(provider_id),
        level_id=None,
        niche_id=forms.optional_uuid(niche_id),
        status=status or None,
        cursor=Cursor.decode(cursor) if cursor else None,
        limit=PAGE_SIZE,
    )
    niche_list = catalog_admin.list_niches(tx, page=ALL).items
    levels = [
        (n, lv) for n in niche_list for lv in catalog_admin.get_niche(tx, niche_id=n.id).levels
    ]
    return render(
        request,
        "subscriptions.html",
        viewer=viewer,
        status_code=422 if form.get("error") else 200,
        subscriptions=result.items,
        pager=keyset_pager(request, result),
        statuses=list(SubscriptionStatus),
        niches=niche_list,
        levels=levels,
        providers=catalog_admin.list_providers(tx, status=None, page=ALL).items,
        status=status,
        provider_id=provider_id,
        niche_id=niche_id,
        form=form,
    )


@router.get("/subscriptions")
def subscriptions(
    request: Request,
    viewer: AdminViewer,
    tx: Tx,
    cursor: Filter = None,
    status: Filter = None,
    provider_id: Filter = None,
    niche_id: Filter = None,
) -> Response:
    return _subscriptions_page(
        request,
        viewer,
        tx,
        cursor=cursor or "",
        status=status or "",
        provider_id=provider_id or "",
        niche_id=niche_id or "",
    )


@router.post("/subscriptions", dependencies=[web.Csrf])
def create_subscription(
    request: Request,
    viewer: AdminViewer,
    tx: Tx,
    provider_id: Text = "",
    competition_level_id: Text = "",
    postal_codes: Text = "",
    daily_cap: Text = "",
    monthly_cap: Text = "",
    hourly_cap: Text = "",
    weekly_cap: Text = "",
    daily_budget: Text = "",
    monthly_budget: Text = "",
    weight: Text = "",
    timezone: Text = "",
    hours: Text = "",
) -> Response:
    typed = _typed_rules(
        hourly_cap,
        daily_cap,
        weekly_cap,
        monthly_cap,
        daily_budget,
        monthly_budget,
        weight,
        timezone,
        hours,
    )

    def create() -> object:
        provider = forms.optional_uuid(provider_id)
        level = forms.optional_uuid(competition_level_id)
        if provider is None or level is None:
            raise InvalidInput("choose a provider and a level")
        return catalog.create_subscription(
            tx,
            actor=viewer.actor,
            provider_id=provider,
            competition_level_id=level,
            postal_codes=forms.codes(postal_codes),
            **_rules(**typed),
        )

    return forms.submit(
        tx,
        create,
        to="/console/subscriptions",
        flash="Subscription created",
        failed=lambda error: _subscriptions_page(
            request,
            viewer,
            tx,
            cursor="",
            status="",
            provider_id="",
            niche_id="",
            error=error,
            provider=provider_id,
            level=competition_level_id,
            postal_codes=postal_codes,
            **typed,
        ),
    )


def _typed_rules(
    hourly_cap: str,
    daily_cap: str,
    weekly_cap: str,
    monthly_cap: str,
    daily_budget: str,
    monthly_budget: str,
    weight: str,
    timezone: str,
    hours: str,
) -> dict[str, str]:
    """The rule fields as typed, by name: what ``_rules`` reads and a failed form shows again."""
    return {
        "hourly_cap": hourly_cap,
        "daily_cap": daily_cap,
        "weekly_cap": weekly_cap,
        "monthly_cap": monthly_cap,
        "daily_budget": daily_budget,
        "monthly_budget": monthly_budget,
        "weight": weight,
        "timezone": timezone,
        "hours": hours,
    }


def _rules(
    hourly_cap: str,
    daily_cap: str,
    weekly_cap: str,
    monthly_cap: str,
    daily_budget: str,
    monthly_budget: str,
    weight: str,
    timezone: str,
    hours: str,
) -> dict[str, Any]:
    """A subscription's caps, budgets (typed in dollars), weight and schedule as typed in a
    form: empty means none (weight: 1)."""
    return {
        "hourly_cap": forms.integer(hourly_cap, "hourly cap", required=False),
        "daily_cap": forms.integer(daily_cap, "daily cap", required=False),
        "weekly_cap": forms.integer(weekly_cap, "weekly cap", required=False),
        "monthly_cap": forms.integer(monthly_cap, "monthly cap", required=False),
        "daily_budget_cents": _cents(daily_budget, "daily budget"),
        "monthly_budget_cents": _cents(monthly_budget, "monthly budget"),
        "weight": forms.integer(weight, "weight", required=False) or 1,
        "schedule": forms.schedule(timezone, hours),
    }


def _cents(value: str, name: str) -> int | None:
    return forms.dollars_to_cents(value, name) if value.strip() else None


def _subscription_page(
    request: Request,
    viewer: web.Viewer,
    tx: Tx,
    subscription_id: UUID,
    **form: Any,
) -> Response:
    subscription = catalog_admin.get_subscription(tx, subscription_id=subscription_id)
    return render(
        request,
        "subscription.html",
        viewer=viewer,
        status_code=422 if form.get("error") else 200,
        s=subscription,
        provider=catalog_admin.get_provider(tx, provider_id=subscription.provider_id).provider,
        form=form,
    )


@router.get("/subscriptions/{subscription_id}")
def subscription(request: Request, viewer: AdminViewer, tx: Tx, subscription_id: UUID) -> Response:
    """One subscription's delivery rules, with a form to change them."""
    return _subscription_page(request, viewer, tx, subscription_id)


@router.post("/subscriptions/{subscription_id}", dependencies=[web.Csrf])
def update_subscription_rules(
    request: Request,
    viewer: AdminViewer,
    tx: Tx,
    subscription_id: UUID,
    daily_cap: Text = "",
    monthly_cap: Text = "",
    hourly_cap: Text = "",
    weekly_cap: Text = "",
    daily_budget: Text = "",
    monthly_budget: Text = "",
    weight: Text = "",
    timezone: Text = "",
    hours: Text = "",
) -> Response:
    typed = _typed_rules(
        hourly_cap,
        daily_cap,
        weekly_cap,
        monthly_cap,
        daily_budget,
        monthly_budget,
        weight,
        timezone,
        hours,
    )
    return forms.submit(
        tx,
        lambda: catalog_admin.update_subscription(
            tx,
            actor=viewer.actor,
            subscription_id=subscription_id,
            changes=_rules(**typed),
        ),
        to=f"/console/subscriptions/{subscription_id}",
        flash="Delivery rules saved",
        failed=lambda error: _subscription_page(
            request, viewer, tx, subscription_id, error=error, **typed
        ),
    )


@router.post("/subscriptions/{subscription_id}/status", dependencies=[web.Csrf])
def set_subscription_status(
    subscription_id: UUID,
    viewer: AdminViewer,
    tx: Tx,
    status: Text = "",
    back: Text = "",
) -> Response:
    return forms.submit(
        tx,
        lambda: catalog_admin.update_subscription(
            tx, actor=viewer.actor, subscription_id=subscription_id, changes={"status": status}
        ),
        to=local_path(back, "/console/subscriptions"),
        flash=lambda sub: f"Subscription is now {sub.status}",
    )
