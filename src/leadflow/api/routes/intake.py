"""Public lead intake and confirmation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response, status

from leadflow.api.deps import ClientAddress, Context, Tx
from leadflow.api.routes.common import API_PREFIX, errors
from leadflow.api.schemas.leads import ConfirmIn, IdempotencyKey, LeadCreatedOut, LeadIn
from leadflow.domain.consent import Consent
from leadflow.services import intake

router = APIRouter(prefix=f"{API_PREFIX}/leads", tags=["intake"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=LeadCreatedOut,
    # ``duplicate_of`` only on a duplicate: other answers stay ``{id, status}`` (SPEC §5).
    response_model_exclude_none=True,
    responses={
        200: {
            "model": LeadCreatedOut,
            "description": "The same ``Idempotency-Key`` and body within 24 h: the first "
            "answer again (same id and status); nothing new was stored.",
        },
        **errors(409, 422, 429),
    },
)
async def submit_lead(
    body: LeadIn,
    context: Context,
    address: ClientAddress,
    response: Response,
    idempotency_key: Annotated[
        IdempotencyKey | None,
        Header(
            alias="Idempotency-Key",
            description="Makes a retry safe: the same key with the same body within 24 h "
            "answers the first request's result with 200 and stores nothing; with another "
            "body, 409. Use a fresh random value (a UUID) per lead.",
        ),
    ] = None,
) -> LeadCreatedOut:
    """Submit a lead into an active niche (by slug). ``pending_confirmation`` when the niche
    requires confirmation (a token is mailed), else ``pending_approval``; ``duplicate`` (with
    ``duplicate_of``) when the niche already has a lead of the same phone or e-mail within its
    ``duplicate_window_days``: stored, never distributed unless an admin approves it."""
    consent = body.consent
    form = intake.LeadForm(
        niche=body.niche,
        name=body.name,
        email=body.email,
        phone=body.phone,
        postal_code=body.postal_code,
        attributes=body.attributes,
        consent=None
        if consent is None
        else Consent(
            text=consent.text,
            version=consent.version,
            captured_at=consent.captured_at,
            ip=consent.ip,
            user_agent=consent.user_agent,
            page_url=consent.page_url,
            certificate_url=consent.certificate_url,
        ),
    )
    result = await intake.submit_lead_async(
        context.pool,
        context.autocommit_pool,
        form=form,
        client_address=address,
        rate=context.intake_rate,
        regions=context.niche_regions,
        idempotency_key=idempotency_key,
        body_sha256=None
        if idempotency_key is None
        else intake.body_digest(body.model_dump(mode="json")),
    )
    if result.replayed:
        response.status_code = status.HTTP_200_OK
    return LeadCreatedOut(id=result.id, status=result.status, duplicate_of=result.duplicate_of)


@router.post(
    "/confirm",
    response_model=LeadCreatedOut,
    response_model_exclude_none=True,
    responses=errors(404),
)
def confirm_lead(body: ConfirmIn, tx: Tx) -> LeadCreatedOut:
    """Confirm a lead with the token from its confirmation mail."""
    result = intake.confirm_lead(tx, token=body.token)
    return LeadCreatedOut(id=result.id, status=result.status)
