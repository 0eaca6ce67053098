"""Catalog pages: providers (create, balance, deposit, adjustment, suspend, ledger, and their
webhook endpoints, whose forms are in ``pages_endpoints``)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, Request, Response

from leadflow.api.deps import Context, Tx
from leadflow.console import forms, web
from leadflow.console.forms import PAGE_SIZE, Filter, PageNo, Text
from leadflow.console.render import keyset_pager, pager, render
from leadflow.console.web import AdminViewer
from leadflow.domain.model import ProviderStatus
from leadflow.services import billing, catalog_admin, webhooks
from leadflow.services.pages import Cursor, PageRequest

router = APIRouter(prefix="/console")
ALL = PageRequest(limit=200)
IdempotencyKey = Annotated[str, Form(max_length=200)]
FORM_ERRORS = ("error", "adjust_error", "endpoint_errors")


def _providers_page(
    request: Request, viewer: web.Viewer, tx: Tx, page: int, status: str, **form: Any
) -> Response:
    result = catalog_admin.list_providers(
        tx, status=status or None, page=PageRequest(page=page, limit=PAGE_SIZE)
    )
    return render(
        request,
        "providers.html",
        viewer=viewer,
        status_code=422 if form.get("error") else 200,
        providers=result.items,
        pager=pager(request, result),
        statuses=list(ProviderStatus),
        status=status,
        form=form,
    )


@router.get("/providers")
def providers(
    request: Request, viewer: AdminViewer, tx: Tx, page: PageNo = 1, status: Filter = None
) -> Response:
    return _providers_page(request, viewer, tx, page, status or "")


@router.post("/providers", dependencies=[web.Csrf])
def create_provider(
    request: Request,
    viewer: AdminViewer,
    context: Context,
    tx: Tx,
    name: Text = "",
    email: Text = "",
    password: Text = "",
) -> Response:
    return forms.submit(
        tx,
        lambda: catalog_admin.register_provider(
            tx,
            actor=viewer.actor,
            passwords=context.passwords,
            name=name,
            email=email,
            password=password or None,
        ),
        to=lambda detail: f"/console/providers/{detail.provider.id}",
        flash=lambda detail: f"Provider {detail.provider.name} created",
        failed=lambda error: _providers_page(
            request, viewer, tx, 1, "", error=error, name=name, email=email
        ),
    )


def provider_page(
    request: Request,
    viewer: web.Viewer,
    tx: Tx,
    provider_id: UUID,
    cursor: str,
    *,
    new_secret: webhooks.NewSecret | None = None,
    **form: Any,
) -> Response:
    """The provider's page; ``new_secret``: an endpoint's secret just made, shown this once.
    Its ledger reads newest first (``seq DESC``) by keyset, a bigint cursor on ``seq``: a deep
    page of a long ledger costs what the first one does."""
    detail = catalog_admin.get_provider(tx, provider_id=provider_id)
    ledger = catalog_admin.ledger_from(
        tx,
        provider_id=provider_id,
        cursor=Cursor.decode_seq(cursor) if cursor else None,
        limit=PAGE_SIZE,
    )
    subscriptions = catalog_admin.list_subscriptions(
        tx, provider_id=provider_id, level_id=None, niche_id=None, status=None, page=ALL
    )
    return render(
        request,
        "provider.html",
        viewer=viewer,
        status_code=422 if any(form.get(k) for k in FORM_ERRORS) else 200,
        provider=detail.provider,
        subscriptions=subscriptions.items,
        endpoints=webhooks.list_endpoints(tx, provider_id=provider_id, page=ALL).items,
        endpoint_niches=forms.niche_choices(subscriptions.items),
        new_secret=new_secret,
        ledger=ledger.items,
        pager=keyset_pager(request, ledger),
        idempotency_key=uuid.uuid4().hex,
        adjustment_key=uuid.uuid4().hex,
        form=form,
    )


@router.get("/providers/{provider_id}")
def provider(
    request: Request, provider_id: UUID, viewer: AdminViewer, tx: Tx, cursor: Filter = None
) -> Response:
    return provider_page(request, viewer, tx, provider_id, cursor or "")


def _balance(result: billing.Posted) -> str:
    return f"balance {result.balance_cents / 100:,.2f} dollars"


@router.post("/providers/{provider_id}/deposits", dependencies=[web.Csrf])
def deposit(
    request: Request,
    provider_id: UUID,
    viewer: AdminViewer,
    tx: Tx,
    amount: Text = "",
    note: Text = "",
    idempotency_key: IdempotencyKey = "",
) -> Response:
    """The form carries a fresh idempotency key, so a double submit credits once."""
    return forms.submit(
        tx,
        lambda: billing.deposit(
            tx,
            actor=viewer.actor,
            provider_id=provider_id,
            amount_cents=forms.dollars_to_cents(amount, "amount"),
            idempotency_key=idempotency_key or None,
            note=note or None,
        ),
        to=f"/console/providers/{provider_id}",
        flash=lambda result: f"Deposit recorded; {_balance(result)}",
        failed=lambda error: provider_page(
            request, viewer, tx, provider_id, "", error=error, amount=amount, note=note
        ),
    )


@router.post("/providers/{provider_id}/adjustments", dependencies=[web.Csrf])
def adjust(
    request: Request,
    provider_id: UUID,
    viewer: AdminViewer,
    tx: Tx,
    amount: Text = "",
    reason: Text = "",
    idempotency_key: IdempotencyKey = "",
) -> Response:
    """A signed correction with its reason (SPEC §9); a debit the balance does not cover is
    refused with nothing written. The form's fresh key makes a double submit post once."""
    return forms.submit(
        tx,
        lambda: billing.adjust(
            tx,
            actor=viewer.actor,
            provider_id=provider_id,
            amount_cents=forms.signed_dollars_to_cents(amount, "amount"),
            reason=reason,
            idempotency_key=idempotency_key or None,
        ),
        to=f"/console/providers/{provider_id}",
        flash=lambda result: f"Adjustment recorded; {_balance(result)}",
        failed=lambda error: provider_page(
            request,
            viewer,
            tx,
            provider_id,
            "",
            adjust_error=error,
            adjust_amount=amount,
            adjust_reason=reason,
        ),
    )


@router.post("/providers/{provider_id}/status", dependencies=[web.Csrf])
def set_provider_status(
    provider_id: UUID, viewer: AdminViewer, tx: Tx, status: Text = ""
) -> Response:
    """Suspend (its users' sessions are revoked) or reactivate a provider."""
    return forms.submit(
        tx,
        lambda: catalog_admin.update_provider(
            tx, actor=viewer.actor, provider_id=provider_id, changes={"status": status}
        ),
        to=f"/console/providers/{provider_id}",
        flash=f"Provider is now {status}",
    )
